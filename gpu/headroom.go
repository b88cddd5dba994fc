package gpu

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"karpenter-gpu/config"
	"karpenter-gpu/internal/k8sobject"
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
	template, err := k8sobject.New(ctx, name, map[string]any{
		"apiVersion": "v1",
		"kind":       "PodTemplate",
		"metadata":   map[string]any{"name": HeadroomName(args.Pool), "namespace": args.Namespace},
		"template":   map[string]any{"spec": HeadroomPodSpec(args.Pool)},
	}, opts...)
	if err != nil {
		return nil, err
	}
	cb, err := k8sobject.New(ctx, name, CapacityBufferObject(args.Pool, args.Namespace), append(opts, pulumi.DependsOn([]pulumi.Resource{template}))...)
	if err != nil {
		return nil, fmt.Errorf("headroom of pool %s: %w", args.Pool.Name, err)
	}
	return []pulumi.Resource{template, cb}, nil
}
