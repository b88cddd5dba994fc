package tests

import (
	"fmt"
	"strings"
	"testing"

	"karpenter-gpu/internal/fakecloud"
)

// What a pool holds while nodes drain, as the whole stack says it: the
// NodePool's limit, the cost ceiling's two figures and basis, the preview
// warning for protected pools whose nodes expire together, and the
// refusals of a strictMaxGPUs that could not hold.
func TestDrainingNodesAndStrictMaxGPUs(t *testing.T) {
	t.Parallel()
	training := func(extra map[string]any) map[string]any {
		p := map[string]any{"name": "training", "gpus": []string{"h100"}, "gpuCount": map[string]int{"min": 8, "max": 8}, "maxGPUs": 32,
			"capacityTypes": []string{"on-demand"}, "jobProtection": map[string]any{"longestJob": "72h"}}
		for k, v := range extra {
			p[k] = v
		}
		return map[string]any{"gpuPools": []any{p}}
	}
	pool := func(outputs map[string]any) map[string]any {
		return outputs["gpuPools"].(map[string]any)["training"].(map[string]any)
	}

	// Expiry: every node may drain at once, for up to the grace period.
	got := observed(t, fakecloud.Example(clusterName), training(nil))
	outputs, warnings := got.Outputs, got.Warnings
	ceiling := pool(outputs)["hourlyCostCeiling"].(map[string]any)
	if fmt.Sprint(ceiling["drainingGPUs"]) != "32" || ceiling["usdPerHourWithDrains"].(float64) != 2*ceiling["usdPerHour"].(float64) ||
		!strings.Contains(ceiling["basis"].(string), "for up to terminationGracePeriod 72h30s each") {
		t.Errorf("ceiling with expiry = %v", ceiling)
	}
	if !strings.Contains(strings.Join(warnings, "\n"), "gpuPools[training]: nodes launched together expire together (expireAfter 720h) and each may drain a protected job for up to terminationGracePeriod 72h30s while Karpenter launches replacements outside maxGPUs: the pool may hold up to 64 GPUs") {
		t.Errorf("no warning of expiry under protected jobs in %q", warnings)
	}

	// strictMaxGPUs: one 8-GPU node may drain at once, so 24 are launched.
	strict := training(map[string]any{"expireAfter": "Never", "strictMaxGPUs": true, "budgets": []any{map[string]any{"nodes": "1"}}})
	cloud := mustRun(t, strict)
	limits := one(t, cloud, typeNodePool, "gpu-pool-training").Inputs["spec"].(map[string]any)["limits"]
	if limits.(map[string]any)["nvidia.com/gpu"] != "24" {
		t.Errorf("strict limits = %v, want 24 of 32 GPUs", limits)
	}
	got = observed(t, fakecloud.Example(clusterName), strict)
	outputs, warnings = got.Outputs, got.Warnings
	ceiling = pool(outputs)["hourlyCostCeiling"].(map[string]any)
	if fmt.Sprint(ceiling["drainingGPUs"]) != "0" || ceiling["usdPerHourWithDrains"] != ceiling["usdPerHour"] || !strings.Contains(ceiling["basis"].(string), "draining nodes included (strictMaxGPUs") {
		t.Errorf("strict ceiling = %v", ceiling)
	}
	if strings.Contains(strings.Join(warnings, "\n"), "expire together") {
		t.Errorf("a pool that never expires is warned of expiry: %q", warnings)
	}
	// Its budget for all reasons is used up by a node draining a job.
	if !strings.Contains(strings.Join(warnings, "\n"), `gpuPools[training].budgets[0]: nodes: "1" applies to every reason: a node draining a protected job counts against it for up to terminationGracePeriod 72h30s, and node repair, drift and consolidation of the pool wait that long`) {
		t.Errorf("no warning of a budget for all reasons in %q", warnings)
	}
	perReason := training(map[string]any{"expireAfter": "Never", "budgets": []any{
		map[string]any{"nodes": "1", "reasons": []string{"Drifted", "Underutilized", "Empty"}}, map[string]any{"nodes": "2", "reasons": []string{"Unhealthy"}}}})
	if w := strings.Join(observed(t, fakecloud.Example(clusterName), perReason).Warnings, "\n"); strings.Contains(w, "applies to every reason") {
		t.Errorf("budgets per reason are warned of: %s", w)
	}

	// What strictMaxGPUs cannot bound is refused, in the pool's keys.
	_, err := run(t, fakecloud.Example(clusterName), training(map[string]any{"strictMaxGPUs": true, "budgets": []any{map[string]any{"nodes": "1", "reasons": []string{"Drifted"}}}}))
	for _, want := range []string{
		`karpenter-gpu:gpuPools[training].expireAfter: "720h": strictMaxGPUs needs expireAfter: Never`,
		"karpenter-gpu:gpuPools[training].budgets: strictMaxGPUs needs a budget without a schedule for every disruption reason, and none bounds Underutilized, Empty, Unhealthy",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want %q", err, want)
		}
	}
}

// A pool that buys only reserved capacity pays for its reservations, not
// the on-demand ceiling: the basis says so.
func TestReservedOnlyPoolsSayWhatTheyPay(t *testing.T) {
	t.Parallel()
	got := observed(t, fakecloud.Example(clusterName), map[string]any{
		"nodeClasses": []any{map[string]any{"name": "gpu", "capacityReservations": []any{map[string]any{"id": "cr-0a1b2c3d4e5f60718"}}}},
		"gpuPools":    []any{map[string]any{"name": "reserved", "gpus": []string{"h100"}, "gpuCount": map[string]int{"min": 8, "max": 8}, "maxGPUs": 8, "capacityTypes": []string{"reserved"}}},
	})
	basis := got.Outputs["gpuPools"].(map[string]any)["reserved"].(map[string]any)["hourlyCostCeiling"].(map[string]any)["basis"].(string)
	if !strings.HasPrefix(basis, "reserved capacity only: the pool pays for the reservations it launches into, whether its nodes use them or not") {
		t.Errorf("basis = %s", basis)
	}
}
