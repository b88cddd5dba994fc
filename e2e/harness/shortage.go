package main

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"karpenter-gpu/e2e/verify"
	"karpenter-gpu/wellknown"
)

// spotShortage: for each pool that may buy spot and on-demand, EC2 has no
// spot capacity for any of the pool's types in any zone (the fake launches
// a fleet's first override, so every one is refused). A pod for the pool
// makes Karpenter ask for spot first and, refused, launch on-demand.
func (r *run) spotShortage(ctx context.Context, res *result) error {
	pools, err := gpuPools(res)
	if err != nil {
		return err
	}
	var both []string
	for _, name := range slices.Sorted(maps.Keys(pools)) {
		p := pools[name]
		if slices.Contains(p.CapacityTypes, wellknown.CapacityTypeSpot) && slices.Contains(p.CapacityTypes, wellknown.CapacityTypeOnDemand) {
			both = append(both, name)
		}
	}
	if len(both) == 0 {
		fmt.Fprintln(os.Stderr, "e2e: no pool of this stack buys both spot and on-demand: no fallback to show")
		res.add(ScenarioReport{Scenario: "spot shortage", Figures: map[string]any{"pools": 0}})
		return nil
	}
	for _, name := range both {
		if err := r.spotShortageOn(ctx, res, name, pools[name]); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) spotShortageOn(ctx context.Context, res *result, name string, pool poolOutput) error {
	// A node the pool still has would take the pod without a launch.
	if err := r.waitPoolEmpty(ctx, name, 8*time.Minute); err != nil {
		return fmt.Errorf("before the shortage: %w", err)
	}
	var short []CapacityPool
	for _, zone := range r.zones() {
		for _, t := range pool.InstanceTypes {
			short = append(short, CapacityPool{CapacityType: wellknown.CapacityTypeSpot, InstanceType: t, Zone: zone})
		}
	}
	r.setShortage(short)
	defer r.setShortage(nil)
	// The controller reads the seed when it changes; give the writer a turn.
	time.Sleep(2 * time.Second)
	before, err := verify.ReadCalls(r.karpenter.callsFile())
	if err != nil {
		return err
	}
	probe := "shortage-" + name
	if err := r.createProbe(ctx, probe, pool, 1); err != nil {
		return err
	}
	defer func() {
		_ = r.client.AppsV1().Deployments("default").Delete(context.WithoutCancel(ctx), probe, metav1.DeleteOptions{})
	}()
	var pod *corev1.Pod
	if err := await(ctx, fmt.Sprintf("pool %s with no spot capacity: a running pod", name), 5*time.Minute, func() (bool, string, error) {
		if pod, err = r.probePod(ctx, probe); err != nil {
			return false, "", err
		}
		return pod != nil && pod.Status.Phase == corev1.PodRunning, r.pendingReasons(ctx, []string{name}), nil
	}); err != nil {
		return err
	}
	node, err := r.client.CoreV1().Nodes().Get(ctx, pod.Spec.NodeName, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if got := node.Labels[wellknown.LabelCapacityType]; got != wellknown.CapacityTypeOnDemand {
		return fmt.Errorf("pool %s with no spot capacity in any zone: the pod's node %s is %q, not on-demand", name, node.Name, got)
	}
	calls, err := verify.ReadCalls(r.karpenter.callsFile())
	if err != nil {
		return err
	}
	fleets, err := verify.Fleets(calls[len(before):])
	if err != nil {
		return err
	}
	var order []string
	for _, f := range fleets {
		if f.Pool == name {
			order = append(order, f.CapacityType)
		}
	}
	if len(order) < 2 || order[0] != wellknown.CapacityTypeSpot || order[len(order)-1] != wellknown.CapacityTypeOnDemand {
		return fmt.Errorf("pool %s with no spot capacity: want Karpenter to ask for spot first and launch on-demand, its fleets asked for %v", name, order)
	}
	rep, err := r.fromZeroReport(ctx, "spot shortage", pod)
	if err != nil {
		return err
	}
	rep.Figures = map[string]any{"fleetsInOrder": order}
	res.add(rep)
	fmt.Fprintf(os.Stderr, "e2e: pool %s with no spot capacity: fleets %v, launched %s on-demand\n", name, order, node.Labels[wellknown.LabelInstanceType])
	return r.client.AppsV1().Deployments("default").Delete(ctx, probe, metav1.DeleteOptions{})
}

// setShortage sets the pools EC2 has no capacity in.
func (r *run) setShortage(pools []CapacityPool) {
	r.active.Lock()
	if len(pools) == 0 && len(r.active.shortage) > 0 {
		r.active.shortageEnded = time.Now()
	}
	r.active.shortage = pools
	r.active.Unlock()
}

// unavailableOfferingsTTL is how long Karpenter keeps offerings that EC2
// had no capacity for out of its launches (provider pkg/cache,
// UnavailableOfferingsTTL).
const unavailableOfferingsTTL = 3 * time.Minute

// awaitShortageForgotten waits until Karpenter no longer remembers the
// last shortage, so that what launches next may take spot again.
func (r *run) awaitShortageForgotten(ctx context.Context) error {
	r.active.Lock()
	ended := r.active.shortageEnded
	r.active.Unlock()
	wait := time.Until(ended.Add(unavailableOfferingsTTL + 5*time.Second))
	if ended.IsZero() || wait <= 0 {
		return nil
	}
	fmt.Fprintf(os.Stderr, "e2e: waiting %s until Karpenter forgets the spot shortage (unavailable offerings are kept %s)\n", wait.Round(time.Second), unavailableOfferingsTTL)
	select {
	case <-time.After(wait):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// zones are the zones of the test account's cluster subnets.
func (r *run) zones() []string {
	r.active.Lock()
	defer r.active.Unlock()
	var out []string
	for _, s := range r.active.cluster.Subnets {
		if !slices.Contains(out, s.Zone) {
			out = append(out, s.Zone)
		}
	}
	return out
}
