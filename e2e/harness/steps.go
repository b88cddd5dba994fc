package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"karpenter-gpu/e2e"
	"karpenter-gpu/e2e/verify"
	"karpenter-gpu/examples/gpu-workload/workload"
	"karpenter-gpu/internal/fakecloud"
	karpenterapi "karpenter-gpu/karpenter"
	"karpenter-gpu/stack"
	"karpenter-gpu/wellknown"
)

const (
	platformProject = "karpenter-gpu"
	workloadProject = "gpu-workload"
)

// platform is the stack under test.
func (r *run) platform(ctx context.Context) (auto.Stack, error) {
	return r.platformStack(ctx, r.under.name, nil)
}

// platformOn is a stack whose stand-in AWS provider serves another
// variant of the fake cluster.
func (r *run) platformOn(ctx context.Context, name string, cl fakecloud.Cluster) (auto.Stack, error) {
	clusterJSON, err := json.Marshal(cl)
	if err != nil {
		return auto.Stack{}, err
	}
	return r.platformStack(ctx, name, map[string]string{e2e.ClusterEnv: string(clusterJSON)})
}

// platformStack is a stack with the settings of the stack file under test,
// its chart sources pointed at local folders, run with env.
func (r *run) platformStack(ctx context.Context, name string, env map[string]string) (auto.Stack, error) {
	settings, err := r.under.settings()
	if err != nil {
		return auto.Stack{}, err
	}
	cl := r.cluster
	if clusterJSON, ok := env[e2e.ClusterEnv]; ok {
		if err := json.Unmarshal([]byte(clusterJSON), &cl); err != nil {
			return auto.Stack{}, err
		}
	}
	// The program reads the account's open reservations with the AWS SDK,
	// not through the provider: it reads the fake account's here.
	program := stack.Program(stack.Options{ProjectDir: r.engine.projectDir(platformProject), OpenReservations: fakecloud.New(cl, "", "").OpenReservations})
	st, err := r.engine.stack(ctx, platformProject, name, program, settings, env)
	if err != nil {
		return st, err
	}
	r.active.Lock()
	r.active.stack, r.active.cluster = name, cl
	r.active.Unlock()
	sources, err := r.chartSources()
	if err != nil {
		return st, err
	}
	for key, value := range sources {
		if err := st.SetConfigWithOptions(ctx, platformProject+":"+key, auto.ConfigValue{Value: value}, &auto.ConfigOptions{Path: true}); err != nil {
			return st, err
		}
	}
	r.overrides.Lock()
	defer r.overrides.Unlock()
	for _, o := range r.overrides.list {
		if err := st.SetConfigWithOptions(ctx, platformProject+":"+o.key, auto.ConfigValue{Value: o.value}, &auto.ConfigOptions{Path: true}); err != nil {
			return st, err
		}
	}
	return st, nil
}

// override is a configuration change a scenario made to the deployed
// stack: every later operation on the stack keeps it.
type override struct{ key, value string }

// upWith changes the stack's configuration (keys below the namespace,
// as paths) and runs up; the change stays for the rest of the run.
func (r *run) upWith(ctx context.Context, changes ...override) error {
	r.overrides.Lock()
	r.overrides.list = append(r.overrides.list, changes...)
	r.overrides.Unlock()
	st, err := r.platform(ctx)
	if err != nil {
		return err
	}
	_, _, err = r.upOp(ctx, st, "up")
	return err
}

// preview: custom resources are previewed before their CRDs exist.
func (r *run) preview(ctx context.Context, res *result) error {
	st, err := r.platform(ctx)
	if err != nil {
		return err
	}
	p, _, err := r.previewOp(ctx, st, "preview")
	if err != nil {
		return err
	}
	if p.ChangeSummary[apitype.OpCreate] == 0 {
		return fmt.Errorf("preview plans no resource: %v", p.ChangeSummary)
	}
	return r.misspelledKeyRefused(ctx, st)
}

// misspelledKeyRefused: the inline program, which the engine hands no list
// of keys, still refuses a misspelled top-level key.
func (r *run) misspelledKeyRefused(ctx context.Context, st auto.Stack) error {
	const typo = platformProject + ":gpuPool"
	if err := st.SetConfig(ctx, typo, auto.ConfigValue{Value: "[]"}); err != nil {
		return err
	}
	_, _, err := r.previewOp(ctx, st, "preview-typo")
	if rmErr := st.RemoveConfig(ctx, typo); rmErr != nil {
		return rmErr
	}
	if err == nil || !strings.Contains(err.Error(), "did you mean gpuPools?") {
		return fmt.Errorf("preview with the misspelled key %s: %v; want a refusal naming gpuPools", typo, err)
	}
	return nil
}

