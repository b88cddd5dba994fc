package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"karpenter-gpu/e2e/verify"
	"karpenter-gpu/examples/gpu-workload/workload"
	"karpenter-gpu/wellknown"
)

// checkLaunches: every instance Karpenter asked EC2 for was of a type
// plan.md lists for the pool and of a capacity type the pool allows, and
// each pool that launched has an initialized NodeClaim. It returns the
// pools served.
func (r *run) checkLaunches(ctx context.Context, res *result) ([]string, error) {
	calls, err := verify.ReadCalls(r.karpenter.callsFile())
	if err != nil {
		return nil, err
	}
	fleets, err := verify.Fleets(calls)
	if err != nil {
		return nil, err
	}
	if len(fleets) == 0 {
		return nil, fmt.Errorf("Karpenter launched no instance")
	}
	raw, err := json.Marshal(res.outputs["gpuPools"])
	if err != nil {
		return nil, err
	}
	var plans map[string]verify.PoolPlan
	if err := json.Unmarshal(raw, &plans); err != nil {
		return nil, fmt.Errorf("the gpuPools output: %w", err)
	}
	if err := verify.FleetsWithinPlan(fleets, plans); err != nil {
		return nil, err
	}
	var served []string
	for _, f := range fleets {
		if !slices.Contains(served, f.Pool) {
			served = append(served, f.Pool)
		}
	}
	for _, pool := range served {
		if err := r.initialized(ctx, pool); err != nil {
			return nil, err
		}
	}
	return served, nil
}

// initialized: the pool has a NodeClaim that Karpenter marked Initialized
// (its node registered, Ready and advertising its GPUs).
func (r *run) initialized(ctx context.Context, pool string) error {
	claims, err := r.dyn.Resource(nodeClaimResource).List(ctx, metav1.ListOptions{LabelSelector: wellknown.LabelNodePool + "=" + pool})
	if err != nil {
		return err
	}
	var states []string
	for _, c := range claims.Items {
		if condition(c, "Initialized") == "True" {
			return nil
		}
		states = append(states, fmt.Sprintf("%s (Launched %s, Registered %s, Initialized %s)", c.GetName(),
			condition(c, "Launched"), condition(c, "Registered"), condition(c, "Initialized")))
	}
	return fmt.Errorf("pool %s has no initialized NodeClaim: %s", pool, describe(states))
}

func condition(u unstructured.Unstructured, kind string) string {
	conditions, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conditions {
		m := asMap(c)
		if m["type"] == kind {
			return fmt.Sprint(m["status"])
		}
	}
	return "Unknown"
}

// toZero: once the workload is gone, Karpenter removes the pool's node
// after the pool's consolidateAfter and terminates its instance; the
// workload then comes back, and a node with it.
func (r *run) toZero(ctx context.Context, res *result) error {
	pool, err := r.dyn.Resource(nodePoolResource).Get(ctx, workloadPool, metav1.GetOptions{})
	if err != nil {
		return err
	}
	after, _, _ := unstructured.NestedString(pool.Object, "spec", "disruption", "consolidateAfter")
	consolidateAfter, err := time.ParseDuration(after)
	if err != nil {
		return fmt.Errorf("NodePool %s consolidateAfter %q: %w", workloadPool, after, err)
	}
	wl, err := r.engine.stack(ctx, workloadProject, stackName, workload.Program, nil, nil)
	if err != nil {
		return err
	}
	start := time.Now()
	if _, err := r.destroyOp(ctx, wl, "6-workload-destroy"); err != nil {
		return err
	}
	// consolidateAfter, plus Karpenter's own pace (validation, then the
	// disruption loop).
	deadline := start.Add(consolidateAfter + 3*time.Minute)
	for {
		claims, err := r.dyn.Resource(nodeClaimResource).List(ctx, metav1.ListOptions{LabelSelector: wellknown.LabelNodePool + "=" + workloadPool})
		if err != nil {
			return err
		}
		running, err := r.poolInstances(workloadPool)
		if err != nil {
			return err
		}
		if len(claims.Items) == 0 && len(running) == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pool %s still has %d NodeClaims and %d running instances %s after the workload went",
				workloadPool, len(claims.Items), len(running), time.Since(start).Round(time.Second))
		}
		time.Sleep(2 * time.Second)
	}
	res.toZero = time.Since(start)
	fmt.Fprintf(os.Stderr, "e2e: pool %s at zero %s after its workload went\n", workloadPool, res.toZero.Round(time.Second))
	if res.toZero < consolidateAfter {
		return fmt.Errorf("pool %s lost its node %s after its workload went, before its consolidateAfter %s: something other than consolidation removed it",
			workloadPool, res.toZero.Round(time.Second), consolidateAfter)
	}
	return r.workload(ctx, res)
}

// poolInstances are the running instances Karpenter launched for a pool.
func (r *run) poolInstances(pool string) ([]Instance, error) {
	all, err := r.karpenter.instances()
	if err != nil {
		return nil, err
	}
	var out []Instance
	for _, i := range all {
		if i.Tags[wellknown.LabelNodePool] == pool {
			out = append(out, i)
		}
	}
	return out, nil
}

// instancesLeft fails naming the instances still running.
func (r *run) instancesLeft() (int, error) {
	all, err := r.karpenter.instances()
	if err != nil {
		return 0, err
	}
	if len(all) == 0 {
		return 0, nil
	}
	var names []string
	for _, i := range all {
		names = append(names, fmt.Sprintf("%s (%s, pool %s)", i.ID, i.Type, i.Tags[wellknown.LabelNodePool]))
	}
	return len(all), fmt.Errorf("%d instances left running: %s", len(all), strings.Join(names, ", "))
}
