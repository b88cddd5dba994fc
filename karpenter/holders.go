package karpenter

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"

	"karpenter-gpu/wellknown"
)

// Holder is a NodeClaim that keeps a NodePool or EC2NodeClass from going,
// with the pods Karpenter still drains from its node.
type Holder struct {
	NodeClaim string
	Node      string
	// Pods are namespace/name, DaemonSets' and finished pods left out;
	// Protected are those of them karpenter.sh/do-not-disrupt protects now
	// (DoNotDisruptActive), which Karpenter does not evict before
	// terminationGracePeriod ends.
	Pods, Protected []string
}

// DeletionHolders are the NodeClaims of a NodePool (kind NodePool) or of
// an EC2NodeClass (kind EC2NodeClass) named name: Karpenter deletes the
// pool or class only once they are gone.
func DeletionHolders(ctx context.Context, client dynamic.Interface, kind, name string) ([]Holder, error) {
	claims, err := client.Resource(wellknown.NodeClaimResource).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing NodeClaims: %w", err)
	}
	var out []Holder
	for _, c := range claims.Items {
		owner := c.GetLabels()[wellknown.LabelNodePool]
		if kind == wellknown.NodeClassKind {
			owner, _, _ = unstructured.NestedString(c.Object, "spec", "nodeClassRef", "name")
		}
		if owner != name {
			continue
		}
		h := Holder{NodeClaim: c.GetName()}
		h.Node, _, _ = unstructured.NestedString(c.Object, "status", "nodeName")
		if h.Node != "" {
			if h.Pods, h.Protected, err = drainedPods(ctx, client, h.Node); err != nil {
				return nil, err
			}
		}
		out = append(out, h)
	}
	return out, nil
}

// drainedPods are the pods on node that a drain waits for.
func drainedPods(ctx context.Context, client dynamic.Interface, node string) (pods, protected []string, err error) {
	list, err := client.Resource(wellknown.PodResource).List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + node})
	if err != nil {
		return nil, nil, fmt.Errorf("listing the pods of node %s: %w", node, err)
	}
	for _, item := range list.Items {
		var pod corev1.Pod
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(item.Object, &pod); err != nil {
			return nil, nil, err
		}
		daemon := slices.ContainsFunc(pod.OwnerReferences, func(o metav1.OwnerReference) bool { return o.Kind == "DaemonSet" })
		if pod.Spec.NodeName != node || daemon || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			continue
		}
		id := pod.Namespace + "/" + pod.Name
		pods = append(pods, id)
		if DoNotDisruptActive(&pod, time.Now()) {
			protected = append(protected, id)
		}
	}
	return pods, protected, nil
}

// DoNotDisruptActive tells whether karpenter.sh/do-not-disrupt protects
// the pod now, as Karpenter reads it (core pkg/utils/pod/scheduling.go):
// "true" always; a duration ("4h") for that long after the pod started (or
// while its start is unknown); any other value not at all.
func DoNotDisruptActive(pod *corev1.Pod, now time.Time) bool {
	value, ok := pod.Annotations[wellknown.DoNotDisruptAnnotation]
	if !ok {
		return false
	}
	if value == "true" {
		return true
	}
	d, err := time.ParseDuration(value)
	if err != nil || d <= 0 {
		return false
	}
	return pod.Status.StartTime == nil || now.Sub(pod.Status.StartTime.Time) < d
}

// DescribeHolders says in one line what each holder is and runs.
func DescribeHolders(holders []Holder) string {
	var parts []string
	for _, h := range holders {
		switch {
		case h.Node == "":
			parts = append(parts, fmt.Sprintf("NodeClaim %s (no node yet)", h.NodeClaim))
		case len(h.Pods) == 0:
			parts = append(parts, fmt.Sprintf("NodeClaim %s (node %s, drained, terminating)", h.NodeClaim, h.Node))
		default:
			pods := strings.Join(h.Pods, ", ")
			if len(h.Protected) > 0 {
				pods += fmt.Sprintf("; not evicted for %s: %s", wellknown.DoNotDisruptAnnotation, strings.Join(h.Protected, ", "))
			}
			parts = append(parts, fmt.Sprintf("NodeClaim %s (node %s, draining pods %s)", h.NodeClaim, h.Node, pods))
		}
	}
	return strings.Join(parts, "; ")
}
