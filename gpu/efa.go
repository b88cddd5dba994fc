package gpu

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"karpenter-gpu/internal/helmrelease"
	"karpenter-gpu/wellknown"
)

// EFADevicePluginValues are the aws-efa-k8s-device-plugin chart values:
// the plugin registers vpc.amazonaws.com/efa on the nodes of the EFA node
// classes, whatever taints their pools add. The chart takes no affinity of
// ours: it builds its node affinity from supportedInstanceLabels (by
// default the instance types AWS lists as EFA-capable), so the node class
// label goes there.
func EFADevicePluginValues(nodeClasses []string) map[string]any {
	return map[string]any{
		"supportedInstanceLabels": map[string]any{
			"keys":   []any{wellknown.LabelEC2NodeClass},
			"values": anyList(nodeClasses),
		},
		"tolerations": []any{map[string]any{"operator": "Exists"}},
	}
}

// EFADevicePluginRelease is the release's name; the chart names its
// DaemonSet and labels its pods (name=…) after it.
const EFADevicePluginRelease = "aws-efa-k8s-device-plugin"

// EFADevicePluginArgs names the node classes with EFA interfaces and the
// chart to install.
type EFADevicePluginArgs struct {
	NodeClasses     []string
	ChartRepository string
	Version         string
}

// NewEFADevicePlugin installs the EFA device plugin DaemonSet in
// kube-system, where AWS's charts expect it.
func NewEFADevicePlugin(ctx *pulumi.Context, name string, args *EFADevicePluginArgs, opts ...pulumi.ResourceOption) (*helmrelease.Release, error) {
	return helmrelease.New(ctx, name, &helmrelease.Args{
		Name:       EFADevicePluginRelease,
		Repository: args.ChartRepository,
		Chart:      "aws-efa-k8s-device-plugin",
		Version:    args.Version,
		Namespace:  pulumi.String("kube-system"),
		Values:     pulumi.ToMap(EFADevicePluginValues(args.NodeClasses)),
	}, opts...)
}