// up creates everything, then compares the API server with the render.
func (r *run) up(ctx context.Context, res *result) error {
	st, err := r.platform(ctx)
	if err != nil {
		return err
	}
	up, evs, err := r.upOp(ctx, st, "up")
	if err != nil {
		return err
	}
	if err := verify.OnlyCreates(evs); err != nil {
		return err
	}
	// Resources the stack now manages: created, or adopted by import.
	changes := *up.Summary.ResourceChanges
	res.created = changes[string(apitype.OpCreate)] + changes[string(apitype.OpImport)]
	for _, w := range warnings(evs) {
		fmt.Fprintln(os.Stderr, "e2e: warning:", w)
	}
	res.outputs = map[string]any{}
	for k, v := range up.Outputs {
		res.outputs[k] = v.Value
	}
	if err := r.checkCluster(ctx); err != nil {
		return err
	}
	if !r.under.config.SmokeTest {
		return nil // step 5 asks every pool for a node
	}
	// The smoke test's pod waited for a GPU: Karpenter served its pool.
	if res.served, err = r.checkLaunches(ctx, res); err != nil {
		return err
	}
	return r.reportPods(ctx, res, "from zero (smoke test)", "default", "job-name=gpu-smoke-test")
}

// reportPods adds to the report how the pods' launches went.
func (r *run) reportPods(ctx context.Context, res *result, scenario, namespace, selector string) error {
	pods, err := r.client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return err
	}
	for _, p := range pods.Items {
		rep, err := r.fromZeroReport(ctx, scenario, &p)
		if err != nil {
			return fmt.Errorf("report of pod %s: %w", p.Name, err)
		}
		res.add(rep)
	}
	return nil
}

// checkCluster compares what the API server holds with what render wrote
// for the stack file: the CRDs, every EC2NodeClass, NodePool
// and NodeOverlay (server-side defaults aside), the Helm releases, and the
// smoke-test Job run to completion on the pool's node.
func (r *run) checkCluster(ctx context.Context) error {
	for _, name := range karpenterapi.RequiredCRDs {
		if _, err := object(ctx, r.dyn, "apiextensions.k8s.io/v1", "customresourcedefinitions", "", name); err != nil {
			return fmt.Errorf("CRD %s: %w", name, err)
		}
	}
	plural := map[string]string{"EC2NodeClass": "ec2nodeclasses", "NodePool": "nodepools", "NodeOverlay": "nodeoverlays", "Job": "jobs"}
	files, err := filepath.Glob(filepath.Join(r.under.rendered, "kubernetes", "*.yaml"))
	if err != nil {
		return err
	}
	checked := 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var want map[string]any
		if err := yaml.Unmarshal(raw, &want); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		kind, _ := want["kind"].(string)
		if plural[kind] == "" {
			continue
		}
		meta, _ := want["metadata"].(map[string]any)
		name, _ := meta["name"].(string)
		namespace, _ := meta["namespace"].(string)
		got, err := object(ctx, r.dyn, want["apiVersion"].(string), plural[kind], namespace, name)
		if err != nil {
			return fmt.Errorf("%s %s (rendered in %s): %w", kind, name, f, err)
		}
		if err := verify.Contains(got.Object["spec"], want["spec"], kind+" "+name+": spec"); err != nil {
			return fmt.Errorf("%w (rendered in %s)", err, f)
		}
		checked++
		if kind == "Job" {
			if err := r.jobCompleted(ctx, namespace, name); err != nil {
				return err
			}
		}
	}
	if checked == 0 {
		return fmt.Errorf("no rendered custom resource found under rendered/kubernetes")
	}
	return r.checkReleases(ctx)
}

// jobCompleted waits briefly for the Job (the engine already awaited it)
// and checks that its pod ran on a GPU pool's node.
func (r *run) jobCompleted(ctx context.Context, namespace, name string) error {
	job, err := r.client.BatchV1().Jobs(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if job.Status.Succeeded < 1 {
		return fmt.Errorf("Job %s/%s has not succeeded: %+v", namespace, name, job.Status)
	}
	pods, err := r.client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: "job-name=" + name})
	if err != nil {
		return err
	}
	for _, p := range pods.Items {
		if pool, err := r.poolOf(ctx, p.Spec.NodeName); err != nil || pool == "" {
			return fmt.Errorf("Job %s pod %s ran on %q, not on a node Karpenter launched for a GPU pool (%v)", name, p.Name, p.Spec.NodeName, err)
		}
	}
	return nil
}

