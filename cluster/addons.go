package cluster

import (
	"fmt"
	"strings"

	awseks "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// EKS add-ons the stack installs or relies on.
const (
	// PodIdentityAgentAddon runs the agent that hands Pod Identity credentials to pods.
	PodIdentityAgentAddon = "eks-pod-identity-agent"
	// NodeMonitoringAgentAddon reports the node conditions (GPU faults
	// among them) that Karpenter's node repair acts on.
	NodeMonitoringAgentAddon = "eks-node-monitoring-agent"
)

// AddonArgs names an EKS add-on of the cluster.
type AddonArgs struct {
	ClusterName string
	Addon       string
	Tags        map[string]string
}

// NewAddon installs an EKS add-on at the version EKS picks as the default
// for the cluster's Kubernetes version (the add-on follows cluster upgrades
// through EKS; no version is pinned here to drift from it).
func NewAddon(ctx *pulumi.Context, name string, args *AddonArgs, opts ...pulumi.ResourceOption) (*awseks.Addon, error) {
	return awseks.NewAddon(ctx, name, &awseks.AddonArgs{
		ClusterName: pulumi.String(args.ClusterName),
		AddonName:   pulumi.String(args.Addon),
		Tags:        pulumi.ToStringMap(args.Tags),
	}, opts...)
}

// HasAddon tells whether an existing cluster runs the add-on.
func HasAddon(ctx *pulumi.Context, clusterName, addon string) (bool, error) {
	_, err := awseks.LookupAddon(ctx, &awseks.LookupAddonArgs{ClusterName: clusterName, AddonName: addon})
	switch {
	case err == nil:
		return true, nil
	case strings.Contains(err.Error(), "ResourceNotFoundException"):
		return false, nil
	}
	return false, fmt.Errorf("looking up add-on %s of cluster %s: %w", addon, clusterName, err)
}
