// Package gpu turns GPU intent into Karpenter NodePools, installs the NVIDIA
// device plugin that makes the GPUs schedulable, and proves it with a Job.
package gpu

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"karpenter-gpu/catalog"
	"karpenter-gpu/config"
	"karpenter-gpu/internal/k8sobject"
	"karpenter-gpu/wellknown"
)

// NodeLabels are the labels every node of the pool carries: the device
// plugin's affinity selects on the first, workloads may select on the pool
// label, and a sharing pool's nodes pick their time-slicing configuration.
func NodeLabels(pool config.GPUPool) map[string]string {
	labels := map[string]string{
		wellknown.GPUPresentLabel: "true",
		wellknown.GPUPoolLabel:    pool.Name,
	}
	if pool.Sharing.Replicas > 1 {
		labels[wellknown.DevicePluginConfigLabel] = SharingConfigName(pool.Sharing.Replicas)
	}
	maps.Copy(labels, pool.Labels)
	return labels
}

// Taints are the taints every node of the pool carries: the GPU taint,
// which keeps pods that want no GPU away, then the pool's own.
func Taints(pool config.GPUPool) []map[string]any {
	taints := []map[string]any{{"key": wellknown.GPUTaintKey, "effect": wellknown.GPUTaintEffect}}
	for _, t := range pool.Taints {
		taint := map[string]any{"key": t.Key, "effect": t.Effect}
		if t.Value != "" {
			taint["value"] = t.Value
		}
		taints = append(taints, taint)
	}
	return taints
}

// NodeSelector selects the pool's nodes, and only them.
func NodeSelector(pool config.GPUPool) map[string]string {
	return map[string]string{wellknown.GPUPoolLabel: pool.Name}
}

// Tolerations let a pod onto the pool's nodes: one per taint the pool puts
// on them, the GPU taint first.
func Tolerations(pool config.GPUPool) []map[string]any {
	var out []map[string]any
	for _, t := range Taints(pool) {
		toleration := map[string]any{"key": t["key"], "operator": "Exists", "effect": t["effect"]}
		if v, ok := t["value"]; ok {
			toleration["operator"], toleration["value"] = "Equal", v
		}
		out = append(out, toleration)
	}
	return out
}

// SpotStarvation warns about a spot-only pool that offers EC2 one or two
// instance types: GPU spot capacity comes and goes per type and zone, and
// such a pool often launches nothing for hours. Empty when fine.
func SpotStarvation(pool config.GPUPool) string {
	spotOnly := len(pool.CapacityTypes) == 1 && pool.CapacityTypes[0] == wellknown.CapacityTypeSpot
	if !spotOnly || len(pool.InstanceTypes) == 0 || len(pool.InstanceTypes) > 2 {
		return ""
	}
	return fmt.Sprintf("spot only, and only %d instance type(s): spot GPU capacity often runs out for a type; allow more types or families (and minValues to keep them), or add on-demand as a fallback", len(pool.InstanceTypes))
}

// NodePoolObject is the pool's karpenter.sh/v1 NodePool.
func NodePoolObject(pool config.GPUPool) map[string]any {
	template := map[string]any{
		"nodeClassRef": map[string]any{
			"group": wellknown.NodeClassGroup,
			"kind":  wellknown.NodeClassKind,
			"name":  pool.NodeClass,
		},
		"requirements": requirements(pool),
		"taints":       anyList(Taints(pool)),
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
			"metadata": map[string]any{"labels": anyMap(NodeLabels(pool))},
			"spec":     template,
		},
		"disruption": disruption,
		// The cost guardrail: Karpenter launches nothing that would exceed
		// it (for nodes that are not being deleted: see LimitGPUs).
		"limits": map[string]any{wellknown.GPUResource: strconv.Itoa(LimitGPUs(pool))},
	}
	if pool.Weight != 0 {
		spec["weight"] = pool.Weight
	}
	return map[string]any{
		"apiVersion": wellknown.NodePoolAPIVersion,
		"kind":       wellknown.NodePoolKind,
		"metadata":   map[string]any{"name": pool.Name},
		"spec":       spec,
	}
}

