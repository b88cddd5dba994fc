package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"karpenter-gpu/e2e/kubelet"
)

// simulatedBy labels the nodes the harness made, so snapshots leave them out.
const simulatedBy = "karpenter-gpu-e2e/simulated"

// node is a Ready-able kwok node with the given labels, taints and
// allocatable resources.
func node(name string, labels map[string]string, taints []corev1.Taint, capacity corev1.ResourceList) *corev1.Node {
	l := map[string]string{
		"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "type": "kwok", simulatedBy: "true",
	}
	for k, v := range labels {
		l[k] = v
	}
	if _, ok := l["kubernetes.io/arch"]; !ok {
		l["kubernetes.io/arch"] = "amd64"
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l, Annotations: map[string]string{kubelet.KwokNodeAnnotation: "fake"}},
		Spec:       corev1.NodeSpec{Taints: taints},
		Status:     corev1.NodeStatus{Capacity: capacity, Allocatable: capacity},
	}
}

// addSystemNodes adds the nodes a cluster has before any GPU: where the
// Karpenter controller runs (never on a Karpenter node).
func addSystemNodes(ctx context.Context, client kubernetes.Interface) error {
	capacity := corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse("8"), corev1.ResourceMemory: resource.MustParse("32Gi"), corev1.ResourcePods: resource.MustParse("110"),
	}
	for _, zone := range []string{"us-west-2a", "us-west-2b"} {
		n := node("system-"+zone, map[string]string{"topology.kubernetes.io/zone": zone, "eks.amazonaws.com/nodegroup": "system"}, nil, capacity)
		if _, err := client.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	return nil
}

// snapshot names every object the API server holds that a stack could
// have made: all listable resources, without what the control plane keeps
// for itself (events, leases, the harness's nodes).
func snapshot(ctx context.Context, disco discovery.DiscoveryInterface, dyn dynamic.Interface) (map[string]bool, error) {
	lists, err := disco.ServerPreferredResources()
	if err != nil {
		return nil, err
	}
	skip := map[string]bool{"events": true, "leases": true, "nodes": true, "endpoints": true, "endpointslices": true, "componentstatuses": true}
	out := map[string]bool{}
	for _, list := range lists {
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		if err != nil {
			return nil, err
		}
		for _, r := range list.APIResources {
			if skip[r.Name] || strings.Contains(r.Name, "/") || !slices.Contains(r.Verbs, "list") {
				continue
			}
			objects, err := dyn.Resource(gv.WithResource(r.Name)).List(ctx, metav1.ListOptions{})
			if err != nil {
				if apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err) {
					continue // a CRD going away while we list
				}
				return nil, fmt.Errorf("listing %s: %w", r.Name, err)
			}
			for _, o := range objects.Items {
				out[fmt.Sprintf("%s %s/%s", r.Name, o.GetNamespace(), o.GetName())] = true
			}
		}
	}
	return out, nil
}

// object fetches one object by apiVersion, kind plural and name.
func object(ctx context.Context, dyn dynamic.Interface, apiVersion, plural, namespace, name string) (*unstructured.Unstructured, error) {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return nil, err
	}
	return dyn.Resource(gv.WithResource(plural)).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
}
