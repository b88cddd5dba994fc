package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"karpenter-gpu/cluster"
	"karpenter-gpu/internal/charts"
	"karpenter-gpu/versions"
)

// existingNodeRole is the node role of the Karpenter someone else installed.
const existingNodeRole = "KarpenterNodeRole-" + clusterName

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
	cl.Roles = map[string]string{existingNodeRole: existingNodeRole}
	st, err := r.platformOn(ctx, "dev-pools-only", cl)
	if err != nil {
		return err
	}
	for key, value := range map[string]string{"karpenter.install": "false", "nodeRole.name": existingNodeRole} {
		if err := st.SetConfigWithOptions(ctx, platformProject+":"+key, auto.ConfigValue{Value: value}, &auto.ConfigOptions{Path: true}); err != nil {
			return err
		}
	}
	if _, _, err := r.upOp(ctx, st, "8-up"); err != nil {
		return err
	}
	classes, err := r.dyn.Resource(nodeClassResource).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for _, nc := range classes.Items {
		if role, _, _ := unstructured.NestedString(nc.Object, "spec", "role"); role != existingNodeRole {
			return fmt.Errorf("EC2NodeClass %s uses role %q, not the existing Karpenter's %s", nc.GetName(), role, existingNodeRole)
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
	if _, err := r.refreshAndUp(ctx, st, "8"); err != nil {
		return err
	}
	if _, err := r.destroyOp(ctx, st, "8-destroy"); err != nil {
		return err
	}
	left, err := r.leftOver(ctx, before)
	res.poolsOnlyLeft = len(left)
	return err
}

// installForeignKarpenter puts in the cluster what another installation of
// Karpenter leaves: its CRDs, from the pinned module, and its controller
// Deployment (which kwok runs, doing nothing; the simulated Karpenter acts
// for it).
func (r *run) installForeignKarpenter(ctx context.Context) error {
	dir, err := charts.ModuleDir(charts.KarpenterModule)
	if err != nil {
		return err
	}
	files, err := filepath.Glob(filepath.Join(dir, "pkg", "apis", "crds", "*.yaml"))
	if err != nil {
		return err
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		crd := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(raw, &crd.Object); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		if _, err := r.dyn.Resource(cluster.CRDResource).Create(ctx, crd, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	labels := map[string]string{"app.kubernetes.io/name": "karpenter"}
	one := int32(1)
	_, err = r.client.AppsV1().Deployments("kube-system").Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "karpenter", Namespace: "kube-system", Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &one,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "controller", Image: "public.ecr.aws/karpenter/controller:" + versions.Karpenter,
				}}},
			},
		},
	}, metav1.CreateOptions{})
	return err
}