// requirements are the NodePool's requirements: what its nodes' labels
// must be, as Karpenter matches instance types.
func requirements(pool config.GPUPool) []any {
	requirements := []any{
		requirement(wellknown.LabelGPUManufacturer, "In", "nvidia"),
		requirement(wellknown.LabelCapacityType, "In", pool.CapacityTypes...),
		requirement(wellknown.LabelArch, "In", pool.Architectures...),
		requirement(wellknown.LabelGPUCount, "Gte", strconv.Itoa(pool.GPUCount.Min)),
		requirement(wellknown.LabelGPUCount, "Lte", strconv.Itoa(pool.GPUCount.Max)),
	}
	if len(pool.GPUs) > 0 {
		requirements = append(requirements, requirement(wellknown.LabelGPUName, "In", slices.Compact(slices.Sorted(slices.Values(pool.GPUs)))...))
	}
	if pool.MinGPUMemoryGiB > 0 {
		requirements = append(requirements, requirement(wellknown.LabelGPUMemory, "Gte", strconv.Itoa(pool.MinGPUMemoryMiB())))
	}
	requirements = append(requirements, diverse(wellknown.LabelInstanceFamily, pool.InstanceFamilies, pool.MinValues.InstanceFamilies)...)
	requirements = append(requirements, diverse(wellknown.LabelInstanceType, pool.InstanceTypes, pool.MinValues.InstanceTypes)...)
	return requirements
}

// PoolKey is the key of a gpuPools entry that sets the NodePool's
// requirement on a label, empty for a requirement every pool has.
func PoolKey(label string) string {
	return map[string]string{
		wellknown.LabelCapacityType:   "capacityTypes",
		wellknown.LabelArch:           "architectures",
		wellknown.LabelGPUCount:       "gpuCount",
		wellknown.LabelGPUName:        "gpus",
		wellknown.LabelGPUMemory:      "minGPUMemoryGiB",
		wellknown.LabelInstanceFamily: "instanceFamilies",
		wellknown.LabelInstanceType:   "instanceTypes",
	}[label]
}

// InstanceTypes are the catalogue's types the pool may launch. When there
// are none, the error speaks in the pool's keys: which key rules out the
// types its other keys allow, what those types have instead, and what to
// change.
func InstanceTypes(pool config.GPUPool) ([]catalog.InstanceType, error) {
	types, err := catalog.Match(Requirements(pool))
	var none *catalog.NoMatchError
	if !errors.As(err, &none) || none.Blame == nil || PoolKey(none.Blame.Key) == "" {
		return types, err
	}
	key := PoolKey(none.Blame.Key)
	var fields map[string]json.RawMessage
	raw, _ := json.Marshal(pool)
	_ = json.Unmarshal(raw, &fields)
	setting := fields[key]
	values := strings.Join(none.SparedValues(), ", ")
	var hint string
	switch {
	case key == "gpuCount" && values == "0":
		hint = "Karpenter counts no whole GPU on them (their GPUs are fractions or not listed), so no gpuCount reaches them"
	case key == "gpuCount":
		// Fractional-GPU types count 0 whole GPUs: no gpuCount reaches them.
		counts := slices.DeleteFunc(none.SparedValues(), func(v string) bool { return v == "0" })
		hint = fmt.Sprintf("they have %s GPUs per instance: set gpuCount's min and max to include one of these counts", strings.Join(counts, ", "))
	case key == "architectures":
		hint = fmt.Sprintf("they are %s: add that to architectures", values)
	case key == "gpus":
		hint = fmt.Sprintf("their GPUs are %s: add one to gpus", values)
	case key == "minGPUMemoryGiB":
		most := 0
		for _, mib := range none.SparedValues() {
			n, _ := strconv.Atoi(mib)
			most = max(most, n/1024)
		}
		hint = fmt.Sprintf("their GPUs have at most %d GiB each: lower minGPUMemoryGiB to %d or less", most, most)
	case key == "instanceFamilies":
		hint = fmt.Sprintf("they are of families %s: add one to instanceFamilies", values)
	default:
		hint = "add one of them to " + key
	}
	return nil, &RuledOutError{Key: key, Message: fmt.Sprintf("%s rules out the %d instance type(s) the pool's other keys allow (%s); %s",
		setting, len(none.Spared), catalog.Abbreviate(catalog.Names(none.Spared)), hint)}
}

