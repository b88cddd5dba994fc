package gpu

import (
	"fmt"
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"karpenter-gpu/internal/helmrelease"
	"karpenter-gpu/internal/k8sobject"
	"karpenter-gpu/wellknown"
)

// DevicePluginSettings is what the device plugin's values are made from.
type DevicePluginSettings struct {
	// SkipNodeClasses are EC2NodeClasses whose nodes run a device plugin of
	// their own (Bottlerocket's NVIDIA variants).
	SkipNodeClasses []string
	// SharingReplicas are the time-slicing replica counts pools use; each
	// becomes a named configuration that the pool's nodes select by label.
	SharingReplicas []int
}

// NoSharingConfig is the configuration of nodes whose pool does not share.
const NoSharingConfig = "default"

// SharingConfigName names the device plugin configuration that offers each
// GPU replicas times.
func SharingConfigName(replicas int) string {
	return fmt.Sprintf("time-slicing-%d", replicas)
}

// DevicePluginValues are the nvidia-device-plugin chart values.
func DevicePluginValues(s DevicePluginSettings) map[string]any {
	match := []any{map[string]any{"key": wellknown.GPUPresentLabel, "operator": "In", "values": []string{"true"}}}
	if len(s.SkipNodeClasses) > 0 {
		match = append(match, map[string]any{"key": wellknown.LabelEC2NodeClass, "operator": "NotIn", "values": s.SkipNodeClasses})
	}
	values := map[string]any{
		// Only the label every GPU pool sets (the chart also accepts labels
		// from node-feature-discovery, which a fresh Karpenter node lacks),
		// and never beside Bottlerocket's own plugin.
		"affinity": map[string]any{
			"nodeAffinity": map[string]any{
				"requiredDuringSchedulingIgnoredDuringExecution": map[string]any{
					"nodeSelectorTerms": []any{map[string]any{"matchExpressions": match}},
				},
			},
		},
		// Every taint: until the plugin runs, a GPU node never advertises
		// nvidia.com/gpu, Karpenter never marks it initialized and never
		// consolidates it, whatever taints its pool adds.
		"tolerations": []any{map[string]any{"operator": "Exists"}},
	}
	if len(s.SharingReplicas) > 0 {
		configs := map[string]any{NoSharingConfig: "version: v1\n"}
		for _, r := range slices.Compact(slices.Sorted(slices.Values(s.SharingReplicas))) {
			configs[SharingConfigName(r)] = fmt.Sprintf(`version: v1
sharing:
  timeSlicing:
    failRequestsGreaterThanOne: true
    resources:
    - name: %s
      replicas: %d
`, wellknown.GPUResource, r)
		}
		// Nodes pick a configuration with the DevicePluginConfigLabel their
		// pool sets; the rest get the default, which does not share.
		values["config"] = map[string]any{"default": NoSharingConfig, "map": configs}
	}
	return values
}

// DevicePluginArgs configures the NVIDIA device plugin release.
type DevicePluginArgs struct {
	// ChartRepository holds the nvidia-device-plugin chart.
	ChartRepository string
	Version         string
	Namespace       string
	Settings        DevicePluginSettings
}

// DevicePlugin is the plugin's namespace and Helm release.
type DevicePlugin struct {
	pulumi.ResourceState
	Release *helmrelease.Release
}

// NewDevicePlugin installs the NVIDIA device plugin DaemonSet, which
// registers nvidia.com/gpu on each GPU node; Karpenter counts a GPU node as
// initialized only once that resource appears.
func NewDevicePlugin(ctx *pulumi.Context, name string, args *DevicePluginArgs, opts ...pulumi.ResourceOption) (*DevicePlugin, error) {
	d := &DevicePlugin{}
	if err := ctx.RegisterComponentResource("karpenter-gpu:gpu:DevicePlugin", name, d, opts...); err != nil {
		return nil, err
	}
	ns, err := k8sobject.New(ctx, name, map[string]any{
		"apiVersion": "v1",
		"kind":       "Namespace",
		"metadata": map[string]any{
			"name": args.Namespace,
			// The plugin mounts host paths: a cluster that enforces the
			// baseline Pod Security level would reject its pods.
			"labels": map[string]any{wellknown.PodSecurityEnforceLabel: "privileged"},
		},
	}, pulumi.Parent(d))
	if err != nil {
		return nil, err
	}
	d.Release, err = helmrelease.New(ctx, name, &helmrelease.Args{
		Name:       "nvidia-device-plugin",
		Repository: args.ChartRepository,
		Chart:      "nvidia-device-plugin",
		Version:    args.Version,
		Namespace:  ns.Name(),
		Values:     pulumi.ToMap(DevicePluginValues(args.Settings)),
	}, pulumi.Parent(d))
	if err != nil {
		return nil, err
	}
	return d, ctx.RegisterResourceOutputs(d, pulumi.Map{"release": d.Release.Name})
}
