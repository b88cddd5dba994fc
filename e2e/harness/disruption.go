package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"karpenter-gpu/config"
	"karpenter-gpu/wellknown"
)

// The disruption scenarios: what ends a GPU job, and what a pool holds
// while its nodes drain, as the real controller does it. Each lane runs
// on a pool of its own, chosen by what its scenarios need, so that the
// lanes run at once.

// disruption is the group of them.
func (r *run) disruption() scenario {
	return scenario{name: "disruption", title: "what ends a GPU job and what a pool holds while its nodes drain, on pools of their own at once", lanes: [][]scenario{
		{
			{name: "drift", title: "drift with a protected job and an unprotected pod", needs: []string{"up"}, do: r.drift},
			{name: "repair", title: "node repair of a GPU fault under a protected job, held by a budget for all reasons, then not", needs: []string{"drift"}, do: r.repair},
		},
		{
			{name: "limits-draining", title: "a pool at maxGPUs with a node draining a protected job", needs: []string{"up"}, do: r.limitsDraining},
			{name: "limits-strict", title: "the same with strictMaxGPUs", needs: []string{"limits-draining"}, do: r.limitsStrict},
		},
		{
			{name: "spot-interruption", title: "a spot interruption under a serving replica and a protected job", needs: []string{"workload"}, do: r.spotInterruption},
			{name: "instance-status", title: "an EC2 status-check failure under a protected job", needs: []string{"spot-interruption"}, do: r.instanceStatus},
		},
		{
			{name: "expiry", title: "expiry under a protected job and an unprotected pod", needs: []string{"up"}, do: r.expiry},
		},
	}}
}

// Shorter than any grace period the scenarios' pools have: the jobs the
// scenarios end themselves run this long into a drain.
const jobRunsIntoDrain = 30 * time.Second

// skip records that a scenario does not apply to the stack under test.
func (r *run) skip(ctx context.Context, res *result, why string) error {
	fmt.Fprintf(os.Stderr, "e2e: %s does not apply to this stack: %s\n", scenarioOf(ctx), why)
	res.add(ScenarioReport{Scenario: scenarioOf(ctx), Figures: map[string]any{"applies": false, "why": why}})
	return nil
}

// jobPool is a pool the job scenarios run on: one that protects jobs,
// never expires, buys on-demand only, launches nodes of one GPU and may
// hold two, with a budget for all reasons of one node. The drift and
// repair lane takes the first such pool of the stack file (lane 0), the
// limits lane the second (lane 1), so that the lanes run at once.
func (r *run) jobPool(res *result, lane int) (string, poolOutput, config.GPUPool, bool) {
	pools, err := gpuPools(res)
	if err != nil {
		return "", poolOutput{}, config.GPUPool{}, false
	}
	var fit []config.GPUPool
	for _, p := range r.under.config.GPUPools {
		if p.JobProtection.Enabled() && p.ExpireAfter == "Never" && p.GPUCount.Max == 1 && p.MaxGPUs == 2 &&
			slices.Equal(p.CapacityTypes, []string{wellknown.CapacityTypeOnDemand}) && p.Sharing.Replicas < 2 &&
			len(p.Budgets) == 1 && len(p.Budgets[0].Reasons) == 0 && p.Budgets[0].Nodes == "1" {
			fit = append(fit, p)
		}
	}
	if lane >= len(fit) {
		return "", poolOutput{}, config.GPUPool{}, false
	}
	return fit[lane].Name, pools[fit[lane].Name], fit[lane], true
}

// The lanes of the job scenarios, by the pool they take.
const (
	driftLane  = 0
	limitsLane = 1
)

// notJobPool says what a job scenario's lane lacks.
const notJobPool = "the stack has no such pool for this lane: protecting jobs, never expiring, on-demand only, one-GPU nodes, two at most, one budget for all reasons of one node (the drift and repair lane takes the first, the limits lane the second)"

