// Validation of gpuPools: GPUs, limits, disruption, labels and taints.

package config

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"karpenter-gpu/catalog"
	"karpenter-gpu/wellknown"
)

// validatePools checks each entry of gpuPools on its own and against its
// node class and the feature gates.
func (c *Stack) validatePools(p *problems) {
	seen := map[string]bool{}
	for i, pool := range c.GPUPools {
		key := entryKey(p, "gpuPools", "pool", i, pool.Name, seen)
		pool.validate(p, key)
		c.validatePoolNodeClass(p, key, pool)
	}
}

var (
	capacityTypes  = []string{wellknown.CapacityTypeSpot, wellknown.CapacityTypeOnDemand, wellknown.CapacityTypeReserved}
	architectures  = []string{"amd64", "arm64"}
	consolidations = []string{"WhenEmpty", "WhenEmptyOrUnderutilized"}
	taintEffects   = []string{"NoSchedule", "PreferNoSchedule", "NoExecute"}
)

func (c *Stack) validatePoolNodeClass(p *problems, key string, pool GPUPool) {
	nc, ok := c.NodeClass(pool.NodeClass)
	if !ok {
		names := make([]string, len(c.NodeClasses))
		for i, n := range c.NodeClasses {
			names[i] = n.Name
		}
		p.add(key+".nodeClass", pool.NodeClass, "want the name of an entry of nodeClasses: "+strings.Join(names, ", "))
		return
	}
	if slices.Contains(pool.CapacityTypes, wellknown.CapacityTypeReserved) {
		if len(nc.CapacityReservations) == 0 {
			p.add(key+".capacityTypes", pool.CapacityTypes, fmt.Sprintf("reserved capacity needs reservations to launch into: set nodeClasses[%s].capacityReservations", nc.Name))
		}
		if on, set := c.Karpenter.FeatureGates[wellknown.FeatureGateReservedCapacity]; set && !on {
			p.add(key+".capacityTypes", pool.CapacityTypes, "reserved capacity needs karpenter.featureGates.reservedCapacity, which is set to false")
		}
	}
	if on, set := c.Karpenter.FeatureGates[wellknown.FeatureGateCapacityBuffer]; pool.Headroom != 0 && set && !on {
		p.add(key+".headroom", pool.Headroom, "headroom needs karpenter.featureGates.capacityBuffer, which is set to false")
	}
	if on, set := c.Karpenter.FeatureGates[wellknown.FeatureGateNodeOverlay]; pool.Sharing.Replicas != 0 && set && !on {
		p.add(key+".sharing.replicas", pool.Sharing.Replicas, "sharing needs karpenter.featureGates.nodeOverlay (NodeOverlays tell Karpenter the shared capacity), which is set to false")
	}
	if pool.Sharing.Replicas != 0 && nc.Family() == wellknown.AMIFamilyBottlerocket {
		p.add(key+".sharing.replicas", pool.Sharing.Replicas, fmt.Sprintf(
			"time-slicing is configured through the NVIDIA device plugin DaemonSet, which nodes of nodeClasses[%s] (ami %s) do not run: Bottlerocket brings its own plugin; give the pool an al2023 node class or leave sharing out", nc.Name, nc.AMI))
	}
}

