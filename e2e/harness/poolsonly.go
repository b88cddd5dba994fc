package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"

	"karpenter-gpu/config"
	"karpenter-gpu/internal/charts"
	"karpenter-gpu/internal/gomod"
	"karpenter-gpu/wellknown"
)

// existingNodeRole is the node role of the Karpenter someone else installed.
func (r *run) existingNodeRole() string { return "KarpenterNodeRole-" + r.under.clusterName }

// poolsOnly: on a cluster whose Karpenter someone else installed (the
// pinned module's CRDs and a controller Deployment), karpenter.install false
// adds the GPU pools to it with its node role: the stack's own reads of the
// cluster find that Karpenter, up declares pools and no controller, refresh
// and a second up change nothing, and destroy leaves that Karpenter as it was.
func (r *run) poolsOnly(ctx context.Context, res *result) error {
	if err := r.installForeignKarpenter(ctx); err != nil {
		return fmt.Errorf("installing a Karpenter of someone else's: %w", err)
	}
	before, err := snapshot(ctx, r.client.Discovery(), r.dyn)
	if err != nil {
		return err
	}
	cl := r.cluster
	cl.Roles = map[string]string{r.existingNodeRole(): r.existingNodeRole()}
	st, err := r.platformOn(ctx, "dev-pools-only", cl)
	if err != nil {
		return err
	}
	// The controller's own settings, and its node role, belong to whoever
	// installed it.
	for _, key := range append(slices.Clone(config.ControllerKeys), "nodeRole.extraPolicyArns") {
		if err := st.RemoveConfigWithOptions(ctx, platformProject+":"+key, &auto.ConfigOptions{Path: true}); err != nil {
			return err
		}
	}
	for key, value := range map[string]string{"karpenter.install": "false", "nodeRole.name": r.existingNodeRole()} {
		if err := st.SetConfigWithOptions(ctx, platformProject+":"+key, auto.ConfigValue{Value: value}, &auto.ConfigOptions{Path: true}); err != nil {
			return err
		}
	}
	if _, _, err := r.upOp(ctx, st, "up"); err != nil {
		return err
	}
	classes, err := r.dyn.Resource(nodeClassResource).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for _, nc := range classes.Items {
		if role, _, _ := unstructured.NestedString(nc.Object, "spec", "role"); role != r.existingNodeRole() {
			return fmt.Errorf("EC2NodeClass %s uses role %q, not the existing Karpenter's %s", nc.GetName(), role, r.existingNodeRole())
		}
	}
	if len(classes.Items) == 0 {
		return fmt.Errorf("no EC2NodeClass declared")
	}
	releases, err := r.client.CoreV1().Secrets("").List(ctx, metav1.ListOptions{LabelSelector: "owner=helm,name in (karpenter,karpenter-crd)"})
	if err != nil {
		return err
	}
	if len(releases.Items) > 0 {
		return fmt.Errorf("pools-only mode installed a Karpenter release: %s/%s", releases.Items[0].Namespace, releases.Items[0].Name)
	}
	if _, err := r.refreshAndUp(ctx, st); err != nil {
		return err
	}
	if _, err := r.destroyOp(ctx, st, "destroy"); err != nil {
		return err
	}
	left, err := r.leftOver(ctx, before)
	res.poolsOnlyLeft = len(left)
	return err
}

// installForeignKarpenter installs Karpenter as another team would have,
// without Helm's release records (`helm template | kubectl apply`): the
// pinned module's CRDs and its controller chart rendered for the cluster,
// which the real controller then runs for, as for the stack's own.
func (r *run) installForeignKarpenter(ctx context.Context) error {
	dir, err := gomod.Dir(gomod.Karpenter)
	if err != nil {
		return err
	}
	objects, err := yamlFiles(filepath.Join(dir, "pkg", "apis", "crds", "*.yaml"))
	if err != nil {
		return err
	}
	chart, err := charts.KarpenterChart("karpenter")
	if err != nil {
		return err
	}
	rendered, err := charts.Render(chart, charts.Release{Name: "karpenter", Namespace: "kube-system", Kubernetes: r.cluster.Version}, map[string]any{
		// The alpha gates a time-sliced pool and headroom need, as a team
		// that runs them would have turned them on.
		"settings": map[string]any{"clusterName": r.under.clusterName, "featureGates": map[string]any{
			wellknown.FeatureGateNodeOverlay: true, wellknown.FeatureGateCapacityBuffer: true,
		}},
		"serviceAccount": map[string]any{"annotations": map[string]any{"eks.amazonaws.com/role-arn": "arn:aws:iam::" + r.cluster.AccountID + ":role/KarpenterController-" + r.under.clusterName}},
		"replicas":       1,
	})
	if err != nil {
		return err
	}
	if err := r.apply(ctx, append(objects, rendered...)); err != nil {
		return err
	}
	// Its pod comes once the ReplicaSet controller sees the service account:
	// wait for it, so that it is in the snapshot destroy is held to.
	return await(ctx, "someone else's Karpenter pod running", 2*time.Minute, func() (bool, string, error) {
		pods, err := r.client.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=karpenter"})
		if err != nil {
			return false, "", err
		}
		running := 0
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodRunning {
				running++
			}
		}
		return running == 1, fmt.Sprintf("%d of %d pods running", running, len(pods.Items)), nil
	})
}

// apply creates the objects in order, as `kubectl apply` would.
func (r *run) apply(ctx context.Context, objects []map[string]any) error {
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(r.client.Discovery()))
	for _, obj := range objects {
		u := &unstructured.Unstructured{Object: obj}
		res, err := r.resourceOf(mapper, u)
		if err == nil {
			_, err = res.Create(ctx, u, metav1.CreateOptions{})
		}
		if err != nil {
			return fmt.Errorf("%s %s: %w", u.GetKind(), u.GetName(), err)
		}
		if u.GetKind() == "CustomResourceDefinition" {
			mapper.Reset()
		}
	}
	return nil
}

// remove deletes the objects in reverse order, as `kubectl delete` of what
// apply created; objects already gone are no error.
func (r *run) remove(ctx context.Context, objects []map[string]any) error {
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(r.client.Discovery()))
	for _, obj := range slices.Backward(objects) {
		u := &unstructured.Unstructured{Object: obj}
		res, err := r.resourceOf(mapper, u)
		if err == nil {
			err = res.Delete(ctx, u.GetName(), metav1.DeleteOptions{})
		}
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("%s %s: %w", u.GetKind(), u.GetName(), err)
		}
	}
	return nil
}

// resourceOf is the dynamic client of the object's kind, in its namespace
// for a namespaced kind.
func (r *run) resourceOf(mapper meta.RESTMapper, u *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	gvk := u.GroupVersionKind()
	m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, err
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		return r.dyn.Resource(m.Resource).Namespace(u.GetNamespace()), nil
	}
	return r.dyn.Resource(m.Resource), nil
}

// yamlFiles reads one object from each file the pattern matches.
func yamlFiles(pattern string) ([]map[string]any, error) {
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no files %s (%v)", pattern, err)
	}
	var objects []map[string]any
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var obj map[string]any
		if err := yaml.Unmarshal(raw, &obj); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		objects = append(objects, obj)
	}
	return objects, nil
}
