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
	found, err := LookupAddon(ctx, clusterName, addon)
	return found != nil, err
}

// ExistingAddon is an add-on the cluster runs.
type ExistingAddon struct {
	Version string
	// Configuration is its configuration values (JSON), empty for none.
	Configuration string
	Tags          map[string]string
}

// LookupAddon reads an add-on of an existing cluster; nil when it has none.
func LookupAddon(ctx *pulumi.Context, clusterName, addon string) (*ExistingAddon, error) {
	a, err := awseks.LookupAddon(ctx, &awseks.LookupAddonArgs{ClusterName: clusterName, AddonName: addon})
	switch {
	case err == nil:
		return &ExistingAddon{Version: a.AddonVersion, Configuration: a.ConfigurationValues, Tags: a.Tags}, nil
	case strings.Contains(err.Error(), "ResourceNotFoundException"):
		return nil, nil
	}
	return nil, fmt.Errorf("looking up add-on %s of cluster %s: %w", addon, clusterName, err)
}

// AdoptAddon keeps an add-on the stack did not create as it is: adopted by
// import so that up does not fail creating it, with its own version and
// values, never changed and kept on destroy.
func AdoptAddon(ctx *pulumi.Context, name, clusterName, addon string, existing *ExistingAddon, opts ...pulumi.ResourceOption) (*awseks.Addon, error) {
	in := &awseks.AddonArgs{ClusterName: pulumi.String(clusterName), AddonName: pulumi.String(addon), Tags: pulumi.ToStringMap(existing.Tags)}
	if existing.Version != "" {
		in.AddonVersion = pulumi.String(existing.Version)
	}
	if existing.Configuration != "" {
		in.ConfigurationValues = pulumi.String(existing.Configuration)
	}
	opts = append(opts, pulumi.Import(pulumi.ID(clusterName+":"+addon)), pulumi.RetainOnDelete(true),
		pulumi.IgnoreChanges([]string{"addonVersion", "configurationValues", "tags", "resolveConflictsOnCreate", "resolveConflictsOnUpdate",
			"preserve", "serviceAccountRoleArn", "podIdentityAssociations"}))
	return awseks.NewAddon(ctx, name, in, opts...)
}

// RunsDCGMOnTaintedNodes tells whether node monitoring agent values let
// its DCGM server tolerate every taint.
func RunsDCGMOnTaintedNodes(values string) bool {
	var v struct {
		DCGMAgent struct {
			Tolerations []struct {
				Key      string `json:"key"`
				Operator string `json:"operator"`
			} `json:"tolerations"`
		} `json:"dcgmAgent"`
	}
	if values == "" || json.Unmarshal([]byte(values), &v) != nil {
		return false
	}
	for _, t := range v.DCGMAgent.Tolerations {
		if t.Key == "" && t.Operator == "Exists" {
			return true
		}
	}
	return false
}
