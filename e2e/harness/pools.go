package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"karpenter-gpu/wellknown"
)

// poolProbe names the Deployment that asks a pool for one GPU.
func poolProbe(pool string) string { return "probe-" + pool }

// gpuPools is the stack's gpuPools output.
func gpuPools(res *result) (map[string]poolOutput, error) {
	raw, err := json.Marshal(res.outputs["gpuPools"])
	if err != nil {
		return nil, err
	}
	var pools map[string]poolOutput
	if err := json.Unmarshal(raw, &pools); err != nil {
		return nil, fmt.Errorf("the gpuPools output: %w", err)
	}
	if len(pools) == 0 {
		return nil, fmt.Errorf("the gpuPools output names no pool")
	}
	return pools, nil
}

// everyPool: for every pool of the stack at once, a pod of one GPU made
// from the pool's gpuPools output waits; Karpenter launches a node of that
// pool for it (only types plan.md lists, of a capacity type the pool
// allows), the device plugin makes its GPUs allocatable, the NodeClaim is
// Initialized and the pod runs there, and so does every node agent that
// should: the EFA plugin on an EFA class, the EKS add-ons' DaemonSets.
func (r *run) everyPool(ctx context.Context, res *result) error {
	pools, err := gpuPools(res)
	if err != nil {
		return err
	}
	names := slices.Sorted(maps.Keys(pools))
	for _, name := range names {
		if err := r.createProbe(ctx, poolProbe(name), pools[name], 1); err != nil {
			return err
		}
	}
	defer func() {
		for _, name := range names {
			_ = r.client.AppsV1().Deployments("default").Delete(context.WithoutCancel(ctx), poolProbe(name), metav1.DeleteOptions{})
		}
	}()
	waiting := slices.Clone(names)
	err = await(ctx, "a running pod on a node of every pool", 5*time.Minute, func() (bool, string, error) {
		var still []string
		for _, name := range waiting {
			pod, err := r.probePod(ctx, poolProbe(name))
			if err != nil {
				return false, "", err
			}
			if pod == nil || pod.Status.Phase != corev1.PodRunning {
				still = append(still, name)
				continue
			}
			if on, err := r.poolOf(ctx, pod.Spec.NodeName); err != nil || on != name {
				return false, "", fmt.Errorf("pool %s's probe pod runs on %q, a node of pool %q (%v)", name, pod.Spec.NodeName, on, err)
			}
			if missing, err := r.agentsMissing(ctx, pod.Spec.NodeName); err != nil || missing != "" {
				if err != nil {
					return false, "", err
				}
				still = append(still, name)
				continue
			}
			rep, err := r.fromZeroReport(ctx, "from zero (every pool)", pod)
			if err != nil {
				return false, "", fmt.Errorf("report of pool %s: %w", name, err)
			}
			if rep.AddonPods, _, _, err = r.addonPods(ctx, pod.Spec.NodeName); err != nil {
				return false, "", err
			}
			if len(rep.AddonPods) > 0 {
				fmt.Fprintf(os.Stderr, "e2e: pool %s's %s node runs add-on DaemonSets %s\n", name, rep.Launched["instanceType"], strings.Join(rep.AddonPods, ", "))
			}
			if err := r.checkReserved(ctx, name, pools[name], rep); err != nil {
				return false, "", err
			}
			if err := r.candidatesArePlanned(ctx, name, pools[name], pod.Spec.NodeName); err != nil {
				return false, "", err
			}
			res.add(rep)
		}
		waiting = still
		return len(waiting) == 0, "waiting for " + strings.Join(waiting, ", ") + ": " + r.pendingReasons(ctx, waiting), nil
	})
	if err != nil {
		return err
	}
	served, err := r.checkLaunches(ctx, res)
	if err != nil {
		return err
	}
	for _, name := range names {
		if !slices.Contains(served, name) {
			return fmt.Errorf("pool %s's pod runs, but Karpenter launched no instance for the pool", name)
		}
	}
	res.served = served
	fmt.Fprintf(os.Stderr, "e2e: every pool served from zero: %s\n", strings.Join(names, ", "))
	for _, name := range names {
		if err := r.client.AppsV1().Deployments("default").Delete(ctx, poolProbe(name), metav1.DeleteOptions{}); err != nil {
			return err
		}
	}
	return nil
}