// poolOf is the GPU pool of the node Karpenter launched, "" for another
// node.
func (r *run) poolOf(ctx context.Context, node string) (string, error) {
	n, err := r.client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	if n.Labels[wellknown.LabelNodePool] == "" {
		return "", nil
	}
	return n.Labels[wellknown.GPUPoolLabel], nil
}

// checkReleases finds every release render wrote values for deployed.
func (r *run) checkReleases(ctx context.Context) error {
	files, err := filepath.Glob(filepath.Join(r.under.rendered, "helm", "*.yaml"))
	if err != nil {
		return err
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		// render's header: "# Helm release NAME in namespace NAMESPACE".
		var name, namespace string
		if _, err := fmt.Sscanf(string(bytes.SplitN(raw, []byte("\n"), 2)[0]), "# Helm release %s in namespace %s", &name, &namespace); err != nil {
			return fmt.Errorf("%s: no release header: %w", f, err)
		}
		secrets, err := r.client.CoreV1().Secrets(namespace).List(ctx, metav1.ListOptions{LabelSelector: "owner=helm,status=deployed,name=" + name})
		if err != nil {
			return err
		}
		if len(secrets.Items) != 1 {
			return fmt.Errorf("Helm release %s in namespace %s: %d deployed revisions, want 1", name, namespace, len(secrets.Items))
		}
	}
	return nil
}

// reUp: reading every resource back, as the scheduled drift check does
// (refresh), finds what up wrote; a second up then changes nothing.
func (r *run) reUp(ctx context.Context, res *result) error {
	st, err := r.platform(ctx)
	if err != nil {
		return err
	}
	res.reUpChanges, err = r.refreshAndUp(ctx, st)
	return err
}

// refreshAndUp refreshes the stack, then runs up; it fails on any drift or
// change and returns the number of changes.
func (r *run) refreshAndUp(ctx context.Context, st auto.Stack) (int, error) {
	refresh, err := r.refreshOp(ctx, st, "refresh")
	if err != nil {
		return 0, fmt.Errorf("refresh: %w", err)
	}
	var drift []string
	for op, n := range *refresh.Summary.ResourceChanges {
		if op != string(apitype.OpSame) {
			drift = append(drift, fmt.Sprintf("%s: %d", op, n))
		}
	}
	if len(drift) > 0 {
		return 0, fmt.Errorf("refresh found the cluster differing from the state: %s", strings.Join(drift, ", "))
	}
	_, evs, err := r.upOp(ctx, st, "re-up")
	if err != nil {
		return 0, err
	}
	var changes []string
	for _, s := range steps(evs) {
		changes = append(changes, fmt.Sprintf("%s %s %v", s.Op, s.URN, s.Diffs))
	}
	if len(changes) > 0 {
		return len(changes), fmt.Errorf("the second up changed %d resources:\n  %s", len(changes), describe(changes))
	}
	return 0, nil
}

// previewDiff: one pool's maxGPUs changes that NodePool's limit and nothing
// else.
func (r *run) previewDiff(ctx context.Context, res *result) error {
	st, err := r.platform(ctx)
	if err != nil {
		return err
	}
	key := platformProject + ":gpuPools[0].maxGPUs"
	old, err := st.GetConfigWithOptions(ctx, key, &auto.ConfigOptions{Path: true})
	if err != nil {
		return err
	}
	if err := st.SetConfigWithOptions(ctx, key, auto.ConfigValue{Value: old.Value + "0"}, &auto.ConfigOptions{Path: true}); err != nil {
		return err
	}
	_, evs, err := r.previewOp(ctx, st, "preview-diff", optpreview.Diff())
	if err != nil {
		return err
	}
	var changes []string
	ok := false
	for _, s := range steps(evs) {
		keys := slices.Sorted(maps.Keys(s.DetailedDiff))
		changes = append(changes, fmt.Sprintf("%s %s %v", s.Op, s.URN, keys))
		onlyLimits := len(keys) > 0
		for _, k := range keys {
			onlyLimits = onlyLimits && strings.HasPrefix(k, "spec.limits")
		}
		ok = s.Op == apitype.OpUpdate && s.Type == "kubernetes:karpenter.sh/v1:NodePool" && onlyLimits
	}
	if len(changes) != 1 || !ok {
		return fmt.Errorf("%s from %s to %s0: want one update of the pool's NodePool in spec.limits, preview shows:\n  %s", key, old.Value, old.Value, describe(changes))
	}
	// Back to the committed value: the next steps run the stack as it is.
	return st.SetConfigWithOptions(ctx, key, auto.ConfigValue{Value: old.Value}, &auto.ConfigOptions{Path: true})
}