// drift: a pool template change drifts the node of a protected job and an
// unprotected pod. Karpenter launches a replacement for the pod before
// the node drains, moves the pod there, and waits for the job, which
// runs to its end (here jobRunsIntoDrain into the drain, well within the
// grace period); then the node goes.
func (r *run) drift(ctx context.Context, res *result) error {
	name, pool, cfg, ok := r.jobPool(res, driftLane)
	if !ok {
		return r.skip(ctx, res, notJobPool)
	}
	_, index := r.poolConfig(name)
	const jobName, mover = "drift-job", "drift-mover"
	defer r.removeJob(ctx, jobName)
	defer r.deleteDeployment(ctx, mover)
	node, err := r.protectedJobAndMover(ctx, jobName, mover, pool, 30)
	if err != nil {
		return err
	}
	if err := await(ctx, "the unprotected pod on the job's node "+node, 2*time.Minute, func() (bool, string, error) {
		on, err := r.runningPodsOf(ctx, mover)
		return slices.Contains(mapValues(on), node), fmt.Sprintf("running on %v", on), err
	}); err != nil {
		return err
	}
	changed := time.Now()
	if err := r.upWith(ctx, override{fmt.Sprintf("gpuPools[%d].labels.e2e-rollout", index), "drift"}); err != nil {
		return err
	}
	drain, err := r.awaitDeleting(ctx, claimOfNode(node), 4*time.Minute)
	if err != nil {
		return err
	}
	// The replacement: a NodeClaim of the pool made after the change,
	// initialized before the drain began.
	var replacement claimLife
	for _, c := range r.history.claimsOf(name) {
		if c.name != claimOfNode(node) && !c.created.Before(changed.Truncate(time.Second)) {
			replacement = c
		}
	}
	if replacement.name == "" || replacement.initialized.IsZero() || replacement.initialized.After(drain) {
		return fmt.Errorf("drift of %s: no replacement NodeClaim initialized before its drain began at %s (saw %+v)", node, drain.Format(time.TimeOnly), replacement)
	}
	var movedTo string
	if err := await(ctx, "the unprotected pod moved to the replacement", 2*time.Minute, func() (bool, string, error) {
		on, err := r.runningPodsOf(ctx, mover)
		for _, n := range on {
			movedTo = n
		}
		return movedTo == replacement.node, fmt.Sprintf("running on %v", on), err
	}); err != nil {
		return err
	}
	moved := time.Now()
	if gone := r.history.claimNamed(claimOfNode(node)).gone; !gone.IsZero() && gone.Before(moved) {
		return fmt.Errorf("drift of %s: the node was gone before the unprotected pod ran elsewhere", node)
	}
	// The job runs on, until it ends.
	time.Sleep(time.Until(drain.Add(jobRunsIntoDrain)))
	if p := r.history.podNamed("default", jobName); !p.deleting.IsZero() {
		return fmt.Errorf("drift of %s: Karpenter deleted protected job %s %s into the drain, within the grace period %s", node, jobName, p.deleting.Sub(drain).Round(time.Second), cfg.TerminationGracePeriod)
	}
	ended := time.Now()
	if err := r.finishJob(ctx, jobName); err != nil {
		return err
	}
	gone, err := r.awaitGone(ctx, claimOfNode(node), 2*time.Minute)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "e2e: drift of %s: replacement %s initialized %s before the drain; the unprotected pod moved to it; the protected job ran %s into the drain, to its end; the node went %s after\n",
		node, replacement.name, drain.Sub(replacement.initialized).Round(time.Second), ended.Sub(drain).Round(time.Second), gone.Sub(ended).Round(time.Second))
	res.add(ScenarioReport{Scenario: "drift", Pool: name, Figures: map[string]any{
		"secondsReplacementInitializedBeforeDrain": seconds(drain.Sub(replacement.initialized)),
		"secondsToDriftAfterChange":                seconds(drain.Sub(changed)),
		"secondsJobRanIntoDrain":                   seconds(ended.Sub(drain)),
		"jobEndedBy":                               "itself",
		"secondsNodeGoneAfterJob":                  seconds(gone.Sub(ended)),
		"terminationGracePeriod":                   cfg.TerminationGracePeriod,
	}})
	return nil
}

