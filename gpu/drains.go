package gpu

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"karpenter-gpu/config"
	"karpenter-gpu/wellknown"
)

// What a pool's nodes hold while some of them drain. Karpenter counts only
// nodes that are not being deleted against a NodePool's limits (core
// provisioning/provisioner.go schedules on nodes.Active()), so a node that
// expires, drifts, is repaired or is interrupted stops counting as soon as
// its NodeClaim is deleted, and bills on while it drains, for up to its
// terminationGracePeriod. Drift and repair launch the replacement first.

// defaultBudget is Karpenter's when a NodePool sets none.
const defaultBudget = "10%"

// DrainingAtOnce is how many of the pool's nodes Karpenter lets drain at
// once for the disruptions its budgets pace (drift, consolidation, repair).
// A disruption for a reason starts only while fewer nodes than that
// reason's budgets allow are being deleted, for whatever reason (core
// disruption/helpers.go counts every node marked for deletion), so at most
// the largest reason's allowance drain at once. Only budgets without a
// schedule bound always; unbounded lists the reasons no such budget bounds.
func DrainingAtOnce(pool config.GPUPool) (nodes int, unbounded []string) {
	budgets := pool.Budgets
	if len(budgets) == 0 {
		budgets = []config.Budget{{Nodes: defaultBudget}}
	}
	most := MostNodes(pool)
	for _, reason := range wellknown.DisruptionReasons {
		allowed := math.MaxInt
		for _, b := range budgets {
			if b.Schedule != "" || (len(b.Reasons) > 0 && !slices.Contains(b.Reasons, reason)) {
				continue
			}
			allowed = min(allowed, budgetNodes(b.Nodes, most))
		}
		if allowed == math.MaxInt {
			unbounded = append(unbounded, reason)
			continue
		}
		nodes = max(nodes, allowed)
	}
	return min(nodes, most), unbounded
}

// budgetNodes is a budget's nodes value for a pool of at most most nodes,
// rounded up as Karpenter rounds percentages.
func budgetNodes(value string, most int) int {
	if pct, ok := strings.CutSuffix(value, "%"); ok {
		n, _ := strconv.Atoi(pct)
		return (n*most + 99) / 100
	}
	n, _ := strconv.Atoi(value)
	return n
}

// MostNodes is the most nodes the pool can have: maxGPUs on nodes of
// gpuCount.min GPUs each.
func MostNodes(pool config.GPUPool) int {
	return (pool.MaxGPUs + pool.GPUCount.Min - 1) / max(pool.GPUCount.Min, 1)
}

// MostGPUsPerNode is the most GPUs a node of the pool may have: the
// largest of the catalogue's types it may launch (gpuCount.max without any).
func MostGPUsPerNode(pool config.GPUPool) int {
	types, err := InstanceTypes(pool)
	if err != nil || len(types) == 0 {
		return pool.GPUCount.Max
	}
	most := 0
	for _, t := range types {
		most = max(most, t.GPUCount)
	}
	return most
}

// DrainReserve is what strictMaxGPUs keeps of maxGPUs for draining
// nodes: as many of the largest nodes as may drain at once.
func DrainReserve(pool config.GPUPool) int {
	if !pool.StrictMaxGPUs {
		return 0
	}
	nodes, _ := DrainingAtOnce(pool)
	return nodes * MostGPUsPerNode(pool)
}

// LimitGPUs is the NodePool's nvidia.com/gpu limit: maxGPUs, less the
// drain reserve with strictMaxGPUs. A registered node's capacity counts
// time-sliced GPUs once per replica, so the limit is scaled by the
// replicas for maxGPUs to keep counting physical GPUs.
func LimitGPUs(pool config.GPUPool) int {
	return max(pool.MaxGPUs-DrainReserve(pool), 0) * max(pool.Sharing.Replicas, 1)
}

// DrainingGPUs is the most GPUs the pool's draining nodes may hold on top
// of its limit, and why: with strictMaxGPUs none (they are within
// maxGPUs); with expiry, every node may expire at once (nodes launched
// together expire together), so as many as maxGPUs; otherwise as many of
// the largest nodes as the budgets let drain at once. Interruptions and
// EC2 status failures are not paced by budgets and come on top, briefly
// (EC2 reclaims the instance).
func DrainingGPUs(pool config.GPUPool) (int, string) {
	nodes, unbounded := DrainingAtOnce(pool)
	switch {
	case pool.StrictMaxGPUs:
		return 0, "strictMaxGPUs: draining nodes are within maxGPUs"
	case pool.ExpireAfter != "Never":
		return pool.MaxGPUs, fmt.Sprintf("nodes launched together expire together (expireAfter %s): all of them may drain at once", pool.ExpireAfter)
	case len(unbounded) > 0:
		return pool.MaxGPUs, fmt.Sprintf("no budget without a schedule paces %s, so all nodes may drain at once", strings.Join(unbounded, ", "))
	}
	gpus := min(nodes*MostGPUsPerNode(pool), pool.MaxGPUs)
	return gpus, fmt.Sprintf("the budgets let %d node(s) of up to %d GPUs drain at once", nodes, MostGPUsPerNode(pool))
}

// StrictProblems are what keeps strictMaxGPUs from holding for the pool,
// as refusals in its keys: an expiry (not paced by budgets), a reason no
// always-active budget bounds, or a reserve that leaves no node to launch.
func StrictProblems(pool config.GPUPool) []*RuledOutError {
	if !pool.StrictMaxGPUs {
		return nil
	}
	var out []*RuledOutError
	if pool.ExpireAfter != "Never" {
		out = append(out, &RuledOutError{Key: "expireAfter", Message: fmt.Sprintf(
			"%q: strictMaxGPUs needs expireAfter: Never: expiry is not paced by budgets, and nodes launched together expire and drain together (AMI and configuration changes still replace nodes, by drift, within the budgets)", pool.ExpireAfter)})
	}
	if _, unbounded := DrainingAtOnce(pool); len(unbounded) > 0 {
		out = append(out, &RuledOutError{Key: "budgets", Message: fmt.Sprintf(
			"strictMaxGPUs needs a budget without a schedule for every disruption reason, and none bounds %s: add one (a budget without reasons bounds them all)", strings.Join(unbounded, ", "))})
	}
	if reserve := DrainReserve(pool); len(out) == 0 && pool.MaxGPUs-reserve < pool.GPUCount.Min {
		nodes, _ := DrainingAtOnce(pool)
		out = append(out, &RuledOutError{Key: "strictMaxGPUs", Message: fmt.Sprintf(
			"true keeps %d GPUs of maxGPUs %d free for the %d node(s) of up to %d GPUs the budgets let drain at once, leaving fewer than gpuCount.min (%d) to launch: raise maxGPUs to at least %d, or lower the budgets",
			reserve, pool.MaxGPUs, nodes, MostGPUsPerNode(pool), pool.GPUCount.Min, reserve+pool.GPUCount.Min)})
	}
	return out
}