// workload runs examples/gpu-workload against the platform's outputs
// through a StackReference and checks that its Deployment carries the
// pool's selector and tolerations and its pod runs on the pool's node.
func (r *run) workload(ctx context.Context, res *result) error {
	st, err := r.engine.stack(ctx, workloadProject, r.under.name, workload.Program, nil, nil)
	if err != nil {
		return err
	}
	for key, value := range map[string]string{
		"platformStack": "organization/" + platformProject + "/" + r.under.name,
		"pool":          r.under.workloadPool,
	} {
		if err := st.SetConfig(ctx, workloadProject+":"+key, auto.ConfigValue{Value: value}); err != nil {
			return err
		}
	}
	if _, _, err := r.upOp(ctx, st, "workload-up"); err != nil {
		return err
	}
	var pools map[string]workload.Pool
	raw, err := json.Marshal(res.outputs["gpuPools"])
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, &pools); err != nil {
		return fmt.Errorf("the platform's gpuPools output: %w", err)
	}
	pool, found := pools[r.under.workloadPool]
	if !found {
		return fmt.Errorf("the platform's gpuPools output has no pool %q", r.under.workloadPool)
	}
	d, err := r.client.AppsV1().Deployments("default").Get(ctx, "inference", metav1.GetOptions{})
	if err != nil {
		return err
	}
	spec := d.Spec.Template.Spec
	if !reflect.DeepEqual(spec.NodeSelector, pool.NodeSelector) {
		return fmt.Errorf("Deployment inference: nodeSelector %v, the pool's is %v", spec.NodeSelector, pool.NodeSelector)
	}
	for _, t := range pool.Tolerations {
		found := false
		for _, have := range spec.Tolerations {
			found = found || (have.Key == t.Key && string(have.Operator) == t.Operator && have.Value == t.Value && string(have.Effect) == t.Effect)
		}
		if !found {
			return fmt.Errorf("Deployment inference lacks the pool's toleration %+v: has %+v", t, spec.Tolerations)
		}
	}
	pods, err := r.client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=inference"})
	if err != nil {
		return err
	}
	for _, p := range pods.Items {
		if pool, err := r.poolOf(ctx, p.Spec.NodeName); err != nil || pool != r.under.workloadPool {
			return fmt.Errorf("inference pod %s runs on %q, not on a node of the %s pool (%v)", p.Name, p.Spec.NodeName, r.under.workloadPool, err)
		}
	}
	return nil
}

// destroy removes both stacks, checks that NodePools and EC2NodeClasses
// went before the Karpenter controller and the node access, and that the
// API server holds nothing the stacks made.
func (r *run) destroy(ctx context.Context, res *result, before map[string]bool) error {
	wl, err := r.engine.stack(ctx, workloadProject, r.under.name, workload.Program, nil, nil)
	if err != nil {
		return err
	}
	if _, err := r.destroyOp(ctx, wl, "workload-destroy"); err != nil {
		return fmt.Errorf("%s: %w", workloadProject, err)
	}
	running, err := r.poolInstances(r.under.workloadPool)
	if err != nil {
		return err
	}
	if len(running) == 0 {
		return fmt.Errorf("no GPU instance runs before destroy: the step would not show Karpenter draining and terminating")
	}
	st, err := r.platform(ctx)
	if err != nil {
		return err
	}
	var held []apitype.EngineEvent
	if r.waitsOutDestroyTimeout() {
		if held, err = r.destroyHeldByAJob(ctx, st); err != nil {
			return err
		}
	}
	if err := r.destroyPlatform(ctx, st, held...); err != nil {
		return err
	}
	if res.instancesLeft, err = r.instancesLeft(); err != nil {
		return err
	}
	left, err := r.leftOver(ctx, before)
	res.left = len(left)
	return err
}