// limitsDraining: with the pool at maxGPUs, its node drains a protected
// job (drift), and pods ask for the pool's GPUs: Karpenter no longer counts
// the draining node against the NodePool's limit and launches beside it.
// The pool's nodes hold more than maxGPUs, and no more than the stack says
// (maxGPUs + drainingGPUs).
func (r *run) limitsDraining(ctx context.Context, res *result) error {
	name, pool, _, ok := r.jobPool(res, limitsLane)
	if !ok {
		return r.skip(ctx, res, notJobPool)
	}
	peak, from, err := r.drainUnderDemand(ctx, name, pool, "limits", pool.MaxGPUs)
	if err != nil {
		return err
	}
	bound := pool.MaxGPUs + pool.HourlyCostCeiling.DrainingGPUs
	if peak > bound {
		return fmt.Errorf("pool %s held %d GPUs at once while a node drained, over the %d the stack states (maxGPUs %d + drainingGPUs %d)", name, peak, bound, pool.MaxGPUs, pool.HourlyCostCeiling.DrainingGPUs)
	}
	if peak <= pool.MaxGPUs {
		return fmt.Errorf("pool %s held at most %d GPUs while a node drained and pods waited: the scenario did not show the drain outside maxGPUs %d", name, peak, pool.MaxGPUs)
	}
	fmt.Fprintf(os.Stderr, "e2e: pool %s held %d GPUs at once (maxGPUs %d) while a node drained a protected job: the bound the stack states is %d\n", name, peak, pool.MaxGPUs, bound)
	res.add(ScenarioReport{Scenario: "limits-draining", Pool: name, Figures: map[string]any{
		"maxGPUs": pool.MaxGPUs, "mostGPUsAtOnce": peak, "statedBound": bound, "drainingGPUs": pool.HourlyCostCeiling.DrainingGPUs, "since": from.UTC().Format(time.RFC3339),
	}})
	return nil
}

// limitsStrict: strictMaxGPUs on the same pool: its NodePool's limit
// keeps room for the node that may drain, so a pod waits while the pool
// is at that limit, and the same drain under demand stays within maxGPUs.
func (r *run) limitsStrict(ctx context.Context, res *result) error {
	name, pool, _, ok := r.jobPool(res, limitsLane)
	if !ok {
		return r.skip(ctx, res, notJobPool)
	}
	_, index := r.poolConfig(name)
	if err := r.upWith(ctx, override{fmt.Sprintf("gpuPools[%d].strictMaxGPUs", index), "true"}); err != nil {
		return err
	}
	np, err := r.dyn.Resource(nodePoolResource).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	limit, _, _ := unstructured.NestedString(np.Object, "spec", "limits", wellknown.GPUResource)
	if limit != fmt.Sprint(pool.MaxGPUs-1) {
		return fmt.Errorf("NodePool %s with strictMaxGPUs: limits %s, want %d (maxGPUs %d less one draining node of one GPU)", name, limit, pool.MaxGPUs-1, pool.MaxGPUs)
	}
	peak, _, err := r.drainUnderDemand(ctx, name, pool, "strict", pool.MaxGPUs-1)
	if err != nil {
		return err
	}
	if peak > pool.MaxGPUs {
		return fmt.Errorf("pool %s with strictMaxGPUs held %d GPUs at once while a node drained, over maxGPUs %d", name, peak, pool.MaxGPUs)
	}
	fmt.Fprintf(os.Stderr, "e2e: pool %s with strictMaxGPUs (limit %s) held %d GPUs at once while a node drained a protected job: within maxGPUs %d\n", name, limit, peak, pool.MaxGPUs)
	res.add(ScenarioReport{Scenario: "limits-strict", Pool: name, Figures: map[string]any{
		"maxGPUs": pool.MaxGPUs, "nodePoolLimit": limit, "mostGPUsAtOnce": peak,
	}})
	return nil
}