func (g *GPUPool) validate(p *problems, key string) {
	for _, name := range g.GPUs {
		if _, ok := catalog.LookupGPU(name); !ok {
			p.add(key+".gpus", name, "unknown GPU"+suggest(name, catalog.GPUNames())+"; known (as Karpenter names them): "+strings.Join(catalog.GPUNames(), ", "))
		}
	}
	families := catalog.Families()
	for _, family := range g.InstanceFamilies {
		if familyPattern.MatchString(family) && !slices.Contains(families, family) {
			p.add(key+".instanceFamilies", family, "no GPU instance family of that name"+suggest(family, families)+"; known: "+strings.Join(families, ", "))
		}
	}
	types := catalog.Names(catalog.InstanceTypes)
	for _, typ := range g.InstanceTypes {
		if instanceTypePattern.MatchString(typ) && !slices.Contains(types, typ) {
			p.add(key+".instanceTypes", typ, "no GPU instance type of that name"+suggest(typ, types)+"; see the types of a family with instanceFamilies, or plan.md for what a pool launches")
		}
	}
	if len(g.GPUs) == 0 && g.MinGPUMemoryGiB == 0 && len(g.InstanceFamilies) == 0 && len(g.InstanceTypes) == 0 {
		p.add(key, "no GPU selection", "a pool must say which GPUs it launches: set gpus, minGPUMemoryGiB, instanceFamilies or instanceTypes")
	}
	if g.MinGPUMemoryGiB != 0 {
		intRange(p, key+".minGPUMemoryGiB", g.MinGPUMemoryGiB, 1, 1024)
		if most, which := g.mostGPUMemory(); most < g.MinGPUMemoryMiB() {
			p.add(key+".minGPUMemoryGiB", g.MinGPUMemoryGiB, fmt.Sprintf("no GPU %s has that much memory: the most EC2 reports is %d MiB (%s); want %d or less",
				map[bool]string{true: "of those in gpus", false: "known"}[len(g.GPUs) > 0], most, which, most/1024))
		}
	}
	intRange(p, key+".gpuCount.min", g.GPUCount.Min, 1, 16)
	intRange(p, key+".gpuCount.max", g.GPUCount.Max, 1, 16)
	if g.GPUCount.Max < g.GPUCount.Min {
		p.add(key+".gpuCount", map[string]int{"min": g.GPUCount.Min, "max": g.GPUCount.Max}, "max must be at least min")
	}
	eachMatches(p, key+".instanceFamilies", g.InstanceFamilies, familyPattern, "want instance families such as g5 or g6e")
	eachMatches(p, key+".instanceTypes", g.InstanceTypes, instanceTypePattern, "want instance types such as g5.xlarge")
	nonEmptySubset(p, key+".capacityTypes", g.CapacityTypes, capacityTypes)
	nonEmptySubset(p, key+".architectures", g.Architectures, architectures)
	const maxGPUsWant = "want the most GPUs this pool may run at once (a positive whole number): it caps what the pool can cost"
	if g.MaxGPUs == unsetMaxGPUs {
		p.add(key+".maxGPUs", nil, maxGPUsWant)
	} else if g.MaxGPUs < 1 {
		p.add(key+".maxGPUs", g.MaxGPUs, maxGPUsWant)
	} else if g.MaxGPUs < g.GPUCount.Min {
		p.add(key+".maxGPUs", g.MaxGPUs, fmt.Sprintf("below gpuCount.min (%d): the pool could never launch a node", g.GPUCount.Min))
	}
	oneOf(p, key+".consolidation", g.Consolidation, consolidations...)
	if g.ConsolidateAfter != "Never" && !durationPattern.MatchString(g.ConsolidateAfter) {
		p.add(key+".consolidateAfter", g.ConsolidateAfter, "want a duration such as 30s, 1m or 1h30m, or Never")
	}
	if g.ExpireAfter != "Never" && !durationPattern.MatchString(g.ExpireAfter) {
		p.add(key+".expireAfter", g.ExpireAfter, "want a duration such as 720h, or Never")
	}
	if g.TerminationGracePeriod != "" && !durationPattern.MatchString(g.TerminationGracePeriod) {
		p.add(key+".terminationGracePeriod", g.TerminationGracePeriod, "want a duration such as 24h")
	}
	for i, b := range g.Budgets {
		bk := fmt.Sprintf("%s.budgets[%d]", key, i)
		if !budgetNodesPattern.MatchString(b.Nodes) {
			p.add(bk+".nodes", b.Nodes, "want a node count or a percentage such as 10%")
		}
		for _, r := range b.Reasons {
			oneOf(p, bk+".reasons", r, wellknown.DisruptionReasons...)
		}
		if (b.Schedule == "") != (b.Duration == "") {
			p.add(bk, map[string]string{"schedule": b.Schedule, "duration": b.Duration}, "schedule and duration go together")
		}
		if b.Duration != "" && !budgetDurPattern.MatchString(b.Duration) {
			p.add(bk+".duration", b.Duration, "want hours and minutes such as 8h or 1h30m")
		}
	}
	if g.Weight != 0 {
		intRange(p, key+".weight", g.Weight, 1, 100)
	}
	for _, k := range slices.Sorted(maps.Keys(g.Labels)) {
		if !labelKeyPattern.MatchString(k) || !labelValuePattern.MatchString(g.Labels[k]) {
			p.add(key+".labels."+k, g.Labels[k], "want a Kubernetes label key and value")
		}
		if k == wellknown.GPUPresentLabel || k == wellknown.GPUPoolLabel || k == wellknown.DevicePluginConfigLabel {
			p.add(key+".labels."+k, g.Labels[k], "the stack sets this label itself")
		}
	}
	for _, mv := range []struct {
		key    string
		n      int
		listed []string
	}{{"instanceFamilies", g.MinValues.InstanceFamilies, g.InstanceFamilies}, {"instanceTypes", g.MinValues.InstanceTypes, g.InstanceTypes}} {
		if mv.n == 0 {
			continue
		}
		intRange(p, key+".minValues."+mv.key, mv.n, 1, 50)
		if len(mv.listed) > 0 && mv.n > len(mv.listed) {
			p.add(key+".minValues."+mv.key, mv.n, fmt.Sprintf("the pool lists only %d %s: Karpenter could never launch", len(mv.listed), mv.key))
		}
	}
	if g.Headroom != 0 {
		intRange(p, key+".headroom", g.Headroom, 1, 64)
		if g.Headroom > g.MaxGPUs && g.MaxGPUs > 0 {
			p.add(key+".headroom", g.Headroom, fmt.Sprintf("above maxGPUs (%d): the pool could never hold it", g.MaxGPUs))
		}
	}
	if r := g.Sharing.Replicas; r != 0 && (r < 2 || r > 48) {
		p.add(key+".sharing.replicas", r, "want 0 (no sharing) or 2-48 pods per GPU")
	}
	for i, t := range g.Taints {
		tk := fmt.Sprintf("%s.taints[%d]", key, i)
		if !labelKeyPattern.MatchString(t.Key) {
			p.add(tk+".key", t.Key, "want a Kubernetes taint key")
		}
		if t.Key == wellknown.GPUTaintKey {
			p.add(tk+".key", t.Key, "the stack sets the GPU taint itself")
		}
		oneOf(p, tk+".effect", t.Effect, taintEffects...)
	}
}

// mostGPUMemory is the most memory per GPU, in MiB, among the GPUs the
// pool allows (all known ones when gpus is empty), and which GPU has it.
func (g GPUPool) mostGPUMemory() (mib int, name string) {
	names := g.GPUs
	if len(names) == 0 {
		names = catalog.GPUNames()
	}
	for _, n := range names {
		if gpu, ok := catalog.LookupGPU(n); ok && gpu.MaxMemoryMiB > mib {
			mib, name = gpu.MaxMemoryMiB, n
		}
	}
	return mib, name
}
