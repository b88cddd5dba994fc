package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"karpenter-gpu/internal/charts"
	"karpenter-gpu/internal/placement"
)

// addonNamespace is where EKS installs an add-on that names no namespace.
const addonNamespace = "kube-system"

// addon is an EKS add-on as the stack's state declares it.
type addon struct {
	Name, Version string
	// Values are the add-on's configuration values (JSON), empty for none.
	Values string
}

// installedAddon is what the stand-in for EKS put in the cluster for one.
type installedAddon struct {
	addon
	objects []map[string]any
}

// addons stands in for EKS's add-on manager: while the stack under test
// declares an add-on (an aws:eks/addon:Addon in its state), the upstream
// chart behind that add-on version (charts.Upstream) runs in the cluster with
// the add-on's configuration values, as EKS installs it; once the add-on
// leaves the state, its objects go.
type addons struct {
	sync.Mutex
	installed map[string]installedAddon
}

// runAddons reconciles the add-ons every second until ctx ends; the first
// error ends it.
func (r *run) runAddons(ctx context.Context, errs chan<- error) {
	for {
		if err := r.reconcileAddons(ctx); err != nil {
			if ctx.Err() == nil {
				errs <- fmt.Errorf("EKS add-ons: %w", err)
			}
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func (r *run) reconcileAddons(ctx context.Context) error {
	r.active.Lock()
	name := r.active.stack
	r.active.Unlock()
	if name == "" {
		return nil
	}
	state, err := readState(filepath.Join(r.engine.dir, "state"), platformProject, name)
	if err != nil {
		return err
	}
	want := map[string]addon{}
	for _, res := range state {
		if res.Type != "aws:eks/addon:Addon" {
			continue
		}
		a := addon{Name: fmt.Sprint(res.Outputs["addonName"]), Version: fmt.Sprint(res.Outputs["addonVersion"])}
		a.Values, _ = res.Outputs["configurationValues"].(string)
		want[a.Name] = a
	}
	r.addons.Lock()
	defer r.addons.Unlock()
	if r.addons.installed == nil {
		r.addons.installed = map[string]installedAddon{}
	}
	for _, name := range slices.Sorted(maps.Keys(r.addons.installed)) {
		if inst := r.addons.installed[name]; want[name] != inst.addon {
			if err := r.remove(ctx, inst.objects); err != nil {
				return fmt.Errorf("removing add-on %s %s: %w", name, inst.Version, err)
			}
			delete(r.addons.installed, name)
			fmt.Fprintf(os.Stderr, "e2e: EKS removed add-on %s %s\n", name, inst.Version)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		if _, ok := r.addons.installed[name]; ok {
			continue
		}
		objects, err := r.addonObjects(want[name])
		if err != nil {
			return err
		}
		if err := r.apply(ctx, objects); err != nil {
			return fmt.Errorf("installing add-on %s %s: %w", name, want[name].Version, err)
		}
		r.addons.installed[name] = installedAddon{addon: want[name], objects: objects}
		fmt.Fprintf(os.Stderr, "e2e: EKS installed add-on %s %s with values %s\n", name, want[name].Version, want[name].Values)
	}
	return nil
}

// addonObjects are the CRDs and rendered templates of the upstream chart
// behind the add-on version (v1.7.0-eksbuild.1 is chart 1.7.0), in the
// add-on namespace.
func (r *run) addonObjects(a addon) ([]map[string]any, error) {
	chartVersion, _, _ := strings.Cut(strings.TrimPrefix(a.Version, "v"), "-eksbuild")
	dir, err := charts.Upstream(a.Name, chartVersion)
	if err != nil {
		return nil, fmt.Errorf("the stack declares EKS add-on %s %s: %w", a.Name, a.Version, err)
	}
	var values map[string]any
	if a.Values != "" {
		if err := json.Unmarshal([]byte(a.Values), &values); err != nil {
			return nil, fmt.Errorf("add-on %s: configuration values %s: %w", a.Name, a.Values, err)
		}
	}
	crds, err := yamlFiles(filepath.Join(dir, "crds", "*.yaml"))
	if err != nil {
		crds = nil // a chart without CRDs
	}
	rendered, err := charts.Render(dir, charts.Release{Name: a.Name, Namespace: addonNamespace, Kubernetes: r.cluster.Version}, values)
	if err != nil {
		return nil, fmt.Errorf("add-on %s: %w", a.Name, err)
	}
	for _, obj := range rendered {
		meta, _ := obj["metadata"].(map[string]any)
		if meta != nil && meta["namespace"] == nil {
			meta["namespace"] = addonNamespace
		}
	}
	return append(crds, rendered...), nil
}

// addonsMissing says which DaemonSet of an installed add-on does not run
// on the node although it should (addonPods). Empty when none.
func (r *run) addonsMissing(ctx context.Context, node string) (string, error) {
	_, missing, taints, err := r.addonPods(ctx, node)
	if err != nil || len(missing) == 0 {
		return "", err
	}
	return fmt.Sprintf("no pod of add-on DaemonSet(s) %s runs on node %s, which should run on every node or would run there untainted (node taints: %v)",
		strings.Join(missing, ", "), node, taints), nil
}

// addonPods are the installed add-ons' DaemonSets that run a pod on the
// node, and those that should and do not: the add-on's own agent (the
// DaemonSet named after it) everywhere, any other where its pod would fit
// the node without its taints, so that only a taint keeps it away.
func (r *run) addonPods(ctx context.Context, node string) (running, missing []string, taints []corev1.Taint, err error) {
	r.addons.Lock()
	sets, everywhere := map[string]bool{}, map[string]bool{}
	for _, inst := range r.addons.installed {
		for _, obj := range inst.objects {
			if obj["kind"] == "DaemonSet" {
				meta, _ := obj["metadata"].(map[string]any)
				name := fmt.Sprint(meta["name"])
				sets[name], everywhere[name] = true, name == inst.Name
			}
		}
	}
	r.addons.Unlock()
	if len(sets) == 0 {
		return nil, nil, nil, nil
	}
	n, err := r.client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		return nil, nil, nil, err
	}
	untainted := n.DeepCopy()
	untainted.Spec.Taints = nil
	for _, name := range slices.Sorted(maps.Keys(sets)) {
		ds, err := r.client.AppsV1().DaemonSets(addonNamespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, nil, nil, err
		}
		on, err := r.daemonPodOn(ctx, ds, node)
		if err != nil {
			return nil, nil, nil, err
		}
		wanted, err := placement.Fits(ds.Spec.Template.Spec, untainted)
		if err != nil {
			return nil, nil, nil, err
		}
		switch {
		case on:
			running = append(running, name)
		case wanted || everywhere[name]:
			missing = append(missing, name)
		}
	}
	return running, missing, n.Spec.Taints, nil
}

// daemonPodOn says whether a pod of the DaemonSet runs on the node.
func (r *run) daemonPodOn(ctx context.Context, ds *appsv1.DaemonSet, node string) (bool, error) {
	sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
	if err != nil {
		return false, err
	}
	pods, err := r.client.CoreV1().Pods(ds.Namespace).List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + node, LabelSelector: sel.String()})
	if err != nil {
		return false, err
	}
	for _, p := range pods.Items {
		if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
			return true, nil
		}
	}
	return false, nil
}
