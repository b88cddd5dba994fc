// Command karpenter-gpu is the Pulumi program that gives an EKS cluster
// GPU capacity on demand with Karpenter. The steps are in package stack.
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"karpenter-gpu/stack"
)

func main() {
	pulumi.Run(stack.Run)
}
