package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"karpenter-gpu/wellknown"
)

// history is what the run watched happen to NodeClaims and pods, with
// the times it saw each change: what a scenario measures is read from it,
// not from samples.
type history struct {
	mu     sync.Mutex
	claims map[string]*claimLife
	pods   map[string]*podLife
}

// claimLife is one NodeClaim: when it was created, marked for deletion
// and gone (its instance terminated), what it launched, and why it went.
type claimLife struct {
	name, pool, node, instanceType string
	gpus                           int
	created, deleting, gone        time.Time
	initialized                    time.Time
	// reason is Karpenter's DisruptionReason condition, when it set one.
	reason string
	// terminationDeadline is the karpenter.sh/nodeclaim-termination-
	// timestamp Karpenter set on it: when its drain ends.
	terminationDeadline time.Time
}

// podLife is one pod: where it ran, from when, and when it was asked to
// go (its deletion) and went.
type podLife struct {
	namespace, name, node     string
	running, deleting, gone   time.Time
	deletionGracePeriodSecond int64
}

func newHistory() *history {
	return &history{claims: map[string]*claimLife{}, pods: map[string]*podLife{}}
}

// watch records until ctx ends; a watch the API server ends is started
// again from a fresh list.
func (h *history) watch(ctx context.Context, dyn dynamic.Interface, client kubernetes.Interface) {
	go h.loop(ctx, func() (watch.Interface, error) {
		return dyn.Resource(nodeClaimResource).Watch(ctx, metav1.ListOptions{})
	}, h.claim)
	go h.loop(ctx, func() (watch.Interface, error) {
		return client.CoreV1().Pods("").Watch(ctx, metav1.ListOptions{})
	}, h.pod)
}

func (h *history) loop(ctx context.Context, start func() (watch.Interface, error), record func(watch.EventType, runtime.Object, time.Time)) {
	for ctx.Err() == nil {
		w, err := start()
		if err != nil {
			time.Sleep(time.Second) // no CRD yet, or the API server is busy
			continue
		}
		for ev := range w.ResultChan() {
			if ev.Type == watch.Error {
				break
			}
			record(ev.Type, ev.Object, time.Now())
		}
		w.Stop()
	}
}

func (h *history) claim(t watch.EventType, obj runtime.Object, now time.Time) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.claims[u.GetName()]
	if c == nil {
		c = &claimLife{name: u.GetName(), created: u.GetCreationTimestamp().Time}
		h.claims[u.GetName()] = c
	}
	labels := u.GetLabels()
	c.pool = labels[wellknown.LabelNodePool]
	if v := labels[wellknown.LabelInstanceType]; v != "" {
		c.instanceType = v
	}
	if n, err := strconv.Atoi(labels[wellknown.LabelGPUCount]); err == nil {
		c.gpus = n
	}
	if node, _, _ := unstructured.NestedString(u.Object, "status", "nodeName"); node != "" {
		c.node = node
	}
	if d := u.GetDeletionTimestamp(); d != nil && c.deleting.IsZero() {
		c.deleting = now
	}
	if at, err := time.Parse(time.RFC3339, u.GetAnnotations()["karpenter.sh/nodeclaim-termination-timestamp"]); err == nil {
		c.terminationDeadline = at
	}
	if condition(*u, "Initialized") == "True" && c.initialized.IsZero() {
		c.initialized = now
	}
	if condition(*u, "DisruptionReason") == "True" {
		conditions, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		for _, raw := range conditions {
			if m := asMap(raw); m["type"] == "DisruptionReason" {
				c.reason = fmt.Sprint(m["reason"])
			}
		}
	}
	if t == watch.Deleted {
		c.gone = now
	}
}

func (h *history) pod(t watch.EventType, obj runtime.Object, now time.Time) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	key := p.Namespace + "/" + p.Name
	l := h.pods[key]
	if l == nil || (!l.gone.IsZero() && t != watch.Deleted) {
		l = &podLife{namespace: p.Namespace, name: p.Name}
		h.pods[key] = l
	}
	if p.Spec.NodeName != "" {
		l.node = p.Spec.NodeName
	}
	if p.Status.Phase == corev1.PodRunning && l.running.IsZero() {
		l.running = now
	}
	if p.DeletionTimestamp != nil && l.deleting.IsZero() {
		l.deleting = now
		if p.DeletionGracePeriodSeconds != nil {
			l.deletionGracePeriodSecond = *p.DeletionGracePeriodSeconds
		}
	}
	if t == watch.Deleted {
		l.gone = now
		if l.deleting.IsZero() {
			l.deleting = now
		}
	}
}

// claimsOf are the pool's NodeClaims seen, oldest first.
func (h *history) claimsOf(pool string) []claimLife {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []claimLife
	for _, c := range h.claims {
		if c.pool == pool {
			out = append(out, *c)
		}
	}
	slices.SortFunc(out, func(a, b claimLife) int { return a.created.Compare(b.created) })
	return out
}

// claim is one NodeClaim as seen, the zero value for one never seen.
func (h *history) claimNamed(name string) claimLife {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c := h.claims[name]; c != nil {
		return *c
	}
	return claimLife{}
}

// podNamed is one pod as seen.
func (h *history) podNamed(namespace, name string) podLife {
	h.mu.Lock()
	defer h.mu.Unlock()
	if p := h.pods[namespace+"/"+name]; p != nil {
		return *p
	}
	return podLife{}
}

// peakGPUs is the most GPUs the pool's NodeClaims held at once between
// from and to: each counts from its creation until it was gone.
func (h *history) peakGPUs(pool string, from, to time.Time) (peak int, at time.Time) {
	type edge struct {
		at   time.Time
		gpus int
	}
	var edges []edge
	for _, c := range h.claimsOf(pool) {
		end := c.gone
		if end.IsZero() || end.After(to) {
			end = to
		}
		start := c.created
		if start.Before(from) {
			start = from
		}
		if !end.After(start) {
			continue
		}
		edges = append(edges, edge{start, c.gpus}, edge{end, -c.gpus})
	}
	// Ends before starts at the same instant: a node gone as another comes
	// is not held twice.
	slices.SortFunc(edges, func(a, b edge) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return a.gpus - b.gpus
	})
	held := 0
	for _, e := range edges {
		if held += e.gpus; held > peak {
			peak, at = held, e.at
		}
	}
	return peak, at
}
