// Command gpu-workload deploys a GPU inference server on a pool of a
// karpenter-gpu stack; the program is in package workload.
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"karpenter-gpu/examples/gpu-workload/workload"
)

func main() {
	pulumi.Run(workload.Program)
}
