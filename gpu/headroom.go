package gpu

import (
	"fmt"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"karpenter-gpu/config"
	"karpenter-gpu/versions"
	"karpenter-gpu/wellknown"
)

// HeadroomPodSpec is the shape of one chunk of a pool's headroom: a pod
// that asks for one GPU of the pool and lands on its nodes. Karpenter
// plans with it; it never runs.
func HeadroomPodSpec(pool config.GPUPool) map[string]any {
	return map[string]any{
		"nodeSelector": anyMap(NodeSelector(pool)),
		"tolerations":  anyList(Tolerations(pool)),
		"containers": []any{map[string]any{
			"name":      "headroom",
			"image":     versions.PauseImage,
			"resources": map[string]any{"requests": map[string]any{wellknown.GPUResource: "1"}, "limits": map[string]any{wellknown.GPUResource: "1"}},
		}},
	}
}

// podSpecArgs turns a pod spec given as plain values into the SDK's.
func podSpecArgs(spec map[string]any) *corev1.PodSpecArgs {
	var tolerations corev1.TolerationArray
	for _, t := range spec["tolerations"].([]any) {
		t := t.(map[string]any)
		tol := corev1.TolerationArgs{Key: pulumi.String(t["key"].(string)), Operator: pulumi.String(t["operator"].(string)), Effect: pulumi.String(t["effect"].(string))}
		if v, ok := t["value"].(string); ok {
			tol.Value = pulumi.String(v)
		}
		tolerations = append(tolerations, tol)
	}
	var containers corev1.ContainerArray
	for _, c := range spec["containers"].([]any) {
		c := c.(map[string]any)
		resources := c["resources"].(map[string]any)
		containers = append(containers, corev1.ContainerArgs{
			Name:  pulumi.String(c["name"].(string)),
			Image: pulumi.String(c["image"].(string)),
			Resources: &corev1.ResourceRequirementsArgs{
				Requests: pulumi.ToStringMap(stringMap(resources["requests"])),
				Limits:   pulumi.ToStringMap(stringMap(resources["limits"])),
			},
		})
	}
	return &corev1.PodSpecArgs{
		NodeSelector: pulumi.ToStringMap(stringMap(spec["nodeSelector"])),
		Tolerations:  tolerations,
		Containers:   containers,
	}
}

func stringMap(v any) map[string]string {
	out := map[string]string{}
	for k, e := range v.(map[string]any) {
		out[k] = e.(string)
	}
	return out
}

// HeadroomName names a pool's PodTemplate and CapacityBuffer.
func HeadroomName(pool config.GPUPool) string { return pool.Name + "-headroom" }

// HeadroomPods is how many one-GPU pod shapes hold pool.Headroom physical
// GPUs: on a time-sliced pool a pod's nvidia.com/gpu is one of R slices, so
// R of them per GPU, as maxGPUs counts physical GPUs too.
func HeadroomPods(pool config.GPUPool) int {
	return pool.Headroom * max(pool.Sharing.Replicas, 1)
}

// CapacityBufferObject keeps pool.Headroom physical GPUs of the pool ready.
func CapacityBufferObject(pool config.GPUPool, namespace string) map[string]any {
	return map[string]any{
		"apiVersion": wellknown.CapacityBufferAPIVersion,
		"kind":       wellknown.CapacityBufferKind,
		"metadata":   map[string]any{"name": HeadroomName(pool), "namespace": namespace},
		"spec": map[string]any{
			"podTemplateRef": map[string]any{"name": HeadroomName(pool)},
			"replicas":       HeadroomPods(pool),
		},
	}
}

// HeadroomArgs says which pool keeps headroom, and where its objects live.
type HeadroomArgs struct {
	Pool      config.GPUPool
	Namespace string
}

// NewHeadroom declares the pool's PodTemplate and CapacityBuffer. Each
// GPU of headroom is a node kept running (and paid for) while idle.
func NewHeadroom(ctx *pulumi.Context, name string, args *HeadroomArgs, opts ...pulumi.ResourceOption) ([]pulumi.Resource, error) {
	template, err := corev1.NewPodTemplate(ctx, name, &corev1.PodTemplateArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(HeadroomName(args.Pool)), Namespace: pulumi.String(args.Namespace)},
		Template: &corev1.PodTemplateSpecArgs{Spec: podSpecArgs(HeadroomPodSpec(args.Pool))},
	}, opts...)
	if err != nil {
		return nil, err
	}
	buffer := CapacityBufferObject(args.Pool, args.Namespace)
	cb, err := apiextensions.NewCustomResource(ctx, name, &apiextensions.CustomResourceArgs{
		ApiVersion: pulumi.String(wellknown.CapacityBufferAPIVersion),
		Kind:       pulumi.String(wellknown.CapacityBufferKind),
		Metadata: &metav1.ObjectMetaArgs{
			Name: pulumi.String(HeadroomName(args.Pool)), Namespace: pulumi.String(args.Namespace),
		},
		OtherFields: kubernetes.UntypedArgs{"spec": buffer["spec"]},
	}, append(opts, pulumi.DependsOn([]pulumi.Resource{template}))...)
	if err != nil {
		return nil, fmt.Errorf("headroom of pool %s: %w", args.Pool.Name, err)
	}
	return []pulumi.Resource{template, cb}, nil
}
