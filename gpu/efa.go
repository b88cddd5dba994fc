package gpu

import (
	helmv3 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

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
func NewEFADevicePlugin(ctx *pulumi.Context, name string, args *EFADevicePluginArgs, opts ...pulumi.ResourceOption) (*helmv3.Release, error) {
	return helmv3.NewRelease(ctx, name, &helmv3.ReleaseArgs{
		Name:           pulumi.String("aws-efa-k8s-device-plugin"),
		Chart:          pulumi.String("aws-efa-k8s-device-plugin"),
		RepositoryOpts: &helmv3.RepositoryOptsArgs{Repo: pulumi.String(versions.EKSChartsRepository)},
		Version:        pulumi.String(versions.EFADevicePlugin),
		Namespace:      pulumi.String("kube-system"),
		Values:         pulumi.ToMap(EFADevicePluginValues(args.NodeClasses)),
	}, opts...)
}
