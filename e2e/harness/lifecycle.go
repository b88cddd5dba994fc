package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"karpenter-gpu/e2e/kubelet"
	"karpenter-gpu/e2e/verify"
	"karpenter-gpu/examples/gpu-workload/workload"
	"karpenter-gpu/versions"
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
	// A pod runs once its node is Ready with GPUs; Karpenter marks the
	// NodeClaim Initialized on its own next pass, which on a busy machine
	// comes a little later.
	for _, pool := range served {
		err := await(ctx, "an initialized NodeClaim in pool "+pool, time.Minute, func() (bool, string, error) {
			err := r.initialized(ctx, pool)
			if err != nil {
				return false, err.Error(), nil
			}
			return true, "", nil
		})
		if err != nil {
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
	pool, err := r.dyn.Resource(nodePoolResource).Get(ctx, r.under.workloadPool, metav1.GetOptions{})
	if err != nil {
		return err
	}
	after, _, _ := unstructured.NestedString(pool.Object, "spec", "disruption", "consolidateAfter")
	consolidateAfter, err := time.ParseDuration(after)
	if err != nil {
		return fmt.Errorf("NodePool %s consolidateAfter %q: %w", r.under.workloadPool, after, err)
	}
	wl, err := r.engine.stack(ctx, workloadProject, r.under.name, workload.Program, nil, nil)
	if err != nil {
		return err
	}
	nodes, err := r.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: wellknown.LabelNodePool + "=" + r.under.workloadPool})
	if err != nil {
		return err
	}
	start := time.Now()
	if _, err := r.destroyOp(ctx, wl, "workload-destroy"); err != nil {
		return err
	}
	// consolidateAfter, plus Karpenter's own pace: validation, then the
	// disruption loop, a few nodes per pass within the pool's budget
	// (about 25 s a pass here).
	pace := 6*time.Minute + time.Duration(len(nodes.Items))*15*time.Second
	if err := r.waitPoolEmpty(ctx, r.under.workloadPool, consolidateAfter+pace); err != nil {
		return fmt.Errorf("%w (%s after the workload went)", err, time.Since(start).Round(time.Second))
	}
	res.toZero = time.Since(start)
	fmt.Fprintf(os.Stderr, "e2e: pool %s at zero %s after its workload went\n", r.under.workloadPool, res.toZero.Round(time.Second))
	if res.toZero < consolidateAfter {
		return fmt.Errorf("pool %s lost its node %s after its workload went, before its consolidateAfter %s: something other than consolidation removed it",
			r.under.workloadPool, res.toZero.Round(time.Second), consolidateAfter)
	}
	res.add(ScenarioReport{Scenario: "to zero", Pool: r.under.workloadPool, Figures: map[string]any{
		"consolidateAfter": after, "secondsToZero": int(res.toZero.Seconds()),
	}})
	// The replicas that come back are those a spot interruption later
	// hits: they should find spot as Karpenter would without a shortage.
	if err := r.awaitShortageForgotten(ctx); err != nil {
		return err
	}
	if err := r.workload(ctx, res); err != nil {
		return err
	}
	return r.reportPods(ctx, res, "from zero again (workload)", "default", "app=inference")
}

