// Package gpu turns GPU intent into Karpenter NodePools, installs the NVIDIA
// device plugin that makes the GPUs schedulable, and proves it with a Job.
package gpu

import (
	"maps"
	"strconv"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"karpenter-gpu/config"
	"karpenter-gpu/karpenter"
	"karpenter-gpu/wellknown"
)

// NodeLabels are the labels every node of the pool carries: the device
// plugin's affinity selects on the first, workloads may select on both.
func NodeLabels(pool config.GPUPool) map[string]string {
	labels := map[string]string{
		wellknown.GPUPresentLabel: "true",
		wellknown.GPUPoolLabel:    pool.Name,
	}
	maps.Copy(labels, pool.Labels)
	return labels
}

// GPUTaint keeps every pod that does not tolerate it off GPU nodes.
func GPUTaint() map[string]any {
	return map[string]any{"key": wellknown.GPUTaintKey, "effect": wellknown.GPUTaintEffect}
}

// NodePoolObject is the pool's karpenter.sh/v1 NodePool.
func NodePoolObject(pool config.GPUPool, nodeClassName string) map[string]any {
	requirements := []any{
		requirement(wellknown.LabelGPUManufacturer, "In", "nvidia"),
		requirement(wellknown.LabelCapacityType, "In", pool.CapacityTypes...),
		requirement(wellknown.LabelArch, "In", pool.Architectures...),
		requirement(wellknown.LabelGPUCount, "Gte", strconv.Itoa(pool.GPUCount.Min)),
		requirement(wellknown.LabelGPUCount, "Lte", strconv.Itoa(pool.GPUCount.Max)),
	}
	if names := pool.GPUNames(); len(names) > 0 {
		requirements = append(requirements, requirement(wellknown.LabelGPUName, "In", names...))
	}
	if len(pool.InstanceFamilies) > 0 {
		requirements = append(requirements, requirement(wellknown.LabelInstanceFamily, "In", pool.InstanceFamilies...))
	}
	if len(pool.InstanceTypes) > 0 {
		requirements = append(requirements, requirement(wellknown.LabelInstanceType, "In", pool.InstanceTypes...))
	}

	taints := []any{GPUTaint()}
	for _, t := range pool.Taints {
		taint := map[string]any{"key": t.Key, "effect": t.Effect}
		if t.Value != "" {
			taint["value"] = t.Value
		}
		taints = append(taints, taint)
	}

	labels := map[string]any{}
	for k, v := range NodeLabels(pool) {
		labels[k] = v
	}
	template := map[string]any{
		"nodeClassRef": map[string]any{
			"group": karpenter.NodeClassGroup,
			"kind":  karpenter.NodeClassKind,
			"name":  nodeClassName,
		},
		"requirements": requirements,
		"taints":       taints,
		"expireAfter":  pool.ExpireAfter,
	}
	if pool.TerminationGracePeriod != "" {
		template["terminationGracePeriod"] = pool.TerminationGracePeriod
	}

	disruption := map[string]any{
		"consolidationPolicy": pool.Consolidation,
		"consolidateAfter":    pool.ConsolidateAfter,
	}
	if len(pool.Budgets) > 0 {
		budgets := make([]any, 0, len(pool.Budgets))
		for _, b := range pool.Budgets {
			budget := map[string]any{"nodes": b.Nodes}
			if len(b.Reasons) > 0 {
				budget["reasons"] = b.Reasons
			}
			if b.Schedule != "" {
				budget["schedule"], budget["duration"] = b.Schedule, b.Duration
			}
			budgets = append(budgets, budget)
		}
		disruption["budgets"] = budgets
	}

	spec := map[string]any{
		"template": map[string]any{
			"metadata": map[string]any{"labels": labels},
			"spec":     template,
		},
		"disruption": disruption,
		// The cost guardrail: Karpenter launches nothing that would exceed it.
		"limits": map[string]any{wellknown.GPUResource: strconv.Itoa(pool.MaxGPUs)},
	}
	if pool.Weight != 0 {
		spec["weight"] = pool.Weight
	}
	return map[string]any{
		"apiVersion": karpenter.NodePoolAPIVersion,
		"kind":       karpenter.NodePoolKind,
		"metadata":   map[string]any{"name": pool.Name},
		"spec":       spec,
	}
}

func requirement(key, operator string, values ...string) map[string]any {
	return map[string]any{"key": key, "operator": operator, "values": values}
}

// NodePoolArgs configures one GPU NodePool.
type NodePoolArgs struct {
	Pool          config.GPUPool
	NodeClassName string
}

// NewGPUNodePool declares the pool's NodePool. Like the EC2NodeClass, it must
// depend on the Karpenter releases (see karpenter.NewNodeClass).
func NewGPUNodePool(ctx *pulumi.Context, name string, args *NodePoolArgs, opts ...pulumi.ResourceOption) (*apiextensions.CustomResource, error) {
	obj := NodePoolObject(args.Pool, args.NodeClassName)
	return apiextensions.NewCustomResource(ctx, name, &apiextensions.CustomResourceArgs{
		ApiVersion:  pulumi.String(karpenter.NodePoolAPIVersion),
		Kind:        pulumi.String(karpenter.NodePoolKind),
		Metadata:    &metav1.ObjectMetaArgs{Name: pulumi.String(args.Pool.Name)},
		OtherFields: kubernetes.UntypedArgs{"spec": obj["spec"]},
	}, opts...)
}
