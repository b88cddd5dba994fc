package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// How long a state that does not resolve by itself may last before the
// run fails naming it, instead of waiting for the engine's own timeouts.
const (
	// Karpenter re-resolves a node class within seconds of a change.
	nodeClassGrace = 30 * time.Second
	// A node's device plugin starts within seconds once the node is
	// registered.
	initializationGrace = 90 * time.Second
)

// watchdog remembers since when each bad state has lasted.
type watchdog struct {
	since map[string]time.Time
}

func (w *watchdog) lasted(key string, bad bool) time.Duration {
	if w.since == nil {
		w.since = map[string]time.Time{}
	}
	if !bad {
		delete(w.since, key)
		return 0
	}
	if _, ok := w.since[key]; !ok {
		w.since[key] = time.Now()
	}
	return time.Since(w.since[key])
}

// watch fails when an EC2NodeClass has a condition that is False (a
// selector the stack did not satisfy: subnets, security groups, AMIs, the
// instance profile), or a registered NodeClaim does not become initialized
// (its GPUs never appear: the device plugin does not run there).
func (k *karpenter) watch(ctx context.Context) error {
	classes, err := k.dyn.Resource(nodeClassResource).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil
	}
	for _, c := range classes.Items {
		if c.GetDeletionTimestamp() != nil {
			continue
		}
		conditions, _, _ := unstructured.NestedSlice(c.Object, "status", "conditions")
		for _, raw := range conditions {
			cond := asMap(raw)
			kind, _ := cond["type"].(string)
			if kind == "Ready" || kind == "ValidationSucceeded" {
				continue // summaries of the others
			}
			if k.dog.lasted("class/"+c.GetName()+"/"+kind, cond["status"] == "False") > nodeClassGrace {
				return fmt.Errorf("EC2NodeClass %s: %s is False for %s: %v", c.GetName(), kind, nodeClassGrace, cond["message"])
			}
		}
	}
	claims, err := k.dyn.Resource(nodeClaimResource).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil
	}
	for _, c := range claims.Items {
		stuck := c.GetDeletionTimestamp() == nil && condition(c, "Registered") == "True" && condition(c, "Initialized") != "True"
		if k.dog.lasted("claim/"+c.GetName(), stuck) > initializationGrace {
			return fmt.Errorf("NodeClaim %s registered but not initialized after %s: %s", c.GetName(), initializationGrace, k.whyNotInitialized(ctx, c.GetName()))
		}
	}
	return nil
}

// whyNotInitialized names what a node lacks: Karpenter initializes a node
// once it is Ready, has no startup taint left and advertises the resources
// the NodeClaim expects.
func (k *karpenter) whyNotInitialized(ctx context.Context, name string) string {
	node, err := k.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "its node: " + err.Error()
	}
	pods, err := k.client.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + name, LabelSelector: "app.kubernetes.io/name=" + devicePluginApp})
	if err != nil {
		return err.Error()
	}
	var taints []string
	for _, t := range node.Spec.Taints {
		taints = append(taints, t.ToString())
	}
	if len(pods.Items) == 0 {
		return fmt.Sprintf("no NVIDIA device plugin pod runs on it, so it never advertises its GPUs (node taints: %s; labels: %v)", strings.Join(taints, ", "), node.Labels)
	}
	return fmt.Sprintf("device plugin pod %s is %s; node allocatable %v, taints %s", pods.Items[0].Name, pods.Items[0].Status.Phase, node.Status.Allocatable, strings.Join(taints, ", "))
}