// drainUnderDemand fills the pool to its launch limit (a protected job,
// and pods of one GPU for the rest), drifts the job's node, and asks for
// as many GPUs again while it drains; once those pods run, the job ends.
// It returns the most GPUs the pool's nodes held at once from the drain
// on, and when the drain began.
func (r *run) drainUnderDemand(ctx context.Context, pool string, out poolOutput, rollout string, limit int) (int, time.Time, error) {
	_, index := r.poolConfig(pool)
	jobName, fill, demand := rollout+"-job", rollout+"-fill", rollout+"-demand"
	defer r.removeJob(ctx, jobName)
	defer r.deleteDeployment(ctx, fill)
	defer r.deleteDeployment(ctx, demand)
	if err := r.waitPoolEmpty(ctx, pool, 4*time.Minute); err != nil {
		return 0, time.Time{}, err
	}
	if err := r.startJob(ctx, job{name: jobName, pool: out, gpus: 1, grace: 30, protected: true}); err != nil {
		return 0, time.Time{}, err
	}
	node, err := r.jobNode(ctx, jobName)
	if err != nil {
		return 0, time.Time{}, err
	}
	if err := r.createPods(ctx, fill, out, int32(limit-1), 1); err != nil {
		return 0, time.Time{}, err
	}
	if err := await(ctx, fmt.Sprintf("pool %s at its limit of %d GPUs", pool, limit), 4*time.Minute, func() (bool, string, error) {
		on, err := r.runningPodsOf(ctx, fill)
		return len(on) == limit-1, fmt.Sprintf("%d of %d fill pods running", len(on), limit-1), err
	}); err != nil {
		return 0, time.Time{}, err
	}
	// At the limit, a pod more waits: Karpenter launches nothing for it.
	if err := r.createPods(ctx, demand, out, int32(limit), 1); err != nil {
		return 0, time.Time{}, err
	}
	held := len(r.history.claimsOf(pool))
	time.Sleep(20 * time.Second)
	if on, err := r.runningPodsOf(ctx, demand); err != nil || len(on) > 0 || len(r.history.claimsOf(pool)) != held {
		return 0, time.Time{}, fmt.Errorf("pool %s at its limit of %d GPUs: %d demand pods run and %d NodeClaims were made for them (%v)", pool, limit, len(on), len(r.history.claimsOf(pool))-held, err)
	}
	if err := r.upWith(ctx, override{fmt.Sprintf("gpuPools[%d].labels.e2e-rollout", index), rollout}); err != nil {
		return 0, time.Time{}, err
	}
	drain, err := r.awaitDeleting(ctx, claimOfNode(node), 4*time.Minute)
	if err != nil {
		return 0, time.Time{}, err
	}
	// While the job's node drains, what it held is free to launch again.
	want := 1
	if err := await(ctx, "pods asking for the pool's GPUs running while the job's node drains", 4*time.Minute, func() (bool, string, error) {
		on, err := r.runningPodsOf(ctx, demand)
		return len(on) >= want, fmt.Sprintf("%d demand pods running", len(on)), err
	}); err != nil {
		return 0, time.Time{}, err
	}
	// Another batch window and launch, in case Karpenter would go on.
	time.Sleep(20 * time.Second)
	if p := r.history.podNamed("default", jobName); !p.deleting.IsZero() {
		return 0, time.Time{}, fmt.Errorf("Karpenter deleted protected job %s %s into the drain", jobName, p.deleting.Sub(drain).Round(time.Second))
	}
	peak, _ := r.history.peakGPUs(pool, drain, time.Now())
	if err := r.finishJob(ctx, jobName); err != nil {
		return 0, time.Time{}, err
	}
	if _, err := r.awaitGone(ctx, claimOfNode(node), 2*time.Minute); err != nil {
		return 0, time.Time{}, err
	}
	return peak, drain, nil
}

