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
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"karpenter-gpu/e2e"
	"karpenter-gpu/internal/charts"
	"karpenter-gpu/internal/fakecloud"
)

func main() {
	var tools Tools
	var fakeAWS, awsVersion, kubernetesProvider, kubernetesVersion, pulumiBinary, workDir string
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
	flag.StringVar(&workDir, "work", "", "working directory (default: a new temporary one, removed afterwards)")
	flag.BoolVar(&keep, "keep", false, "keep the working directory")
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
	// Interrupted: stop the control plane and the engine before leaving.
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	go func() { <-signals; cancel() }()

	r := &run{tools: tools, dir: workDir, plugins: []Plugin{
		{Name: "kubernetes", Version: kubernetesVersion, Binary: kubernetesProvider},
		{Name: "aws", Version: awsVersion, Binary: fakeAWS},
	}, pulumiBinary: pulumiBinary}
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
	plugins      []Plugin
	pulumiBinary string

	cp     *controlPlane
	client kubernetes.Interface
	dyn    dynamic.Interface
	engine *engine
	logs   []*os.File
	// cluster is what the stand-in AWS provider serves.
	cluster fakecloud.Cluster
}

// all runs every step; it returns the summary line, or the step that failed
// and why. Whatever happens, the control plane is stopped.
func (r *run) all(ctx context.Context) (string, string, error) {
	var err error
	r.cp, err = startControlPlane(ctx, r.tools, filepath.Join(r.dir, "cluster"))
	defer r.cp.stop()
	defer func() {
		for _, f := range r.logs {
			f.Close()
		}
	}()
	if err != nil {
		return "", "control plane", err
	}
	if r.client, err = kubernetes.NewForConfig(r.cp.rest); err != nil {
		return "", "control plane", err
	}
	if r.dyn, err = dynamic.NewForConfig(r.cp.rest); err != nil {
		return "", "control plane", err
	}
	if err := addSystemNodes(ctx, r.client); err != nil {
		return "", "control plane", err
	}
	karpenterErrs := make(chan error, 1)
	simCtx, stopSim := context.WithCancel(ctx)
	defer stopSim()
	go simulateKarpenter(simCtx, r.dyn, r.client, karpenterErrs)
	if err := r.setupEngine(ctx); err != nil {
		return "", "engine setup", err
	}
	before, err := snapshot(ctx, r.client.Discovery(), r.dyn)
	if err != nil {
		return "", "snapshot", err
	}

	steps := []struct {
		name string
		do   func(context.Context, *result) error
	}{
		{"step 1 (preview on the empty cluster)", r.preview},
		{"step 2 (pulumi up)", r.up},
		{"step 3 (second pulumi up)", r.reUp},
		{"step 4 (preview --diff of a maxGPUs change)", r.previewDiff},
		{"step 5 (examples/gpu-workload up)", r.workload},
		{"step 6 (pulumi destroy)", func(ctx context.Context, res *result) error { return r.destroy(ctx, res, before) }},
		{"step 7 (aws-auth on a CONFIG_MAP cluster: up, re-up, destroy)", r.awsAuth},
		{"step 8 (pools only, on a cluster whose Karpenter someone else installed)", r.poolsOnly},
	}
	res := &result{}
	for _, s := range steps {
		fmt.Fprintf(os.Stderr, "e2e: %s\n", s.name)
		start := time.Now()
		if err := s.do(ctx, res); err != nil {
			return "", s.name, err
		}
		select {
		case err := <-karpenterErrs:
			return "", s.name, fmt.Errorf("simulated Karpenter: %w", err)
		default:
		}
		if err := r.cp.alive(); err != nil {
			return "", s.name, err
		}
		fmt.Fprintf(os.Stderr, "e2e: %s done in %s\n", s.name, time.Since(start).Round(time.Second))
	}
	return fmt.Sprintf("e2e passed: up %d resources, re-up %d changes, preview-diff ok, destroy %d left", res.created, res.reUpChanges, res.left+res.awsAuthLeft+res.poolsOnlyLeft), "", nil
}

// result gathers the figures of the summary line.
type result struct {
	created, reUpChanges, left, awsAuthLeft, poolsOnlyLeft int
	outputs                                                map[string]any
}

// setupEngine puts the stand-in `aws` on PATH (the kubeconfig the stack
// builds fetches its token through `aws eks get-token`), hands the stand-in
// AWS provider the fake cluster, and installs the plugins.
func (r *run) setupEngine(ctx context.Context) error {
	bin := filepath.Join(r.dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return err
	}
	cluster := fakecloud.Example(clusterName)
	cluster.Endpoint, cluster.CertificateAuthority = r.cp.endpoint, r.cp.caBase64()
	// As in most accounts, the Spot service-linked role exists: the stack
	// adopts it by import, and every later run names it again.
	r.cluster = cluster
	if err := os.WriteFile(filepath.Join(bin, "aws"), []byte(e2e.AWSCLI(cluster.Region, clusterName, r.cp.token)), 0o755); err != nil {
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

// clusterName is the cluster Pulumi.dev.yaml names.
const clusterName = "ml-dev"

// chartFolders are the chart sources of the run: the pinned Karpenter
// module's own chart folders, and the stand-in device plugin chart.
func chartFolders() (karpenterCharts, devicePluginCharts string, err error) {
	dir, err := charts.ModuleDir(charts.KarpenterModule)
	if err != nil {
		return "", "", err
	}
	abs, err := filepath.Abs(filepath.Join("e2e", "charts"))
	return filepath.Join(dir, "charts"), abs, err
}

// engineLog is where an operation's progress output goes, beside the
// control plane's logs; on failure the harness keeps them.
func (r *run) engineLog(name string) io.Writer {
	f, err := os.Create(filepath.Join(r.cp.dir, "logs", "engine-"+name+".log"))
	if err != nil {
		return io.Discard
	}
	r.logs = append(r.logs, f)
	return f
}

// describe names a step's resource changes for an error message.
func describe(changes []string) string {
	if len(changes) == 0 {
		return "none"
	}
	return strings.Join(changes, "\n  ")
}
