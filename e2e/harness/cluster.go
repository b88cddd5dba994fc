package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"karpenter-gpu/internal/placement"
	"karpenter-gpu/wellknown"
)

var (
	nodePoolResource  = schema.GroupVersionResource{Group: "karpenter.sh", Version: "v1", Resource: "nodepools"}
	nodeClassResource = schema.GroupVersionResource{Group: "karpenter.k8s.aws", Version: "v1", Resource: "ec2nodeclasses"}
)

// kwokNode marks a node kwok simulates.
const kwokNode = "kwok.x-k8s.io/node"

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
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l, Annotations: map[string]string{kwokNode: "fake"}},
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

// gpusPerSimulatedNode is the nvidia.com/gpu a simulated GPU node offers
// once the device plugin has registered it.
const gpusPerSimulatedNode = "4"

// karpenter does, for the objects in the API server, the part of
// Karpenter's work the run depends on: for each NodePool it brings up one
// node shaped by the pool (its template labels and taints, a label per
// requirement) and removes it when the pool goes; it holds every
// EC2NodeClass with Karpenter's termination finalizer and releases a class
// being deleted only while the controller's Deployment exists and no node
// of the class is left, as the real controller does. Kubernetes' scheduler
// then decides whether the smoke test, the device plugin and workloads land
// on the nodes; a destroy that removed the controller first would hang.
type karpenter struct {
	dyn    dynamic.Interface
	client kubernetes.Interface
	nodes  map[string]string // simulated node -> its EC2NodeClass
}

func simulateKarpenter(ctx context.Context, dyn dynamic.Interface, client kubernetes.Interface, errs chan<- error) {
	k := &karpenter{dyn: dyn, client: client, nodes: map[string]string{}}
	for {
		if err := k.reconcilePools(ctx); err != nil {
			errs <- err
			return
		}
		if err := k.reconcileNodeClasses(ctx); err != nil {
			errs <- err
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func (k *karpenter) reconcilePools(ctx context.Context) error {
	pools, err := k.dyn.Resource(nodePoolResource).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil // not installed yet, or going away
	}
	current := map[string]bool{}
	for _, np := range pools.Items {
		name := "gpu-" + np.GetName()
		current[name] = true
		if _, up := k.nodes[name]; up || np.GetDeletionTimestamp() != nil {
			continue
		}
		n, err := placement.Node(np.Object)
		if err != nil {
			return fmt.Errorf("NodePool %s: %w", np.GetName(), err)
		}
		capacity := corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("16Gi"), corev1.ResourcePods: resource.MustParse("110"),
			wellknown.GPUResource: resource.MustParse(gpusPerSimulatedNode),
		}
		if _, err := k.client.CoreV1().Nodes().Create(ctx, node(name, n.Labels, n.Spec.Taints, capacity), metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("simulated node for NodePool %s: %w", np.GetName(), err)
		}
		k.nodes[name] = n.Labels[wellknown.LabelEC2NodeClass]
	}
	for name := range k.nodes {
		if !current[name] {
			if err := k.terminate(ctx, name); err != nil {
				return err
			}
			delete(k.nodes, name)
		}
	}
	return nil
}

// terminate removes a node with the pods bound to it, as a terminated
// instance takes its pods along (without this, the pod garbage collector
// finds them orphaned only after its quarantine of about a minute).
func (k *karpenter) terminate(ctx context.Context, name string) error {
	pods, err := k.client.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + name})
	if err != nil {
		return err
	}
	now := int64(0)
	for _, p := range pods.Items {
		if err := k.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &now}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	if err := k.client.CoreV1().Nodes().Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return nil
}

func (k *karpenter) reconcileNodeClasses(ctx context.Context) error {
	classes, err := k.dyn.Resource(nodeClassResource).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil
	}
	for _, nc := range classes.Items {
		finalizers := nc.GetFinalizers()
		held := slices.Contains(finalizers, wellknown.NodeClassTerminationFinalizer)
		switch {
		case nc.GetDeletionTimestamp() == nil && !held:
			nc.SetFinalizers(append(finalizers, wellknown.NodeClassTerminationFinalizer))
		case nc.GetDeletionTimestamp() != nil && held && k.controllerRuns(ctx) && !k.classInUse(nc.GetName()):
			nc.SetFinalizers(slices.DeleteFunc(finalizers, func(f string) bool { return f == wellknown.NodeClassTerminationFinalizer }))
		default:
			continue
		}
		if _, err := k.dyn.Resource(nodeClassResource).Update(ctx, &nc, metav1.UpdateOptions{}); err != nil && !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
			return fmt.Errorf("EC2NodeClass %s finalizer: %w", nc.GetName(), err)
		}
	}
	return nil
}

// controllerRuns tells whether a Karpenter controller Deployment exists.
func (k *karpenter) controllerRuns(ctx context.Context) bool {
	deployments, err := k.client.AppsV1().Deployments("").List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=karpenter"})
	return err == nil && len(deployments.Items) > 0
}

func (k *karpenter) classInUse(name string) bool {
	for _, class := range k.nodes {
		if class == name {
			return true
		}
	}
	return false
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