// repair: the node monitoring agent reports a fatal GPU fault on a node
// that runs a protected job while another node of the pool drains one.
// With the pool's budget for all reasons, used up by the draining node,
// Karpenter does not repair; with budgets per reason it does, draining
// the faulty node for its repair policy's bound (5 minutes for a fatal
// XID), shorter than the pool's grace period: the job, whose own grace
// period is nearly that long, is deleted as the drain begins.
func (r *run) repair(ctx context.Context, res *result) error {
	name, pool, cfg, ok := r.jobPool(res, driftLane)
	if !ok {
		return r.skip(ctx, res, notJobPool)
	}
	if !r.under.config.Karpenter.FeatureGates[wellknown.FeatureGateNodeRepair] {
		return r.skip(ctx, res, "node repair is off")
	}
	_, index := r.poolConfig(name)
	const draining, faulty = "repair-draining-job", "repair-faulty-job"
	defer r.removeJob(ctx, draining)
	defer r.removeJob(ctx, faulty)
	if err := r.waitPoolEmpty(ctx, name, 4*time.Minute); err != nil {
		return err
	}
	if err := r.startJob(ctx, job{name: draining, pool: pool, gpus: 1, grace: 30, protected: true}); err != nil {
		return err
	}
	drainingNode, err := r.jobNode(ctx, draining)
	if err != nil {
		return err
	}
	// A jobGrace nearly as long as the repair policy's drain bound.
	const jobGrace, fatalXID, policyBound = 290, "NvidiaXID79Error", 5 * time.Minute
	if err := r.startJob(ctx, job{name: faulty, pool: pool, gpus: 1, grace: jobGrace, protected: true}); err != nil {
		return err
	}
	faultyNode, err := r.jobNode(ctx, faulty)
	if err != nil {
		return err
	}
	// The draining node goes as an expiring one does: its NodeClaim is deleted.
	if err := r.dyn.Resource(nodeClaimResource).Delete(ctx, claimOfNode(drainingNode), metav1.DeleteOptions{}); err != nil {
		return err
	}
	if _, err := r.awaitDeleting(ctx, claimOfNode(drainingNode), time.Minute); err != nil {
		return err
	}
	faulted := time.Now()
	if err := r.gpuFault(ctx, faultyNode, fatalXID); err != nil {
		return err
	}
	// Past the toleration and a few disruption passes, still no repair.
	held := repairToleration + 40*time.Second
	time.Sleep(time.Until(faulted.Add(held)))
	if c := r.history.claimNamed(claimOfNode(faultyNode)); !c.deleting.IsZero() {
		return fmt.Errorf("repair of %s began %s after the fault while node %s drained: the pool's budget for all reasons (one node) should have held it",
			faultyNode, c.deleting.Sub(faulted).Round(time.Second), drainingNode)
	}
	fmt.Fprintf(os.Stderr, "e2e: repair of %s held %s by the budget for all reasons that draining node %s uses up\n", faultyNode, held, drainingNode)
	// The same budget, for every reason but repair's (a path value
	// reads as a string; the budget's nodes stay "1").
	var perReason []override
	for i, reason := range []string{wellknown.DisruptionDrifted, wellknown.DisruptionUnderutilized, wellknown.DisruptionEmpty} {
		perReason = append(perReason, override{fmt.Sprintf("gpuPools[%d].budgets[0].reasons[%d]", index, i), reason})
	}
	unheld := time.Now()
	if err := r.upWith(ctx, perReason...); err != nil {
		return err
	}
	repaired, err := r.awaitDeleting(ctx, claimOfNode(faultyNode), 3*time.Minute)
	if err != nil {
		return err
	}
	c := r.history.claimNamed(claimOfNode(faultyNode))
	if err := await(ctx, "the repaired NodeClaim's reason and drain deadline", time.Minute, func() (bool, string, error) {
		c = r.history.claimNamed(claimOfNode(faultyNode))
		return c.reason != "" && !c.terminationDeadline.IsZero(), fmt.Sprintf("reason %q, deadline %v", c.reason, c.terminationDeadline), nil
	}); err != nil {
		return err
	}
	grace, _ := time.ParseDuration(cfg.TerminationGracePeriod)
	bound := c.terminationDeadline.Sub(repaired)
	if c.reason != wellknown.DisruptionUnhealthy || bound < policyBound-time.Minute || bound > policyBound+time.Minute || bound >= grace {
		return fmt.Errorf("repair of %s: reason %q, drain bound %s; want Unhealthy and the policy's %s, shorter than the pool's grace period %s", faultyNode, c.reason, bound.Round(time.Second), policyBound, cfg.TerminationGracePeriod)
	}
	jobGot, err := r.awaitJobDeleted(ctx, faulty, repaired, 2*time.Minute)
	if err != nil {
		return err
	}
	if want := bound - jobGrace*time.Second; jobGot > want+30*time.Second {
		return fmt.Errorf("repair of %s: protected job %s was deleted %s into the drain; with its grace period %ds and the drain bound %s, want about %s", faultyNode, faulty, jobGot.Round(time.Second), jobGrace, bound.Round(time.Second), want)
	}
	if _, err := r.awaitGone(ctx, claimOfNode(faultyNode), 3*time.Minute); err != nil {
		return err
	}
	if err := r.finishJob(ctx, draining); err != nil {
		return err
	}
	if _, err := r.awaitGone(ctx, claimOfNode(drainingNode), 2*time.Minute); err != nil {
		return err
	}
	// Only the faulty node was repaired.
	for _, other := range r.history.claimsOf(name) {
		if other.reason == wellknown.DisruptionUnhealthy && other.name != claimOfNode(faultyNode) {
			return fmt.Errorf("NodeClaim %s was repaired, though no fault was reported on it", other.name)
		}
	}
	fmt.Fprintf(os.Stderr, "e2e: repair of %s %s after budgets per reason; drain bound %s (grace period %s); the protected job with a %ds grace was deleted %s into the drain\n",
		faultyNode, repaired.Sub(unheld).Round(time.Second), bound.Round(time.Second), cfg.TerminationGracePeriod, jobGrace, jobGot.Round(time.Second))
	res.add(ScenarioReport{Scenario: "repair", Pool: name, Figures: map[string]any{
		"secondsHeldByBudgetForAllReasons":    seconds(held),
		"secondsToRepairOnceBudgetsPerReason": seconds(repaired.Sub(unheld)),
		"secondsDrainBound":                   seconds(bound),
		"terminationGracePeriod":              cfg.TerminationGracePeriod,
		"jobGraceSeconds":                     jobGrace,
		"secondsJobGot":                       seconds(jobGot),
		"toleration":                          repairToleration.String(),
		"reason":                              fatalXID,
	}})
	return nil
}