// checkReserved: a pool that buys reserved capacity on a class whose
// selector terms match the test account's reservations launched into one
// of them, and its EC2NodeClass lists them in its status.
func (r *run) checkReserved(ctx context.Context, name string, pool poolOutput, rep ScenarioReport) error {
	ids := r.fixtures.reservedFor[pool.NodeClass]
	if len(ids) == 0 || !slices.Contains(pool.CapacityTypes, wellknown.CapacityTypeReserved) {
		return nil
	}
	if got := rep.Launched["capacityType"]; got != wellknown.CapacityTypeReserved {
		return fmt.Errorf("pool %s may buy reserved capacity and the account holds reservations %v for class %s, but it launched %s %s",
			name, ids, pool.NodeClass, got, rep.Launched["instanceType"])
	}
	class, err := r.dyn.Resource(nodeClassResource).Get(ctx, pool.NodeClass, metav1.GetOptions{})
	if err != nil {
		return err
	}
	listed, _, _ := unstructured.NestedSlice(class.Object, "status", "capacityReservations")
	var found []string
	for _, cr := range listed {
		if m, ok := cr.(map[string]any); ok {
			found = append(found, fmt.Sprint(m["id"]))
		}
	}
	for _, id := range ids {
		if !slices.Contains(found, id) {
			return fmt.Errorf("EC2NodeClass %s lists reservations %v in its status, not the account's %s", pool.NodeClass, found, id)
		}
	}
	fmt.Fprintf(os.Stderr, "e2e: pool %s launched %s into reservation(s) %v\n", name, rep.Launched["instanceType"], ids)
	return nil
}

// candidatesArePlanned: the instance types Karpenter considered for the
// pool's node (its NodeClaim's instance-type requirement, what the
// controller's instance types, compatibility checks and offerings left)
// are exactly those the gpuPools output and plan.md list for the pool.
func (r *run) candidatesArePlanned(ctx context.Context, name string, pool poolOutput, node string) error {
	claim, err := r.dyn.Resource(nodeClaimResource).Get(ctx, claimOfNode(node), metav1.GetOptions{})
	if err != nil {
		return err
	}
	var considered []string
	requirements, _, _ := unstructured.NestedSlice(claim.Object, "spec", "requirements")
	for _, raw := range requirements {
		req := asMap(raw)
		if req["key"] != wellknown.LabelInstanceType || req["operator"] != "In" {
			continue
		}
		values, _ := req["values"].([]any)
		for _, v := range values {
			considered = append(considered, fmt.Sprint(v))
		}
	}
	planned := slices.Sorted(slices.Values(pool.InstanceTypes))
	slices.Sort(considered)
	if !slices.Equal(considered, planned) {
		extra := slices.DeleteFunc(slices.Clone(considered), func(t string) bool { return slices.Contains(planned, t) })
		missing := slices.DeleteFunc(slices.Clone(planned), func(t string) bool { return slices.Contains(considered, t) })
		return fmt.Errorf("pool %s: Karpenter considered instance types %v for NodeClaim %s; plan.md lists %v (Karpenter's but not planned: %v; planned but not Karpenter's: %v)",
			name, considered, claim.GetName(), planned, extra, missing)
	}
	return nil
}

// agentsMissing says which node agent should run on the node and does not
// yet: the EFA device plugin, the add-ons' DaemonSets. Empty when none.
func (r *run) agentsMissing(ctx context.Context, node string) (string, error) {
	var missing []string
	for _, check := range []func(context.Context, string) (string, error){r.efaMissing, r.addonsMissing} {
		m, err := check(ctx, node)
		if err != nil {
			return "", err
		}
		if m != "" {
			missing = append(missing, m)
		}
	}
	return strings.Join(missing, "; "), nil
}

// efaMissing says what is missing when the node's EC2NodeClass attaches
// EFA interfaces that the node does not advertise: the EFA device plugin's
// pod has not come to it. Empty when nothing is.
func (r *run) efaMissing(ctx context.Context, node string) (string, error) {
	n, err := r.client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	want, err := efaInterfaces(ctx, r.dyn, n)
	if err != nil || want == 0 {
		return "", err
	}
	if got := n.Status.Allocatable[wellknown.EFAResource]; got.Value() != int64(want) {
		return fmt.Sprintf("node %s advertises %s %s of the %d interfaces its class attaches: no EFA device plugin pod runs there", node, got.String(), wellknown.EFAResource, want), nil
	}
	return "", nil
}

// probePod is the probe Deployment's pod, nil while there is none.
func (r *run) probePod(ctx context.Context, app string) (*corev1.Pod, error) {
	pods, err := r.client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		return nil, err
	}
	for i := range pods.Items {
		if pods.Items[i].DeletionTimestamp == nil {
			return &pods.Items[i], nil
		}
	}
	return nil, nil
}

// pendingReasons says why the waiting pools' probe pods are not running:
// the scheduler's condition and the pool's NodeClaims.
func (r *run) pendingReasons(ctx context.Context, pools []string) string {
	var out []string
	for _, name := range pools {
		pod, err := r.probePod(ctx, poolProbe(name))
		reason := "no pod"
		if err != nil {
			reason = err.Error()
		} else if pod != nil {
			reason = "phase " + string(pod.Status.Phase)
			for _, c := range pod.Status.Conditions {
				if c.Type == corev1.PodScheduled && c.Status != corev1.ConditionTrue {
					reason += ", unschedulable: " + c.Message
				}
			}
		}
		if err := r.initialized(ctx, name); err != nil {
			reason += "; " + err.Error()
		}
		if pod != nil && pod.Spec.NodeName != "" {
			if missing, _ := r.agentsMissing(ctx, pod.Spec.NodeName); missing != "" {
				reason += "; " + missing
			}
		}
		out = append(out, name+": "+reason)
	}
	return strings.Join(out, "\n  ")
}
