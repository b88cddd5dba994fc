package gpu_test

import (
	"slices"
	"strings"
	"testing"

	"karpenter-gpu/config"
	"karpenter-gpu/gpu"
)

// How many nodes a pool's budgets let drain at once, as Karpenter counts:
// every node being deleted counts against every reason's budgets, so the
// most any reason allows; only budgets without a schedule bound always.
func TestDrainingAtOnce(t *testing.T) {
	budget := func(nodes string, reasons ...string) config.Budget {
		return config.Budget{Nodes: nodes, Reasons: reasons}
	}
	scheduled := config.Budget{Nodes: "0", Schedule: "0 9 * * 1-5", Duration: "8h"}
	cases := []struct {
		name      string
		maxGPUs   int
		budgets   []config.Budget
		nodes     int
		unbounded []string
	}{
		{"Karpenter's default 10% of at most 4 nodes rounds up to 1", 4, nil, 1, nil},
		{"10% of 30 nodes", 30, nil, 3, nil},
		{"one budget for all reasons", 8, []config.Budget{budget("2")}, 2, nil},
		{"the most any reason allows", 8, []config.Budget{budget("1", "Drifted", "Underutilized", "Empty"), budget("3", "Unhealthy")}, 3, nil},
		{"a reason no budget names is unbounded", 8, []config.Budget{budget("1", "Drifted", "Underutilized", "Empty")}, 1, []string{"Unhealthy"}},
		{"a scheduled budget bounds only in its window", 8, []config.Budget{scheduled}, 0, []string{"Underutilized", "Empty", "Drifted", "Unhealthy"}},
		{"the tightest of the budgets that apply", 8, []config.Budget{budget("4"), budget("1", "Drifted")}, 4, nil},
		{"never more than the pool's nodes", 2, []config.Budget{budget("10")}, 2, nil},
		{"percentages of the most nodes, rounded up", 8, []config.Budget{budget("25%")}, 2, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := pool(func(p *config.GPUPool) { p.MaxGPUs, p.Budgets = tc.maxGPUs, tc.budgets })
			nodes, unbounded := gpu.DrainingAtOnce(p)
			if nodes != tc.nodes || !slices.Equal(unbounded, tc.unbounded) {
				t.Errorf("DrainingAtOnce = %d, unbounded %v; want %d, %v", nodes, unbounded, tc.nodes, tc.unbounded)
			}
		})
	}
}

// strictMaxGPUs keeps room in the NodePool's limit for the largest nodes
// that may drain at once, and refuses what it cannot bound.
func TestStrictMaxGPUs(t *testing.T) {
	h100s := func(mutate func(*config.GPUPool)) config.GPUPool {
		return pool(func(p *config.GPUPool) {
			p.Name, p.GPUs, p.GPUCount, p.MaxGPUs = "training", []string{"h100"}, config.GPUCount{Min: 8, Max: 8}, 32
			p.StrictMaxGPUs, p.ExpireAfter = true, "Never"
			p.Budgets = []config.Budget{{Nodes: "1"}}
			mutate(p)
		})
	}
	cases := []struct {
		name    string
		pool    config.GPUPool
		limit   int
		refused []string
	}{
		{"one 8-GPU node may drain: 24 of 32 for the rest", h100s(func(*config.GPUPool) {}), 24, nil},
		{"off: the limit is maxGPUs", h100s(func(p *config.GPUPool) { p.StrictMaxGPUs = false }), 32, nil},
		{"time-sliced: the limit counts slices", pool(func(p *config.GPUPool) {
			p.GPUs, p.MaxGPUs, p.Sharing, p.StrictMaxGPUs, p.ExpireAfter, p.Budgets = []string{"t4"}, 4, config.Sharing{Replicas: 4}, true, "Never", []config.Budget{{Nodes: "1"}}
		}), (4 - 1) * 4, nil},
		{"expiry is not paced by budgets", h100s(func(p *config.GPUPool) { p.ExpireAfter = "720h" }), 24, []string{
			`expireAfter: "720h": strictMaxGPUs needs expireAfter: Never`}},
		{"a reason without a budget", h100s(func(p *config.GPUPool) { p.Budgets = []config.Budget{{Nodes: "1", Reasons: []string{"Drifted"}}} }), 24, []string{
			"budgets: strictMaxGPUs needs a budget without a schedule for every disruption reason, and none bounds Underutilized, Empty, Unhealthy"}},
		{"no room left to launch", h100s(func(p *config.GPUPool) { p.MaxGPUs = 8 }), 0, []string{
			"strictMaxGPUs: true keeps 8 GPUs of maxGPUs 8 free for the 1 node(s) of up to 8 GPUs the budgets let drain at once, leaving fewer than gpuCount.min (8) to launch: raise maxGPUs to at least 16"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := gpu.LimitGPUs(tc.pool); got != tc.limit {
				t.Errorf("LimitGPUs = %d, want %d", got, tc.limit)
			}
			var got []string
			for _, p := range gpu.StrictProblems(tc.pool) {
				got = append(got, p.Error())
			}
			if len(got) != len(tc.refused) {
				t.Fatalf("problems %q, want %d", got, len(tc.refused))
			}
			for i, want := range tc.refused {
				if !strings.HasPrefix(got[i], want) {
					t.Errorf("problem %q, want %q", got[i], want)
				}
			}
		})
	}
}

// The GPUs that draining nodes may hold beyond maxGPUs, and why.
func TestDrainingGPUs(t *testing.T) {
	cases := []struct {
		name string
		pool config.GPUPool
		gpus int
		why  string
	}{
		{"expiry: every node at once", pool(nil), 4, "nodes launched together expire together (expireAfter 720h)"},
		{"no expiry: what the budgets let drain", pool(func(p *config.GPUPool) {
			p.ExpireAfter, p.MaxGPUs, p.Budgets = "Never", 8, []config.Budget{{Nodes: "2"}}
		}), 2, "the budgets let 2 node(s) of up to 1 GPUs drain at once"},
		{"a reason no budget bounds", pool(func(p *config.GPUPool) {
			p.ExpireAfter, p.Budgets = "Never", []config.Budget{{Nodes: "1", Reasons: []string{"Drifted"}}}
		}), 4, "no budget without a schedule paces Underutilized, Empty, Unhealthy"},
		{"strict: none", pool(func(p *config.GPUPool) {
			p.ExpireAfter, p.StrictMaxGPUs, p.MaxGPUs = "Never", true, 8
		}), 0, "strictMaxGPUs"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			gpus, why := gpu.DrainingGPUs(tc.pool)
			if gpus != tc.gpus || !strings.HasPrefix(why, tc.why) {
				t.Errorf("DrainingGPUs = %d, %q; want %d, %q", gpus, why, tc.gpus, tc.why)
			}
		})
	}
}