// spotPool is the pool the interruption scenarios run on: the workload's,
// when it buys spot and on-demand (its replicas run on spot nodes, and a
// replacement need not wait for spot).
func (r *run) spotPool(res *result) (string, poolOutput, bool) {
	pools, err := gpuPools(res)
	if err != nil {
		return "", poolOutput{}, false
	}
	p, ok := pools[r.under.workloadPool]
	both := ok && slices.Contains(p.CapacityTypes, wellknown.CapacityTypeSpot) && slices.Contains(p.CapacityTypes, wellknown.CapacityTypeOnDemand)
	return r.under.workloadPool, p, both
}

// protectedJobBesideReplica runs a protected job (no GPU) on a node of
// the workload's pool that runs a replica of the workload example, of the
// capacity type if one is given, and returns the node and its instance.
func (r *run) protectedJobBesideReplica(ctx context.Context, res *result, capacityType, jobName string) (node, instance string, err error) {
	_, pool, _ := r.spotPool(res)
	on, err := r.runningPodsOf(ctx, "inference")
	if err != nil {
		return "", "", err
	}
	for _, candidate := range mapValues(on) {
		n, err := r.client.CoreV1().Nodes().Get(ctx, candidate, metav1.GetOptions{})
		if err == nil && (capacityType == "" || n.Labels[wellknown.LabelCapacityType] == capacityType) {
			node = candidate
		}
	}
	if node == "" {
		return "", "", fmt.Errorf("no node of capacity type %q runs a replica of the workload: %v", capacityType, on)
	}
	if err := r.startJob(ctx, job{name: jobName, pool: pool, grace: 30, protected: true, node: node}); err != nil {
		return "", "", err
	}
	if _, err := r.jobNode(ctx, jobName); err != nil {
		return "", "", err
	}
	instance, _, err = r.instanceID(ctx, claimOfNode(node))
	return node, instance, err
}