// waitPoolEmpty waits until the pool has no NodeClaim and no running
// instance.
func (r *run) waitPoolEmpty(ctx context.Context, pool string, timeout time.Duration) error {
	return await(ctx, "pool "+pool+" empty", timeout, func() (bool, string, error) {
		claims, err := r.dyn.Resource(nodeClaimResource).List(ctx, metav1.ListOptions{LabelSelector: wellknown.LabelNodePool + "=" + pool})
		if err != nil {
			return false, "", err
		}
		running, err := r.poolInstances(pool)
		if err != nil {
			return false, "", err
		}
		return len(claims.Items) == 0 && len(running) == 0, fmt.Sprintf("%d NodeClaims and %d running instances", len(claims.Items), len(running)), nil
	})
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

// sharingProbe names the Deployment of the sharing and limits scenario.
const sharingProbe = "sharing-probe"

// poolOutput is a pool of the gpuPools output, as this scenario reads it.
type poolOutput struct {
	workload.Pool
	MaxGPUs         int      `json:"maxGPUs"`
	SharingReplicas int      `json:"sharingReplicas"`
	InstanceTypes   []string `json:"instanceTypes"`
	CapacityTypes   []string `json:"capacityTypes"`
	NodeClass       string   `json:"nodeClass"`
	// HourlyCostCeiling.DrainingGPUs is what the stack says draining
	// nodes may hold beyond maxGPUs.
	HourlyCostCeiling struct {
		DrainingGPUs int `json:"drainingGPUs"`
	} `json:"hourlyCostCeiling"`
}

// sharingAndLimits: one more pod of one GPU than the pool can hold
// (maxGPUs × its time-slicing replicas R). Karpenter launches until the
// pool's limit; then every slice of the pool's nodes is taken, at least
// one pod stays Pending, and the nodes together have no more than maxGPUs
// GPUs (so each serves R pods).
func (r *run) sharingAndLimits(ctx context.Context, res *result) error {
	pools, err := gpuPools(res)
	if err != nil {
		return err
	}
	pool, ok := pools[r.under.workloadPool]
	if !ok {
		return fmt.Errorf("the gpuPools output has no pool %s", r.under.workloadPool)
	}
	replicas := max(pool.SharingReplicas, 1)
	slices := pool.MaxGPUs * replicas
	if err := r.createProbe(ctx, sharingProbe, pool, int32(slices+1)); err != nil {
		return err
	}
	defer func() {
		_ = r.client.AppsV1().Deployments("default").Delete(context.WithoutCancel(ctx), sharingProbe, metav1.DeleteOptions{})
	}()
	var state poolState
	full := func() (bool, string, error) {
		var err error
		if state, err = r.poolState(ctx, r.under.workloadPool, pool.GPUResourceName); err != nil {
			return false, "", err
		}
		return state.slicesUsed == slices && state.probesPending >= 1 && state.launching == 0,
			fmt.Sprintf("%d of %d GPU slices taken, %d probe pods pending, %d NodeClaims launching, %d GPUs on %d nodes", state.slicesUsed, slices, state.probesPending, state.launching, state.gpus, state.nodes), nil
	}
	if err := await(ctx, fmt.Sprintf("pool %s (maxGPUs %d, R %d) full", r.under.workloadPool, pool.MaxGPUs, replicas), 4*time.Minute, steady(20*time.Second, full)); err != nil {
		return err
	}
	// With every slice taken and no more than maxGPUs GPUs, each GPU
	// serves R pods.
	if state.gpus > pool.MaxGPUs {
		return fmt.Errorf("pool %s has %d GPUs on %d nodes, over its maxGPUs %d", r.under.workloadPool, state.gpus, state.nodes, pool.MaxGPUs)
	}
	fmt.Fprintf(os.Stderr, "e2e: pool %s full: %d slices of %d GPUs on %d nodes, %d pod(s) pending\n", r.under.workloadPool, state.slicesUsed, state.gpus, state.nodes, state.probesPending)
	res.add(ScenarioReport{Scenario: "time-slicing and limits", Pool: r.under.workloadPool, Figures: map[string]any{
		"maxGPUs": pool.MaxGPUs, "sharingReplicas": replicas, "gpus": state.gpus, "nodes": state.nodes,
		"slicesTaken": state.slicesUsed, "podsPending": state.probesPending,
	}})
	return r.client.AppsV1().Deployments("default").Delete(ctx, sharingProbe, metav1.DeleteOptions{})
}

// poolState is a pool's nodes and the GPU slices its pods take.
type poolState struct {
	nodes, gpus, slicesUsed, probesPending, launching int
}

func (r *run) poolState(ctx context.Context, pool, resource string) (poolState, error) {
	var s poolState
	nodes, err := r.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: wellknown.LabelNodePool + "=" + pool})
	if err != nil {
		return s, err
	}
	gpusOf := map[string]int{}
	for _, n := range nodes.Items {
		gpus, err := kubelet.GPUCount(&n)
		if err != nil {
			return s, err
		}
		s.nodes++
		s.gpus += gpus
		gpusOf[n.Name] = gpus
	}
	pods, err := r.client.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return s, err
	}
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		if p.Labels["app"] == sharingProbe && p.Spec.NodeName == "" {
			s.probesPending++
		}
		if _, onPool := gpusOf[p.Spec.NodeName]; !onPool {
			continue
		}
		for _, c := range p.Spec.Containers {
			q := c.Resources.Limits[corev1.ResourceName(resource)]
			s.slicesUsed += int(q.Value())
		}
	}
	claims, err := r.dyn.Resource(nodeClaimResource).List(ctx, metav1.ListOptions{LabelSelector: wellknown.LabelNodePool + "=" + pool})
	if err != nil {
		return s, err
	}
	for _, c := range claims.Items {
		if condition(c, "Initialized") != "True" {
			s.launching++
		}
	}
	return s, nil
}

// createProbe creates a scenario's Deployment: pods of one GPU each with
// the pool's selector and tolerations, as a workload takes them from the
// gpuPools output, labelled app=name.
func (r *run) createProbe(ctx context.Context, name string, pool poolOutput, replicas int32) error {
	return r.createPods(ctx, name, pool, replicas, 1)
}

// tolerations are the pool's, as a pod spec takes them.
func (pool poolOutput) podTolerations() []corev1.Toleration {
	var out []corev1.Toleration
	for _, t := range pool.Tolerations {
		out = append(out, corev1.Toleration{Key: t.Key, Operator: corev1.TolerationOperator(t.Operator), Value: t.Value, Effect: corev1.TaintEffect(t.Effect)})
	}
	return out
}

// createPods is createProbe with gpus GPUs a pod (none: a pod that runs on
// the pool's nodes without a GPU, such as a job's sidecar service).
func (r *run) createPods(ctx context.Context, name string, pool poolOutput, replicas int32, gpus int64) error {
	labels := map[string]string{"app": name}
	tolerations := pool.podTolerations()
	limits := corev1.ResourceList{}
	if gpus > 0 {
		limits[corev1.ResourceName(pool.GPUResourceName)] = *resource.NewQuantity(gpus, resource.DecimalSI)
	}
	_, err := r.client.AppsV1().Deployments("default").Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					NodeSelector: pool.NodeSelector, Tolerations: tolerations,
					Containers: []corev1.Container{{
						Name: "probe", Image: versions.PauseImage,
						Resources: corev1.ResourceRequirements{Limits: limits},
					}},
				},
			},
		},
	}, metav1.CreateOptions{})
	return err
}
