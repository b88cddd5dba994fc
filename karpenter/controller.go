package karpenter

import (
	"maps"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"karpenter-gpu/config"
	"karpenter-gpu/internal/helmrelease"
	"karpenter-gpu/versions"
	"karpenter-gpu/wellknown"
)

// ReleaseName names the controller release, and through the chart its
// service account, which the IRSA trust and pod identity association name.
const ReleaseName = wellknown.KarpenterServiceAccount

// ControllerSettings is everything the chart values are made from, as
// plain values so that they can be rendered and tested as they are.
type ControllerSettings struct {
	ClusterName     string
	ClusterEndpoint string
	QueueName       string
	RoleARN         string
	Karpenter       config.Karpenter
	// Owner marks what this stack installs (wellknown.OwnerAnnotation), so
	// that a later run tells it from a Karpenter someone else installed.
	Owner string
	// FeatureGates and AWSFeatureGates are settings.featureGates and
	// settings.awsFeatureGates; gates not named keep the chart's defaults.
	FeatureGates, AWSFeatureGates map[string]bool
}

// ControllerValues are the Helm values of the karpenter chart: what differs
// from the chart's defaults, with karpenter.values merged over it. The
// chart's own scheduling (never on a Karpenter node, one replica per host,
// spread over zones, system-cluster-critical) is kept as the chart derives
// it, so that its label selectors always match its pods.
func ControllerValues(s ControllerSettings) map[string]any {
	resources := map[string]any{"cpu": s.Karpenter.CPU, "memory": s.Karpenter.Memory}
	// Named explicitly: the IRSA trust and the pod identity association name it.
	serviceAccount := map[string]any{"name": wellknown.KarpenterServiceAccount}
	if s.Karpenter.Identity == config.IdentityIRSA {
		serviceAccount["annotations"] = map[string]any{wellknown.ServiceAccountRoleAnnotation: s.RoleARN}
	}
	settings := map[string]any{
		"clusterName":       s.ClusterName,
		"clusterEndpoint":   s.ClusterEndpoint,
		"interruptionQueue": s.QueueName,
	}
	for key, gates := range map[string]map[string]bool{"featureGates": s.FeatureGates, "awsFeatureGates": s.AWSFeatureGates} {
		if len(gates) > 0 {
			values := map[string]any{}
			for name, on := range gates {
				values[name] = on
			}
			settings[key] = values
		}
	}
	values := map[string]any{
		"additionalAnnotations": OwnerAnnotations(s.Owner),
		"settings":              settings,
		"serviceAccount":        serviceAccount,
		"replicas":              s.Karpenter.Replicas,
		"logLevel":              s.Karpenter.LogLevel,
		// Requests equal limits: the controller is never throttled or evicted first.
		"controller": map[string]any{
			"resources": map[string]any{"requests": resources, "limits": maps.Clone(resources)},
		},
	}
	return MergeValues(values, s.Karpenter.Values)
}

// OwnerAnnotations are the charts' additionalAnnotations: both put them on
// what they install (the controller Deployment, the CRDs).
func OwnerAnnotations(owner string) map[string]any {
	return map[string]any{wellknown.OwnerAnnotation: owner}
}

// MergeValues merges over into base the way Helm merges values files:
// objects key by key, anything else replaced.
func MergeValues(base, over map[string]any) map[string]any {
	out := maps.Clone(base)
	for k, v := range over {
		if vm, ok := v.(map[string]any); ok {
			if bm, ok := out[k].(map[string]any); ok {
				out[k] = MergeValues(bm, vm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// ControllerArgs configures the two Karpenter releases.
type ControllerArgs struct {
	Settings ControllerSettings // endpoint, queue and role come from the inputs below
	Endpoint pulumi.StringInput
	Queue    pulumi.StringInput
	RoleARN  pulumi.StringInput
	// After are resources the controller needs while it runs (its IAM
	// grants): created before it, deleted after it.
	After []pulumi.Resource
}

// Controller is Karpenter's CRD release and its controller release.
type Controller struct {
	pulumi.ResourceState
	CRDs    *helmrelease.Release
	Release *helmrelease.Release
}

// NewController installs the karpenter-crd chart, then the karpenter chart
// with its own CRDs skipped: Helm never upgrades CRDs in a chart's crds/
// folder, the karpenter-crd chart templates them so they follow the version.
func NewController(ctx *pulumi.Context, name string, args *ControllerArgs, opts ...pulumi.ResourceOption) (*Controller, error) {
	c := &Controller{}
	if err := ctx.RegisterComponentResource("karpenter-gpu:karpenter:Controller", name, c, opts...); err != nil {
		return nil, err
	}
	k := args.Settings.Karpenter
	var err error
	c.CRDs, err = helmrelease.New(ctx, name+"-crd", &helmrelease.Args{
		Name:            ReleaseName + "-crd",
		Repository:      k.ChartRepository,
		Chart:           "karpenter-crd",
		Version:         versions.Karpenter,
		Namespace:       pulumi.String(k.Namespace),
		CreateNamespace: true,
		Values:          pulumi.Map{"additionalAnnotations": pulumi.ToMap(OwnerAnnotations(args.Settings.Owner))},
	}, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}
	values := pulumi.All(args.Endpoint, args.Queue, args.RoleARN).ApplyT(func(v []any) map[string]any {
		s := args.Settings
		s.ClusterEndpoint, s.QueueName, s.RoleARN = v[0].(string), v[1].(string), v[2].(string)
		return ControllerValues(s)
	}).(pulumi.MapOutput)
	c.Release, err = helmrelease.New(ctx, name, &helmrelease.Args{
		Name:       ReleaseName,
		Repository: k.ChartRepository,
		Chart:      "karpenter",
		Version:    versions.Karpenter,
		Namespace:  pulumi.String(k.Namespace),
		SkipCRDs:   true,
		Values:     values,
	}, pulumi.Parent(c), pulumi.DependsOn(append([]pulumi.Resource{c.CRDs}, args.After...)))
	if err != nil {
		return nil, err
	}
	return c, ctx.RegisterResourceOutputs(c, pulumi.Map{
		"crdRelease": c.CRDs.Name, "release": c.Release.Name,
	})
}