// spotInterruption: EC2's two-minute warning for a spot node that runs a
// serving replica and a protected job. Karpenter drains the node at once:
// the replica moves to a replacement that runs before the two minutes
// end; the protected job is not evicted and ends when EC2 reclaims the
// instance.
func (r *run) spotInterruption(ctx context.Context, res *result) error {
	name, _, ok := r.spotPool(res)
	if !ok {
		return r.skip(ctx, res, "the workload's pool does not buy spot and on-demand")
	}
	const jobName = "spot-job"
	defer r.removeJob(ctx, jobName)
	node, instance, err := r.protectedJobBesideReplica(ctx, res, wellknown.CapacityTypeSpot, jobName)
	if err != nil {
		return err
	}
	before, err := r.runningPodsOf(ctx, "inference")
	if err != nil {
		return err
	}
	warned := time.Now()
	if err := r.interruptSpot(instance, warned); err != nil {
		return err
	}
	drain, err := r.awaitDeleting(ctx, claimOfNode(node), time.Minute)
	if err != nil {
		return err
	}
	var movedTo string
	if err := await(ctx, "the serving replica running elsewhere", spotReclaim, func() (bool, string, error) {
		on, err := r.runningPodsOf(ctx, "inference")
		for pod, n := range on {
			if _, old := before[pod]; !old && n != node {
				movedTo = n
			}
		}
		return movedTo != "" && len(on) == len(before), fmt.Sprintf("replicas on %v", on), err
	}); err != nil {
		return err
	}
	replaced := time.Now()
	jobGot, err := r.awaitJobDeleted(ctx, jobName, warned, spotReclaim+2*time.Minute)
	if err != nil {
		return err
	}
	if jobGot < spotReclaim-10*time.Second {
		return fmt.Errorf("spot interruption of %s: protected job %s was deleted %s after the warning, before EC2 reclaimed the instance at %s", node, jobName, jobGot.Round(time.Second), spotReclaim)
	}
	fmt.Fprintf(os.Stderr, "e2e: spot interruption of %s: drained %s after the warning; the serving replica ran on %s %s after it; the protected job ended with the instance %s after it\n",
		node, drain.Sub(warned).Round(time.Second), movedTo, replaced.Sub(warned).Round(time.Second), jobGot.Round(time.Second))
	res.add(ScenarioReport{Scenario: "spot-interruption", Pool: name, Figures: map[string]any{
		"secondsToDrain": seconds(drain.Sub(warned)), "secondsToReplicaRunningElsewhere": seconds(replaced.Sub(warned)),
		"secondsJobGot": seconds(jobGot), "secondsNotice": seconds(spotReclaim),
	}})
	return nil
}

// instanceStatus: the instance status check of a node that runs a serving
// replica and a protected job fails. Once it has failed for 120 s,
// Karpenter's instance-status controller terminates the node forcefully:
// its drain deadline is now, and the protected job is deleted at once.
func (r *run) instanceStatus(ctx context.Context, res *result) error {
	name, _, ok := r.spotPool(res)
	if !ok {
		return r.skip(ctx, res, "the workload's pool does not buy spot and on-demand")
	}
	const jobName = "status-job"
	defer r.removeJob(ctx, jobName)
	node, instance, err := r.protectedJobBesideReplica(ctx, res, "", jobName)
	if err != nil {
		return err
	}
	impaired := time.Now()
	r.impair(instance, "instance", impaired)
	const waited = 120 * time.Second // the provider's UnhealthyThreshold
	drain, err := r.awaitDeleting(ctx, claimOfNode(node), waited+3*time.Minute)
	if err != nil {
		return err
	}
	if drain.Sub(impaired) < waited-5*time.Second {
		return fmt.Errorf("instance status failure of %s: Karpenter acted %s after the failure, before the %s it waits", node, drain.Sub(impaired).Round(time.Second), waited)
	}
	jobGot, err := r.awaitJobDeleted(ctx, jobName, drain, time.Minute)
	if err != nil {
		return err
	}
	c := r.history.claimNamed(claimOfNode(node))
	if jobGot > 15*time.Second || c.terminationDeadline.IsZero() || c.terminationDeadline.Sub(drain) > 5*time.Second {
		return fmt.Errorf("instance status failure of %s: the protected job was deleted %s into the drain, drain deadline %v: want a forceful termination", node, jobGot.Round(time.Second), c.terminationDeadline)
	}
	fmt.Fprintf(os.Stderr, "e2e: instance status failure of %s: terminated forcefully %s after the failure; the protected job was deleted %s into the drain\n", node, drain.Sub(impaired).Round(time.Second), jobGot.Round(time.Second))
	res.add(ScenarioReport{Scenario: "instance-status", Pool: name, Figures: map[string]any{
		"secondsFailedBeforeKarpenterActed": seconds(drain.Sub(impaired)), "secondsJobGot": seconds(jobGot),
	}})
	return nil
}

