// Package workload is what a team consuming the platform writes: it reads
// the karpenter-gpu stack's gpuPools output through a StackReference and
// deploys a GPU inference server that lands on the chosen pool, tainted or
// not, and stays up while Karpenter replaces its nodes: replicas on two
// nodes and a PodDisruptionBudget, as the pool's servingProtection says
// (karpenter.sh/do-not-disrupt is for run-to-completion jobs: Karpenter
// launches no replacement for such a pod, and force-deletes it when a
// drain outlasts the pool's grace period).
package workload

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"

	"karpenter-gpu/kubeconfig"

	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	policyv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/policy/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
)

// Image is the inference server, pinned.
const Image = "nvcr.io/nvidia/tritonserver:25.10-py3"

// Pool is one entry of the platform's gpuPools output, as far as a
// workload needs it.
type Pool struct {
	NodeSelector    map[string]string `json:"nodeSelector"`
	Tolerations     []Toleration      `json:"tolerations"`
	GPUResourceName string            `json:"gpuResourceName"`
	// ServingProtection is what keeps a serving workload up through drift,
	// expiry, repair and consolidation.
	ServingProtection struct {
		MinReplicas         int `json:"minReplicas"`
		PodDisruptionBudget struct {
			MaxUnavailable int `json:"maxUnavailable"`
		} `json:"podDisruptionBudget"`
	} `json:"servingProtection"`
}

// Toleration is one entry of a pool's tolerations.
type Toleration struct {
	Key      string `json:"key"`
	Operator string `json:"operator"`
	Value    string `json:"value,omitempty"`
	Effect   string `json:"effect"`
}

