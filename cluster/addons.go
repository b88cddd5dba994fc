package cluster

import (
	"encoding/json"
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
	// Version pins the add-on; empty takes the version EKS picks as the
	// default for the cluster's Kubernetes version.
	Version string
	// Configuration are the add-on's configuration values (its chart's
	// values, checked by EKS against the version's schema).
	Configuration map[string]any
	Tags          map[string]string
}

// NewAddon installs an EKS add-on.
func NewAddon(ctx *pulumi.Context, name string, args *AddonArgs, opts ...pulumi.ResourceOption) (*awseks.Addon, error) {
	in := &awseks.AddonArgs{
		ClusterName: pulumi.String(args.ClusterName),
		AddonName:   pulumi.String(args.Addon),
		Tags:        pulumi.ToStringMap(args.Tags),
	}
	if args.Version != "" {
		in.AddonVersion = pulumi.String(args.Version)
	}
	if args.Configuration != nil {
		values, err := json.Marshal(args.Configuration)
		if err != nil {
			return nil, fmt.Errorf("add-on %s configuration: %w", args.Addon, err)
		}
		in.ConfigurationValues = pulumi.String(string(values))
	}
	return awseks.NewAddon(ctx, name, in, opts...)
}

// NodeMonitoringAgentValues are the eks-node-monitoring-agent add-on's
// configuration values. The agent itself tolerates every taint, its DCGM
// server none; every GPU node of the stack is tainted, so without a
// toleration no DCGM server runs there, the agent reports DCGM errors, and
// node repair replaces healthy GPU nodes.
func NodeMonitoringAgentValues() map[string]any {
	return map[string]any{
		"dcgmAgent": map[string]any{"tolerations": []any{map[string]any{"operator": "Exists"}}},
	}
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