// RuledOutError: one key of a pool rules out every instance type the
// pool's other keys allow.
type RuledOutError struct {
	Key     string // the pool's key, e.g. "gpuCount"
	Message string // its value, the types it rules out, what to change
}

func (e *RuledOutError) Error() string { return e.Key + ": " + e.Message }

// Requirements are the NodePool's requirements as the catalogue matches them.
func Requirements(pool config.GPUPool) []catalog.Requirement {
	var out []catalog.Requirement
	for _, r := range requirements(pool) {
		req := r.(map[string]any)
		values, _ := req["values"].([]string)
		out = append(out, catalog.Requirement{Key: req["key"].(string), Operator: req["operator"].(string), Values: values})
	}
	return out
}

// SharingOverlayObjects tell Karpenter, before it launches anything, how
// many nvidia.com/gpu a sharing pool's node will advertise: one NodeOverlay
// per GPU count the pool allows, GPUs × replicas. Without them Karpenter
// sizes nodes by physical GPUs and launches a node per pod. None for a pool
// that does not share.
func SharingOverlayObjects(pool config.GPUPool) []map[string]any {
	if pool.Sharing.Replicas < 2 {
		return nil
	}
	var out []map[string]any
	for gpus := pool.GPUCount.Min; gpus <= pool.GPUCount.Max; gpus++ {
		out = append(out, map[string]any{
			"apiVersion": wellknown.NodeOverlayAPIVersion,
			"kind":       wellknown.NodeOverlayKind,
			"metadata":   map[string]any{"name": fmt.Sprintf("%s-sharing-%dgpu", pool.Name, gpus)},
			"spec": map[string]any{
				"requirements": []any{
					requirement(wellknown.LabelNodePool, "In", pool.Name),
					requirement(wellknown.LabelGPUCount, "In", strconv.Itoa(gpus)),
				},
				"capacity": map[string]any{wellknown.GPUResource: strconv.Itoa(gpus * pool.Sharing.Replicas)},
			},
		})
	}
	return out
}

// diverse requires one of the listed values, and at least minValues
// distinct ones among the instance types Karpenter offers EC2 at each
// launch: a spot request with few choices finds no capacity.
func diverse(key string, values []string, minValues int) []any {
	var r map[string]any
	switch {
	case len(values) > 0:
		r = requirement(key, "In", values...)
	case minValues > 0:
		r = map[string]any{"key": key, "operator": "Exists"}
	default:
		return nil
	}
	if minValues > 0 {
		r["minValues"] = minValues
	}
	return []any{r}
}

func requirement(key, operator string, values ...string) map[string]any {
	return map[string]any{"key": key, "operator": operator, "values": values}
}

// NodePoolArgs configures one GPU NodePool.
type NodePoolArgs struct {
	Pool config.GPUPool
}

// NodePool is a pool's NodePool and the NodeOverlays of its sharing.
type NodePool struct {
	NodePool *k8sobject.Object
	Overlays []*k8sobject.Object
}

// Resources are all of the pool's custom resources.
func (p *NodePool) Resources() []pulumi.Resource {
	out := []pulumi.Resource{p.NodePool}
	for _, o := range p.Overlays {
		out = append(out, o)
	}
	return out
}

// NewNodePool declares the pool's NodePool and its sharing overlays.
// Like the EC2NodeClass, they must depend on the Karpenter releases (see
// karpenter.NewNodeClass).
func NewNodePool(ctx *pulumi.Context, name string, args *NodePoolArgs, opts ...pulumi.ResourceOption) (*NodePool, error) {
	p := &NodePool{}
	var err error
	p.NodePool, err = k8sobject.New(ctx, name, NodePoolObject(args.Pool), opts...)
	if err != nil {
		return nil, err
	}
	for _, obj := range SharingOverlayObjects(args.Pool) {
		o, err := k8sobject.New(ctx, obj["metadata"].(map[string]any)["name"].(string), obj, opts...)
		if err != nil {
			return nil, err
		}
		p.Overlays = append(p.Overlays, o)
	}
	return p, nil
}

// anyList and anyMap give typed values the untyped shape that custom
// resources and their schema checks take.
func anyList[T any](xs []T) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

func anyMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