// destroyPlatform destroys the stack and checks from the engine's events
// (after those of an earlier destroy that failed) that NodePools and
// EC2NodeClasses went first.
func (r *run) destroyPlatform(ctx context.Context, st auto.Stack, earlier ...apitype.EngineEvent) error {
	evs, err := r.destroyOp(ctx, st, "destroy")
	if err != nil {
		return err
	}
	return verify.DestroyOrder(append(earlier, evs...))
}

// heldDestroyLimit is the longest destroyTimeout the run waits out to see
// a destroy that a running job holds end with the stack's own report.
const heldDestroyLimit = 5 * time.Minute

func (r *run) waitsOutDestroyTimeout() bool {
	d, err := time.ParseDuration(r.under.config.DestroyTimeout)
	return err == nil && d <= heldDestroyLimit
}

// destroyHeldByAJob runs a job pod that carries karpenter.sh/do-not-disrupt
// on the workload pool's node and destroys: Karpenter cannot drain the
// node, the NodePool's deletion runs out of destroyTimeout, and the
// destroy must fail with the stack's report naming the NodeClaim and the
// job, not the provider's bare timeout. The job then goes; it returns the
// failed destroy's events.
func (r *run) destroyHeldByAJob(ctx context.Context, st auto.Stack) ([]apitype.EngineEvent, error) {
	pool := r.under.workloadPool
	nodes, err := r.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: wellknown.GPUPoolLabel + "=" + pool})
	if err != nil {
		return nil, err
	}
	// A node Karpenter is not deleting already (a scenario's fault may
	// have ended one).
	var node string
	for _, n := range nodes.Items {
		if claim := r.history.claimNamed(claimOfNode(n.Name)); n.DeletionTimestamp == nil && claim.deleting.IsZero() {
			node = n.Name
		}
	}
	if node == "" {
		return nil, fmt.Errorf("no node of pool %s that Karpenter is not deleting, to hold the destroy", pool)
	}
	job := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "held-job", Namespace: "default", Annotations: map[string]string{wellknown.DoNotDisruptAnnotation: "true"}},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "train", Image: "public.ecr.aws/docker/library/busybox:1.37"}},
			Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule, Key: wellknown.GPUResource}}},
	}
	if _, err := r.client.CoreV1().Pods("default").Create(ctx, job, metav1.CreateOptions{}); err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "e2e: job default/held-job (%s) runs on %s; destroy (the program as users run it) must stop after destroyTimeout %s naming it\n", wellknown.DoNotDisruptAnnotation, node, r.under.config.DestroyTimeout)
	evs, destroyErr := r.destroyWithProgram(ctx, st.Name(), "destroy-held")
	zero := int64(0)
	if err := r.client.CoreV1().Pods("default").Delete(ctx, job.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil && !apierrors.IsNotFound(err) {
		return nil, err
	}
	if destroyErr == nil {
		return nil, fmt.Errorf("destroy succeeded while job default/held-job, which Karpenter may not evict, ran on %s of pool %s", node, pool)
	}
	for _, want := range []string{
		fmt.Sprintf("NodePool %s was not deleted within destroyTimeout %s", pool, r.under.config.DestroyTimeout),
		fmt.Sprintf("(node %s, draining pods ", node),
		"not evicted for " + wellknown.DoNotDisruptAnnotation + ": default/held-job",
	} {
		if !strings.Contains(destroyErr.Error(), want) {
			return nil, fmt.Errorf("the held destroy failed without the stack's report (want %q):\n%v", want, destroyErr)
		}
	}
	fmt.Fprintf(os.Stderr, "e2e: destroy stopped after destroyTimeout with the stack's report naming the NodeClaim and default/held-job; the job goes, destroy runs again\n")
	return evs, nil
}

// leftOver fails naming what the API server holds that it did not hold
// before, once garbage collection and namespace finalisation have had a
// moment.
func (r *run) leftOver(ctx context.Context, before map[string]bool) ([]string, error) {
	var left []string
	err := await(ctx, "the API server back as it was before up", 2*time.Minute, func() (bool, string, error) {
		after, err := snapshot(ctx, r.client.Discovery(), r.dyn)
		if err != nil {
			return false, "", err
		}
		left = verify.LeftOver(before, after)
		return len(left) == 0, fmt.Sprintf("%d objects left after destroy:\n  %s", len(left), describe(left)), nil
	})
	return left, err
}