// expiringPool is the pool the expiry scenario runs on: one that protects
// jobs and whose nodes expire within ten minutes.
func (r *run) expiringPool(res *result) (string, poolOutput, config.GPUPool, time.Duration, bool) {
	pools, err := gpuPools(res)
	if err != nil {
		return "", poolOutput{}, config.GPUPool{}, 0, false
	}
	for _, p := range r.under.config.GPUPools {
		if d, err := time.ParseDuration(p.ExpireAfter); err == nil && d <= 10*time.Minute && p.JobProtection.Enabled() {
			return p.Name, pools[p.Name], p, d, true
		}
	}
	return "", poolOutput{}, config.GPUPool{}, 0, false
}

// expiry: the node of a protected job and an unprotected pod expires.
// Expiry launches nothing ahead: the unprotected pod is evicted and gets a
// node after the drain began; the protected job, which would run longer
// than the grace period, is deleted when the grace period ends, less its
// own grace period.
func (r *run) expiry(ctx context.Context, res *result) error {
	name, pool, cfg, expireAfter, ok := r.expiringPool(res)
	if !ok {
		return r.skip(ctx, res, "no pool protects jobs and expires its nodes within ten minutes")
	}
	const jobName, mover, jobGrace = "expiry-job", "expiry-mover", 30
	defer r.removeJob(ctx, jobName)
	defer r.deleteDeployment(ctx, mover)
	node, err := r.protectedJobAndMover(ctx, jobName, mover, pool, jobGrace)
	if err != nil {
		return err
	}
	drain, err := r.awaitDeleting(ctx, claimOfNode(node), expireAfter+2*time.Minute)
	if err != nil {
		return err
	}
	claim := r.history.claimNamed(claimOfNode(node))
	if age := drain.Sub(claim.created); age < expireAfter-5*time.Second {
		return fmt.Errorf("expiry of %s: deleted at an age of %s, before expireAfter %s", node, age.Round(time.Second), expireAfter)
	}
	var movedTo string
	if err := await(ctx, "the unprotected pod on another node", 3*time.Minute, func() (bool, string, error) {
		on, err := r.runningPodsOf(ctx, mover)
		for _, n := range on {
			if n != node {
				movedTo = n
			}
		}
		return movedTo != "", fmt.Sprintf("running on %v", on), err
	}); err != nil {
		return err
	}
	if replacement := r.history.claimNamed(claimOfNode(movedTo)); replacement.created.Before(drain.Add(-time.Second)) {
		return fmt.Errorf("expiry of %s: the unprotected pod moved to %s, made %s before the drain: expiry launches nothing ahead", node, movedTo, drain.Sub(replacement.created).Round(time.Second))
	}
	grace, _ := time.ParseDuration(cfg.TerminationGracePeriod)
	jobGot, err := r.awaitJobDeleted(ctx, jobName, drain, grace+time.Minute)
	if err != nil {
		return err
	}
	if want := grace - jobGrace*time.Second; jobGot < want-10*time.Second || jobGot > want+30*time.Second {
		return fmt.Errorf("expiry of %s: the protected job was deleted %s into the drain; want the grace period %s less the job's own %ds: %s", node, jobGot.Round(time.Second), cfg.TerminationGracePeriod, jobGrace, want)
	}
	gone, err := r.awaitGone(ctx, claimOfNode(node), 2*time.Minute)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "e2e: expiry of %s at an age of %s: the unprotected pod moved to %s, launched after the drain began; the protected job got %s; the node went %s after the drain began\n",
		node, drain.Sub(claim.created).Round(time.Second), movedTo, jobGot.Round(time.Second), gone.Sub(drain).Round(time.Second))
	res.add(ScenarioReport{Scenario: "expiry", Pool: name, Figures: map[string]any{
		"expireAfter": cfg.ExpireAfter, "secondsAgeAtExpiry": seconds(drain.Sub(claim.created)), "terminationGracePeriod": cfg.TerminationGracePeriod,
		"jobGraceSeconds": jobGrace, "secondsJobGot": seconds(jobGot), "jobEndedBy": "Karpenter, at the end of the grace period",
	}})
	return nil
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
