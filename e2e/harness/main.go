// Command harness runs the stack end to end with the real Pulumi engine: the
// real CLI and Kubernetes provider against a local control plane (etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler, kwok), the
// stand-in AWS provider for the cloud side, and the Automation API for the
// steps. e2e/run builds the tools and calls it from the repository root.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"karpenter-gpu/e2e"
	"karpenter-gpu/internal/charts"
	"karpenter-gpu/internal/fakecloud"
	"karpenter-gpu/internal/gomod"
	"karpenter-gpu/versions"
)

func main() {
	var tools Tools
	var fakeAWS, awsVersion, kubernetesProvider, kubernetesVersion, pulumiBinary, workDir string
	var karpenterController, karpenterVersion, reportFile, stackFile, render, program string
	var keep bool
	flag.StringVar(&pulumiBinary, "pulumi", "", "the Pulumi CLI")
	flag.StringVar(&kubernetesProvider, "kubernetes-provider", "", "the pulumi-resource-kubernetes plugin")
	flag.StringVar(&kubernetesVersion, "kubernetes-provider-version", "", "its version, as the SDK in go.mod asks for it")
	flag.StringVar(&fakeAWS, "aws-provider", "", "the stand-in pulumi-resource-aws plugin (e2e/fakeaws)")
	flag.StringVar(&awsVersion, "aws-provider-version", "", "the pulumi-aws SDK version in go.mod")
	flag.StringVar(&tools.Etcd, "etcd", "", "etcd")
	flag.StringVar(&tools.APIServer, "kube-apiserver", "", "kube-apiserver")
	flag.StringVar(&tools.ControllerManager, "kube-controller-manager", "", "kube-controller-manager")
	flag.StringVar(&tools.Scheduler, "kube-scheduler", "", "kube-scheduler")
	flag.StringVar(&tools.Kwok, "kwok", "", "kwok")
	kwokStages := flag.String("kwok-stages", "", "directory of kwok's stage files")
	flag.StringVar(&karpenterController, "karpenter-controller", "", "the Karpenter controller of e2e/controller")
	flag.StringVar(&karpenterVersion, "karpenter-version", "", "its Karpenter release")
	flag.StringVar(&stackFile, "config", "Pulumi.dev.yaml", "the stack file to run (Pulumi.STACK.yaml): its cluster and region make the test account")
	flag.StringVar(&render, "render", "", "the render command (cmd/render), which writes what up is compared with")
	flag.StringVar(&program, "program", "", "the stack's program built from main.go, run as users run it where an inline program cannot stand in")
	flag.StringVar(&reportFile, "report", "", "write a JSON report of what Karpenter did to this file")
	flag.StringVar(&workDir, "work", "", "working directory (default: a new temporary one, removed afterwards)")
	flag.BoolVar(&keep, "keep", false, "keep the working directory")
	runFlag := flag.String("run", "", "run only these scenarios (comma-separated) and those they need; default: all")
	flag.Parse()

	var err error
	if tools.KwokStages, err = filepath.Glob(filepath.Join(*kwokStages, "*.yaml")); err != nil || len(tools.KwokStages) == 0 {
		fail("setup", fmt.Errorf("no kwok stage files in %q", *kwokStages))
	}
	if workDir == "" {
		if workDir, err = os.MkdirTemp("", "karpenter-gpu-e2e-"); err != nil {
			fail("setup", err)
		}
		if !keep {
			defer os.RemoveAll(workDir)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	under, err := readStackFile(ctx, stackFile, render, workDir)
	if err != nil {
		fail("setup", err)
	}
	// Interrupted: stop the control plane and the engine before leaving.
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	go func() { <-signals; cancel() }()

	r := &run{tools: tools, dir: workDir, under: under, plugins: []Plugin{
		{Name: "kubernetes", Version: kubernetesVersion, Binary: kubernetesProvider},
		{Name: "aws", Version: awsVersion, Binary: fakeAWS},
	}, pulumiBinary: pulumiBinary, program: program, karpenterController: karpenterController, karpenterVersion: karpenterVersion, reportFile: reportFile,
		run: runNames(*runFlag)}
	line, step, err := r.all(ctx)
	if err != nil {
		fail(step, fmt.Errorf("%w\n(work directory %s: cluster/logs has the control plane's and the engine's output)", err, workDir))
	}
	fmt.Println(line)
}

func fail(step string, err error) {
	fmt.Fprintf(os.Stderr, "e2e failed at %s: %v\n", step, err)
	os.Exit(1)
}

type run struct {
	tools        Tools
	dir          string
	under        stackUnderTest
	plugins      []Plugin
	pulumiBinary string
	// program is the stack's program as users run it (main.go, built).
	program string
	// karpenterController runs for the stack's controller Deployment.
	karpenterController, karpenterVersion string
	reportFile                            string

	// fixtures are the test account's reservations and placement groups.
	fixtures  fixtures
	cp        *controlPlane
	karpenter *karpenter
	addons    addons
	iam       iamJudge
	// active is the stack the controller's account is read from.
	active struct {
		sync.Mutex
		stack   string
		cluster fakecloud.Cluster
		// shortage are the pools EC2 has no capacity in; shortageEnded
		// when the last one ended.
		shortage      []CapacityPool
		shortageEnded time.Time
		// faults are what AWS does to the account's instances.
		faults faults
	}
	client kubernetes.Interface
	dyn    dynamic.Interface
	engine *engine
	logs   logs
	// run are the scenarios -run asks for (all of them when empty).
	run []string
	// overrides are the configuration changes scenarios made.
	overrides struct {
		sync.Mutex
		list []override
	}
	// history is what the run watched happen to NodeClaims and pods.
	history *history
	// cluster is what the stand-in AWS provider serves.
	cluster fakecloud.Cluster
}

// all sets up the environment (control plane, engine, Karpenter, the
// add-on manager) and runs the scenarios -run selects; it returns the
// summary line, or the scenario that failed and why. Whatever happens, the
// control plane is stopped.
func (r *run) all(ctx context.Context) (string, string, error) {
	var err error
	r.cp, err = startControlPlane(ctx, r.tools, filepath.Join(r.dir, "cluster"))
	defer r.cp.stop()
	defer r.logs.close()
	if err != nil {
		return "", "control plane", err
	}
	r.logs.dir = filepath.Join(r.cp.dir, "logs")
	if r.client, err = kubernetes.NewForConfig(r.cp.rest); err != nil {
		return "", "control plane", err
	}
	if r.dyn, err = dynamic.NewForConfig(r.cp.rest); err != nil {
		return "", "control plane", err
	}
	if err := addSystemNodes(ctx, r.client); err != nil {
		return "", "control plane", err
	}
	if err := r.setupEngine(ctx); err != nil {
		return "", "engine setup", err
	}
	sources, err := r.chartSources()
	if err != nil {
		return "", "engine setup", err
	}
	if r.fixtures, err = accountFixtures(r.under.config, r.cluster, r.under.rendered, sources["efaDevicePlugin.chartRepository"]); err != nil {
		return "", "engine setup", err
	}
	r.karpenter = &karpenter{binary: r.karpenterController, dir: filepath.Join(r.dir, "karpenter"), logs: filepath.Join(r.cp.dir, "logs"),
		cp: r.cp, client: r.client, dyn: r.dyn, seed: r.seed, registered: map[string]bool{}}
	if err := os.MkdirAll(r.karpenter.dir, 0o755); err != nil {
		return "", "engine setup", err
	}
	// One for Karpenter, one for the add-ons: each sends at most once.
	karpenterErrs := make(chan error, 2)
	kctx, stopKarpenter := context.WithCancel(ctx)
	karpenterDone := make(chan struct{})
	addonsDone := make(chan struct{})
	r.history = newHistory()
	r.history.watch(kctx, r.dyn, r.client)
	go func() { r.karpenter.run(kctx, karpenterErrs); close(karpenterDone) }()
	go func() { r.runAddons(kctx, karpenterErrs); close(addonsDone) }()
	defer func() { stopKarpenter(); <-karpenterDone; <-addonsDone }()
	before, err := snapshot(ctx, r.client.Discovery(), r.dyn)
	if err != nil {
		return "", "snapshot", err
	}
	list, err := selected(r.scenarios(before), r.run)
	if err != nil {
		return "", "setup", err
	}
	// A failure of the controller or of what stands in for kubelets ends
	// the scenario at once: the engine may be waiting for a node that will
	// never come.
	stepCtx, failStep := context.WithCancelCause(ctx)
	defer failStep(nil)
	go func() {
		select {
		case err := <-karpenterErrs:
			failStep(err)
		case <-stepCtx.Done():
		}
	}()
	res := &result{}
	started := time.Now()
	defer func() {
		if err := r.writeReport(res, started); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: report:", err)
		}
	}()
	if failed, err := r.runScenarios(stepCtx, list, res); err != nil {
		return "", failed, err
	}
	fmt.Fprintf(os.Stderr, "e2e: IAM: every request of the controller allowed by the stack's policies: %s\n", r.iam.summary())
	if len(r.run) > 0 {
		return fmt.Sprintf("e2e passed: %s (of -run %s)", strings.Join(scenarioNames(list), ", "), strings.Join(r.run, ",")), "", nil
	}
	return fmt.Sprintf("e2e passed: up %d resources, re-up %d changes, preview-diff ok, karpenter %s: %d pools served from zero, destroy %d left, %d instances running",
		res.created, res.reUpChanges, r.karpenterVersion, len(res.served), res.left+res.awsAuthLeft+res.poolsOnlyLeft, res.instancesLeft), "", nil
}

// result gathers the figures of the summary line and the report.
type result struct {
	created, reUpChanges, left, awsAuthLeft, poolsOnlyLeft int
	outputs                                                map[string]any
	// served are the pools Karpenter launched and initialized nodes for.
	served        []string
	toZero        time.Duration
	instancesLeft int

	mu        sync.Mutex
	scenarios []ScenarioReport
}

// add adds a scenario's figures to the report (lanes add at once).
func (res *result) add(rep ScenarioReport) {
	res.mu.Lock()
	defer res.mu.Unlock()
	res.scenarios = append(res.scenarios, rep)
}

// setupEngine puts the stand-in `aws` on PATH (the kubeconfig the stack
// builds fetches its token through `aws eks get-token`), hands the stand-in
// AWS provider the fake cluster, and installs the plugins.
func (r *run) setupEngine(ctx context.Context) error {
	bin := filepath.Join(r.dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return err
	}
	cluster := fakecloud.ExampleIn(r.under.clusterName, r.under.region)
	cluster.Endpoint, cluster.CertificateAuthority = r.cp.endpoint, r.cp.caBase64()
	// The version the stack checks its AMI pin against is the one
	// Karpenter reads from the API server.
	version, err := r.client.Discovery().ServerVersion()
	if err != nil {
		return err
	}
	cluster.Version = version.Major + "." + strings.TrimSuffix(version.Minor, "+")
	// As in most accounts, the Spot service-linked role exists: the stack
	// adopts it by import, and every later run names it again.
	r.cluster = cluster
	if err := os.WriteFile(filepath.Join(bin, "aws"), []byte(e2e.AWSCLI(cluster.Region, r.under.clusterName, r.cp.token)), 0o755); err != nil {
		return err
	}
	if err := os.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH")); err != nil {
		return err
	}
	clusterJSON, err := json.Marshal(cluster)
	if err != nil {
		return err
	}
	kubeconfig := filepath.Join(r.dir, "cluster", "admin.kubeconfig")
	r.engine, err = newEngine(ctx, filepath.Join(r.dir, "pulumi"), r.pulumiBinary, map[string]string{
		e2e.ClusterEnv: string(clusterJSON),
		// Only the workload example uses the ambient kubeconfig; the stack
		// builds its own from the cluster's endpoint and CA.
		"KUBECONFIG": kubeconfig,
	}, r.plugins)
	return err
}

// chartSources are the chart repository settings of the run, by
// configuration key: the pinned Karpenter module's own chart folders, and
// the upstream charts of the device plugins at the versions the stack pins,
// as the tests get them (charts.Upstream).
func (r *run) chartSources() (map[string]string, error) {
	dir, err := gomod.Dir(gomod.Karpenter)
	if err != nil {
		return nil, err
	}
	sources := map[string]string{"karpenter.chartRepository": filepath.Join(dir, "charts")}
	for key, chart := range map[string]struct{ name, version string }{
		"devicePlugin.chartRepository":    {"nvidia-device-plugin", versions.NvidiaDevicePlugin},
		"efaDevicePlugin.chartRepository": {"aws-efa-k8s-device-plugin", versions.EFADevicePlugin},
	} {
		dir, err := charts.Upstream(chart.name, chart.version)
		if err != nil {
			return nil, err
		}
		if sources[key], err = filepath.Abs(filepath.Dir(dir)); err != nil {
			return nil, err
		}
	}
	return sources, nil
}

// describe names a step's resource changes for an error message.
func describe(changes []string) string {
	if len(changes) == 0 {
		return "none"
	}
	return strings.Join(changes, "\n  ")
}
