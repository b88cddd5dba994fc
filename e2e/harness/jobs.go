package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"karpenter-gpu/config"
	"karpenter-gpu/versions"
	"karpenter-gpu/wellknown"
)

// job is a run-to-completion pod of a scenario, as a training job's pod
// is: karpenter.sh/do-not-disrupt when protected, with its own grace
// period. It runs until the scenario ends it (finishJob), as its
// container would exit, or Karpenter or EC2 ends it first.
type job struct {
	name      string
	pool      poolOutput
	gpus      int64
	grace     int64
	protected bool
	// node binds it to a node, as the scheduler would; empty: the
	// scheduler places it by the pool's selector.
	node string
}

func (r *run) startJob(ctx context.Context, j job) error {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: j.name, Namespace: "default", Labels: map[string]string{"e2e-job": j.name}},
		Spec: corev1.PodSpec{
			NodeName: j.node, NodeSelector: j.pool.NodeSelector, Tolerations: j.pool.podTolerations(),
			RestartPolicy: corev1.RestartPolicyNever, TerminationGracePeriodSeconds: &j.grace,
			Containers: []corev1.Container{{Name: "train", Image: versions.PauseImage}},
		},
	}
	if j.node != "" {
		pod.Spec.NodeSelector = nil
	}
	if j.protected {
		pod.Annotations = map[string]string{wellknown.DoNotDisruptAnnotation: "true"}
	}
	if j.gpus > 0 {
		pod.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceName(j.pool.GPUResourceName): *resource.NewQuantity(j.gpus, resource.DecimalSI)}
	}
	_, err := r.client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{})
	return err
}

// jobNode waits for the job to run and returns its node.
func (r *run) jobNode(ctx context.Context, name string) (string, error) {
	var node string
	err := await(ctx, "job "+name+" running", 4*time.Minute, func() (bool, string, error) {
		p, err := r.client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, "", err
		}
		node = p.Spec.NodeName
		return p.Status.Phase == corev1.PodRunning && node != "", fmt.Sprintf("phase %s on %q: %s", p.Status.Phase, node, podConditions(p)), nil
	})
	return node, err
}

// protectedJobAndMover starts a protected one-GPU job in pool and, once it
// runs, an unprotected one-replica Deployment there, and returns the job's
// node. The caller removes both (removeJob, deleteDeployment).
func (r *run) protectedJobAndMover(ctx context.Context, jobName, mover string, pool poolOutput, grace int64) (string, error) {
	if err := r.startJob(ctx, job{name: jobName, pool: pool, gpus: 1, grace: grace, protected: true}); err != nil {
		return "", err
	}
	node, err := r.jobNode(ctx, jobName)
	if err != nil {
		return "", err
	}
	return node, r.createPods(ctx, mover, pool, 1, 0)
}

// finishJob ends the job as its container would, by exiting 0.
func (r *run) finishJob(ctx context.Context, name string) error {
	patch, err := json.Marshal(map[string]any{"status": map[string]any{"phase": corev1.PodSucceeded}})
	if err != nil {
		return err
	}
	_, err = r.client.CoreV1().Pods("default").Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{}, "status")
	return err
}

// removeJob deletes what is left of a job.
func (r *run) removeJob(ctx context.Context, name string) {
	zero := int64(0)
	_ = r.client.CoreV1().Pods("default").Delete(context.WithoutCancel(ctx), name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
}

func podConditions(p *corev1.Pod) string {
	var out []string
	for _, c := range p.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			out = append(out, fmt.Sprintf("%s %s (%s)", c.Type, c.Reason, c.Message))
		}
	}
	return strings.Join(out, "; ")
}

// claimOfNode is the NodeClaim of a node (Karpenter names them alike).
func claimOfNode(node string) string { return node }

// awaitDeleting waits until Karpenter marks the NodeClaim for deletion and
// returns when it saw that.
func (r *run) awaitDeleting(ctx context.Context, claim string, timeout time.Duration) (time.Time, error) {
	var at time.Time
	err := await(ctx, "NodeClaim "+claim+" marked for deletion", timeout, func() (bool, string, error) {
		c := r.history.claimNamed(claim)
		at = c.deleting
		return !at.IsZero(), fmt.Sprintf("created %s, reason %q", c.created.Format(time.TimeOnly), c.reason), nil
	})
	return at, err
}

// awaitGone waits until the NodeClaim is gone (its instance terminated).
func (r *run) awaitGone(ctx context.Context, claim string, timeout time.Duration) (time.Time, error) {
	var at time.Time
	err := await(ctx, "NodeClaim "+claim+" gone", timeout, func() (bool, string, error) {
		c := r.history.claimNamed(claim)
		at = c.gone
		return !at.IsZero(), fmt.Sprintf("marked for deletion %s", c.deleting.Format(time.TimeOnly)), nil
	})
	return at, err
}

// awaitJobDeleted waits until the job is deleted (by Karpenter, or with
// its node) and returns how long after since that was.
func (r *run) awaitJobDeleted(ctx context.Context, name string, since time.Time, timeout time.Duration) (time.Duration, error) {
	var got time.Duration
	err := await(ctx, "job "+name+" deleted", timeout, func() (bool, string, error) {
		p := r.history.podNamed("default", name)
		got = p.deleting.Sub(since)
		return !p.deleting.IsZero(), fmt.Sprintf("running on %q", p.node), nil
	})
	return got, err
}

// runningPodsOf are the running pods of a Deployment's app label, with
// their nodes.
func (r *run) runningPodsOf(ctx context.Context, app string) (map[string]string, error) {
	pods, err := r.client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, p := range pods.Items {
		if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
			out[p.Name] = p.Spec.NodeName
		}
	}
	return out, nil
}

// deleteDeployment removes a scenario's Deployment.
func (r *run) deleteDeployment(ctx context.Context, name string) {
	_ = r.client.AppsV1().Deployments("default").Delete(context.WithoutCancel(ctx), name, metav1.DeleteOptions{})
}

// poolConfig is the stack file's configuration of a pool, and its index
// in gpuPools (configuration paths name pools by index).
func (r *run) poolConfig(name string) (config.GPUPool, int) {
	i := slices.IndexFunc(r.under.config.GPUPools, func(p config.GPUPool) bool { return p.Name == name })
	if i < 0 {
		return config.GPUPool{}, -1
	}
	return r.under.config.GPUPools[i], i
}

// seconds is d in whole seconds, for the report.
func seconds(d time.Duration) int { return int(d.Round(time.Second).Seconds()) }
