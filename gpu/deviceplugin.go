package gpu

import (
	"fmt"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	helmv3 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v3"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"karpenter-gpu/versions"
	"karpenter-gpu/wellknown"
)

// DevicePluginSettings is what the device plugin's values are made from.
type DevicePluginSettings struct {
	// SkipNodeClasses are EC2NodeClasses whose nodes run a device plugin of
	// their own (Bottlerocket's NVIDIA variants).
	SkipNodeClasses []string
	// SharingReplicas > 1 advertises each GPU that many times (time-slicing).
	SharingReplicas int
}

// DevicePluginValues are the nvidia-device-plugin chart values.
func DevicePluginValues(s DevicePluginSettings) map[string]any {
	match := []any{map[string]any{"key": wellknown.GPUPresentLabel, "operator": "In", "values": []string{"true"}}}
	if len(s.SkipNodeClasses) > 0 {
		match = append(match, map[string]any{"key": wellknown.LabelEC2NodeClass, "operator": "NotIn", "values": s.SkipNodeClasses})
	}
	values := map[string]any{
		// The chart's default affinity wants labels from node-feature-discovery,
		// which a fresh Karpenter node lacks: select the label GPU pools set.
		"affinity": map[string]any{
			"nodeAffinity": map[string]any{
				"requiredDuringSchedulingIgnoredDuringExecution": map[string]any{
					"nodeSelectorTerms": []any{map[string]any{"matchExpressions": match}},
				},
			},
		},
		"tolerations": []any{
			map[string]any{"key": wellknown.GPUTaintKey, "operator": "Exists", "effect": wellknown.GPUTaintEffect},
			map[string]any{"key": "CriticalAddonsOnly", "operator": "Exists"},
		},
		"priorityClassName": "system-node-critical",
	}
	if s.SharingReplicas > 1 {
		values["config"] = map[string]any{
			"default": "time-slicing",
			"map": map[string]any{"time-slicing": fmt.Sprintf(`version: v1
sharing:
  timeSlicing:
    resources:
    - name: %s
      replicas: %d
`, wellknown.GPUResource, s.SharingReplicas)},
		}
	}
	return values
}

// DevicePluginArgs configures the NVIDIA device plugin release.
type DevicePluginArgs struct {
	Version   string
	Namespace string
	Settings  DevicePluginSettings
}

// DevicePlugin is the plugin's namespace and Helm release.
type DevicePlugin struct {
	pulumi.ResourceState
	Release *helmv3.Release
}

// NewDevicePlugin installs the NVIDIA device plugin DaemonSet, which
// registers nvidia.com/gpu on each GPU node; Karpenter counts a GPU node as
// initialized only once that resource appears.
func NewDevicePlugin(ctx *pulumi.Context, name string, args *DevicePluginArgs, opts ...pulumi.ResourceOption) (*DevicePlugin, error) {
	d := &DevicePlugin{}
	if err := ctx.RegisterComponentResource("karpenter-gpu:gpu:DevicePlugin", name, d, opts...); err != nil {
		return nil, err
	}
	ns, err := corev1.NewNamespace(ctx, name, &corev1.NamespaceArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(args.Namespace)},
	}, pulumi.Parent(d))
	if err != nil {
		return nil, err
	}
	d.Release, err = helmv3.NewRelease(ctx, name, &helmv3.ReleaseArgs{
		Name:           pulumi.String("nvidia-device-plugin"),
		Chart:          pulumi.String("nvidia-device-plugin"),
		RepositoryOpts: &helmv3.RepositoryOptsArgs{Repo: pulumi.String(versions.NvidiaDevicePluginRepository)},
		Version:        pulumi.String(args.Version),
		Namespace:      ns.Metadata.Name().Elem(),
		Values:         pulumi.ToMap(DevicePluginValues(args.Settings)),
	}, pulumi.Parent(d))
	if err != nil {
		return nil, err
	}
	return d, ctx.RegisterResourceOutputs(d, pulumi.Map{"release": d.Release.Name})
}