// Program deploys the inference server. Config: platformStack (required),
// pool (default "inference"), replicas (default: the pool's
// servingProtection.minReplicas).
func Program(ctx *pulumi.Context) error {
	cfg := config.New(ctx, "")
	platformStack := cfg.Require("platformStack")
	poolName := cfg.Get("pool")
	if poolName == "" {
		poolName = "inference"
	}
	replicas := cfg.GetInt("replicas")

	platform, err := pulumi.NewStackReference(ctx, platformStack, nil)
	if err != nil {
		return err
	}
	// The workload's own connection to the platform's cluster, from its
	// outputs: no kubeconfig to hand around, and a token fetched at each
	// run (aws eks get-token), never stored.
	config := pulumi.All(platform.GetStringOutput(pulumi.String("clusterName")), platform.GetStringOutput(pulumi.String("clusterEndpoint")),
		platform.GetStringOutput(pulumi.String("clusterCertificateAuthority")), platform.GetStringOutput(pulumi.String("region"))).
		ApplyT(func(v []any) (string, error) {
			return kubeconfig.ForEKS(v[0].(string), v[1].(string), v[2].(string), v[3].(string))
		}).(pulumi.StringOutput)
	cluster, err := kubernetes.NewProvider(ctx, "platform", &kubernetes.ProviderArgs{Kubeconfig: config})
	if err != nil {
		return err
	}
	gpuPools := platform.GetOutput(pulumi.String("gpuPools"))
	nodeSelector := gpuPools.ApplyT(func(v any) (map[string]string, error) {
		p, err := choose(v, poolName)
		return p.NodeSelector, err
	}).(pulumi.StringMapOutput)
	tolerations := gpuPools.ApplyT(func(v any) ([]corev1.Toleration, error) {
		p, err := choose(v, poolName)
		out := make([]corev1.Toleration, len(p.Tolerations))
		for i, t := range p.Tolerations {
			out[i] = corev1.Toleration{Key: &t.Key, Operator: &t.Operator, Effect: &t.Effect}
			if t.Value != "" {
				out[i].Value = &t.Value
			}
		}
		return out, err
	}).(corev1.TolerationArrayOutput)
	limits := gpuPools.ApplyT(func(v any) (map[string]string, error) {
		p, err := choose(v, poolName)
		return map[string]string{p.GPUResourceName: "1"}, err
	}).(pulumi.StringMapOutput)

	serving := gpuPools.ApplyT(func(v any) (Pool, error) { return choose(v, poolName) })
	count := serving.ApplyT(func(p any) int { return max(replicas, p.(Pool).ServingProtection.MinReplicas, 1) }).(pulumi.IntOutput)
	maxUnavailable := serving.ApplyT(func(p any) int { return max(p.(Pool).ServingProtection.PodDisruptionBudget.MaxUnavailable, 1) }).(pulumi.IntOutput)

	labels := pulumi.StringMap{"app": pulumi.String("inference")}
	// Karpenter's drains honour it: a node goes only once the replicas
	// elsewhere can take the traffic (a replacement is launched first for
	// drift and repair).
	if _, err := policyv1.NewPodDisruptionBudget(ctx, "inference", &policyv1.PodDisruptionBudgetArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("inference")},
		Spec: &policyv1.PodDisruptionBudgetSpecArgs{
			MaxUnavailable: maxUnavailable,
			Selector:       &metav1.LabelSelectorArgs{MatchLabels: labels},
		},
	}, pulumi.Provider(cluster)); err != nil {
		return err
	}
	_, err = appsv1.NewDeployment(ctx, "inference", &appsv1.DeploymentArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("inference")},
		Spec: &appsv1.DeploymentSpecArgs{
			Replicas: count,
			Selector: &metav1.LabelSelectorArgs{MatchLabels: labels},
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{
					Labels: labels,
				},
				Spec: &corev1.PodSpecArgs{
					NodeSelector: nodeSelector,
					Tolerations:  tolerations,
					// One replica per node: a node that goes takes one.
					TopologySpreadConstraints: corev1.TopologySpreadConstraintArray{corev1.TopologySpreadConstraintArgs{
						MaxSkew: pulumi.Int(1), TopologyKey: pulumi.String("kubernetes.io/hostname"),
						WhenUnsatisfiable: pulumi.String("DoNotSchedule"), LabelSelector: &metav1.LabelSelectorArgs{MatchLabels: labels},
					}},
					Containers: corev1.ContainerArray{corev1.ContainerArgs{
						Name:      pulumi.String("triton"),
						Image:     pulumi.String(Image),
						Args:      pulumi.ToStringArray([]string{"tritonserver", "--model-repository=/models", "--exit-on-error=false"}),
						Ports:     corev1.ContainerPortArray{corev1.ContainerPortArgs{Name: pulumi.String("http"), ContainerPort: pulumi.Int(8000)}},
						Resources: &corev1.ResourceRequirementsArgs{Limits: limits},
						ReadinessProbe: &corev1.ProbeArgs{
							HttpGet: &corev1.HTTPGetActionArgs{Path: pulumi.String("/v2/health/ready"), Port: pulumi.String("http")},
						},
					}},
				},
			},
		},
	}, pulumi.Provider(cluster))
	return err
}

// choose picks a pool from the gpuPools output, or says which exist.
func choose(gpuPools any, name string) (Pool, error) {
	all, ok := gpuPools.(map[string]any)
	if !ok {
		return Pool{}, fmt.Errorf("the platform stack has no gpuPools output (got %T): is it a karpenter-gpu stack?", gpuPools)
	}
	entry, ok := all[name]
	if !ok {
		names := make([]string, 0, len(all))
		for n := range all {
			names = append(names, n)
		}
		slices.Sort(names)
		return Pool{}, fmt.Errorf("pool %q is not one of the platform's GPU pools: %s", name, strings.Join(names, ", "))
	}
	raw, err := json.Marshal(entry)
	if err != nil {
		return Pool{}, err
	}
	var p Pool
	if err := json.Unmarshal(raw, &p); err != nil {
		return Pool{}, fmt.Errorf("pool %q: %w", name, err)
	}
	return p, nil
}
