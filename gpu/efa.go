package gpu

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"karpenter-gpu/internal/helmrelease"
	"karpenter-gpu/versions"
	"karpenter-gpu/wellknown"
)

// EFADevicePluginValues are the aws-efa-k8s-device-plugin chart values:
// the plugin registers vpc.amazonaws.com/efa on the nodes of the EFA node
// classes, whatever taints their pools add.
func EFADevicePluginValues(nodeClasses []string) map[string]any {
	return map[string]any{
		"affinity": map[string]any{
			"nodeAffinity": map[string]any{
				"requiredDuringSchedulingIgnoredDuringExecution": map[string]any{
					"nodeSelectorTerms": []any{map[string]any{"matchExpressions": []any{
						map[string]any{"key": wellknown.LabelEC2NodeClass, "operator": "In", "values": nodeClasses},
					}}},
				},
			},
		},
		"tolerations": []any{map[string]any{"operator": "Exists"}},
	}
}

// EFADevicePluginArgs names the node classes with EFA interfaces.
type EFADevicePluginArgs struct {
	NodeClasses []string
}

// NewEFADevicePlugin installs the EFA device plugin DaemonSet in
// kube-system, where AWS's charts expect it.
func NewEFADevicePlugin(ctx *pulumi.Context, name string, args *EFADevicePluginArgs, opts ...pulumi.ResourceOption) (*helmrelease.Release, error) {
	return helmrelease.New(ctx, name, &helmrelease.Args{
		Name:       "aws-efa-k8s-device-plugin",
		Repository: versions.EKSChartsRepository,
		Chart:      "aws-efa-k8s-device-plugin",
		Version:    versions.EFADevicePlugin,
		Namespace:  pulumi.String("kube-system"),
		Values:     pulumi.ToMap(EFADevicePluginValues(args.NodeClasses)),
	}, opts...)
}
