package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"karpenter-gpu/e2e/kubelet"
	"karpenter-gpu/gpu"
	"karpenter-gpu/wellknown"
)

var (
	nodePoolResource  = schema.GroupVersionResource{Group: "karpenter.sh", Version: "v1", Resource: "nodepools"}
	nodeClaimResource = schema.GroupVersionResource{Group: "karpenter.sh", Version: "v1", Resource: "nodeclaims"}
	nodeClassResource = schema.GroupVersionResource{Group: "karpenter.k8s.aws", Version: "v1", Resource: "ec2nodeclasses"}
)

// systemNode is the node the controller's pod is taken to run on.
const systemNode = "system-us-west-2a"

// repairToleration is how long the run's controller tolerates an unhealthy
// node condition before it repairs (upstream's policies wait 10 or 30
// minutes); each policy's condition and drain bound stay upstream's.
// repairTolerationEnv is e2e/controller's RepairTolerationEnv.
const (
	repairToleration    = 20 * time.Second
	repairTolerationEnv = "E2E_REPAIR_TOLERATION"
)

// controllerContainer is the controller's container in the Karpenter
// chart's Deployment.
const controllerContainer = "controller"

// devicePluginApp is the app.kubernetes.io/name of the NVIDIA device
// plugin chart's pods.
const devicePluginApp = "nvidia-device-plugin"

// karpenter runs the real Karpenter controller (e2e/controller) as a
// process for as long as a controller Deployment of a Karpenter chart
// exists, with that Deployment's environment and its service account's
// token, and does what the kubelets of the nodes it launches would do
// (package kubelet).
type karpenter struct {
	binary string
	dir    string // seed, calls, instances
	logs   string
	cp     *controlPlane
	client kubernetes.Interface
	dyn    dynamic.Interface
	// seed is the account as it is now: the stack's state changes while
	// an update runs.
	seed func() (controllerSeed, error)

	proc       *exec.Cmd
	done       chan struct{}
	deployment types.NamespacedName
	starts     int
	registered map[string]bool
	dog        watchdog
}

func (k *karpenter) callsFile() string     { return filepath.Join(k.dir, "calls.jsonl") }
func (k *karpenter) instancesFile() string { return filepath.Join(k.dir, "instances.json") }
func (k *karpenter) seedFile() string      { return filepath.Join(k.dir, "seed.json") }

// run reconciles every half second until ctx ends, then stops the
// controller; the first error ends it.
func (k *karpenter) run(ctx context.Context, errs chan<- error) {
	defer k.stop()
	for {
		if err := k.reconcile(ctx); err != nil {
			if ctx.Err() == nil {
				errs <- fmt.Errorf("Karpenter: %w", err)
			}
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (k *karpenter) reconcile(ctx context.Context) error {
	if err := k.supervise(ctx); err != nil {
		return err
	}
	if k.proc != nil {
		if err := k.writeSeed(); err != nil {
			return err
		}
	}
	if err := k.registerNodes(ctx); err != nil {
		return err
	}
	if err := k.advertiseGPUs(ctx); err != nil {
		return err
	}
	if err := k.advertiseEFA(ctx); err != nil {
		return err
	}
	return k.watch(ctx)
}

// supervise starts the controller when a Karpenter Deployment appears and
// stops it when the Deployment is being deleted or gone, as its pods would.
func (k *karpenter) supervise(ctx context.Context) error {
	deployments, err := k.client.AppsV1().Deployments("").List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=karpenter"})
	if err != nil {
		return nil // the API server is busy; next round
	}
	var live *appsv1.Deployment
	for i, d := range deployments.Items {
		if d.DeletionTimestamp == nil {
			live = &deployments.Items[i]
		}
	}
	if k.proc != nil {
		select {
		case <-k.done:
			return fmt.Errorf("the Karpenter controller exited while Deployment %s exists (%v); see %s", k.deployment, k.proc.ProcessState, k.logFile())
		default:
		}
		if live == nil || live.Namespace != k.deployment.Namespace || live.Name != k.deployment.Name {
			k.stop()
		}
		return nil
	}
	if live == nil {
		return nil
	}
	return k.start(ctx, live)
}

func (k *karpenter) logFile() string {
	return filepath.Join(k.logs, fmt.Sprintf("karpenter-%d.log", k.starts))
}

func (k *karpenter) start(ctx context.Context, d *appsv1.Deployment) error {
	spec := d.Spec.Template.Spec
	node, err := k.client.CoreV1().Nodes().Get(ctx, systemNode, metav1.GetOptions{})
	if err != nil {
		return err
	}
	env, err := kubelet.ContainerEnv(&spec, controllerContainer, kubelet.PodFields{
		"metadata.namespace": d.Namespace, "metadata.name": d.Name + "-e2e", "spec.nodeName": systemNode,
	}, node.Status.Allocatable)
	if err != nil {
		return fmt.Errorf("Deployment %s/%s: %w", d.Namespace, d.Name, err)
	}
	kubeconfig, err := k.serviceAccountKubeconfig(ctx, d.Namespace, spec.ServiceAccountName)
	if apierrors.IsNotFound(err) {
		return nil // no pod starts before its service account exists
	}
	if err != nil {
		return err
	}
	if err := k.writeSeed(); err != nil {
		return err
	}
	metrics, err := freePort()
	if err != nil {
		return err
	}
	health, err := freePort()
	if err != nil {
		return err
	}
	// What a pod has and a process lacks: its own ports, and its
	// namespace in the service account's files (leader election's lease
	// lives there).
	env = append(env, "KUBECONFIG="+kubeconfig, "METRICS_PORT="+strconv.Itoa(metrics), "HEALTH_PROBE_PORT="+strconv.Itoa(health),
		"LEADER_ELECTION_NAMESPACE="+d.Namespace, "PATH="+os.Getenv("PATH"), "HOME="+k.dir,
		repairTolerationEnv+"="+repairToleration.String())
	k.starts++
	log, err := os.Create(k.logFile())
	if err != nil {
		return err
	}
	cmd := exec.Command(k.binary, "-seed", k.seedFile(), "-calls", k.callsFile(), "-instances", k.instancesFile())
	cmd.Env, cmd.Stdout, cmd.Stderr = env, log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("starting the Karpenter controller: %w", err)
	}
	k.proc, k.done = cmd, make(chan struct{})
	k.deployment = types.NamespacedName{Namespace: d.Namespace, Name: d.Name}
	done := k.done
	go func() { _ = cmd.Wait(); log.Close(); close(done) }()
	fmt.Fprintf(os.Stderr, "e2e: Karpenter controller started for Deployment %s (log %s)\n", k.deployment, k.logFile())
	return nil
}

// stop ends the controller as a pod's termination does: SIGTERM, then
// SIGKILL after the grace period.
func (k *karpenter) stop() {
	if k.proc == nil {
		return
	}
	_ = syscall.Kill(-k.proc.Process.Pid, syscall.SIGTERM)
	select {
	case <-k.done:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-k.proc.Process.Pid, syscall.SIGKILL)
		<-k.done
	}
	fmt.Fprintf(os.Stderr, "e2e: Karpenter controller for Deployment %s stopped\n", k.deployment)
	k.proc, k.done = nil, nil
}

// serviceAccountKubeconfig is a kubeconfig with a token of the
// controller's service account: the controller runs with the RBAC the
// chart grants it, not as an administrator.
func (k *karpenter) serviceAccountKubeconfig(ctx context.Context, namespace, name string) (string, error) {
	expiry := int64(24 * 3600)
	tr, err := k.client.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("token of service account %s/%s: %w", namespace, name, err)
	}

	config := clientcmdapi.Config{
		Clusters:       map[string]*clientcmdapi.Cluster{"e2e": {Server: k.cp.endpoint, CertificateAuthorityData: k.cp.caData}},
		AuthInfos:      map[string]*clientcmdapi.AuthInfo{"karpenter": {Token: tr.Status.Token}},
		Contexts:       map[string]*clientcmdapi.Context{"karpenter": {Cluster: "e2e", AuthInfo: "karpenter", Namespace: namespace}},
		CurrentContext: "karpenter",
	}
	path := filepath.Join(k.dir, "karpenter.kubeconfig")
	return path, clientcmd.WriteToFile(config, path)
}

func (k *karpenter) writeSeed() error {
	s, err := k.seed()
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := k.seedFile() + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, k.seedFile())
}

// registerNodes registers a Node for each launched NodeClaim once, as its
// instance's kubelet does; once Karpenter deleted such a node (its
// instance terminated), the node's pods go too.
func (k *karpenter) registerNodes(ctx context.Context) error {
	claims, err := k.dyn.Resource(nodeClaimResource).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil // no CRD yet, or going away
	}
	for _, u := range claims.Items {
		if k.registered[u.GetName()] {
			continue
		}
		claim, err := kubelet.FromUnstructured[kubelet.NodeClaim](u.Object)
		if err != nil {
			return err
		}
		if claim.Status.ProviderID == "" || claim.DeletionTimestamp != nil {
			continue
		}
		node, err := kubelet.NodeFor(claim)
		if err != nil {
			return err
		}
		if _, err := k.client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("registering node for NodeClaim %s: %w", claim.Name, err)
		}
		k.registered[claim.Name] = true
	}
	for name := range k.registered {
		if _, err := k.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{}); apierrors.IsNotFound(err) {
			if err := k.removePods(ctx, name); err != nil {
				return err
			}
		}
	}
	return nil
}

// removePods deletes the pods still bound to a node that is gone, as a
// terminated instance takes its pods along (the pod garbage collector
// would find them only after a quarantine of about a minute).
func (k *karpenter) removePods(ctx context.Context, node string) error {
	pods, err := k.client.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + node})
	if err != nil {
		return err
	}
	now := int64(0)
	for _, p := range pods.Items {
		if err := k.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &now}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}

// advertiseGPUs adds to a registered GPU node what the NVIDIA device
// plugin registers once its pod runs there: the node's GPUs, times the
// time-slicing replicas of the configuration the node selects.
func (k *karpenter) advertiseGPUs(ctx context.Context) error {
	for name := range k.registered {
		node, err := k.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			continue
		}
		if _, done := node.Status.Allocatable[wellknown.GPUResource]; done {
			continue
		}
		if _, shared := node.Status.Allocatable[wellknown.GPUResource+".shared"]; shared {
			continue
		}
		gpus, err := kubelet.GPUCount(node)
		if err != nil || gpus == 0 {
			continue
		}
		p, err := k.runningPod(ctx, "", "app.kubernetes.io/name="+devicePluginApp, name)
		if err != nil {
			return err
		}
		if p == nil {
			continue
		}
		config, err := k.devicePluginConfig(ctx, p, node)
		if err != nil {
			return fmt.Errorf("device plugin pod %s/%s on %s: %w", p.Namespace, p.Name, name, err)
		}
		resources, err := kubelet.GPUResources(config, gpus)
		if err != nil {
			return fmt.Errorf("device plugin pod %s/%s on %s: %w", p.Namespace, p.Name, name, err)
		}
		if err := k.addDevices(ctx, node, resources); err != nil {
			return err
		}
	}
	return nil
}

// advertiseEFA adds to a registered node of an EFA node class what the EFA
// device plugin registers once the upstream chart's pod runs there: one
// vpc.amazonaws.com/efa per EFA interface the class attaches.
func (k *karpenter) advertiseEFA(ctx context.Context) error {
	for name := range k.registered {
		node, err := k.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			continue
		}
		if _, done := node.Status.Allocatable[wellknown.EFAResource]; done {
			continue
		}
		interfaces, err := efaInterfaces(ctx, k.dyn, node)
		if err != nil || interfaces == 0 {
			continue
		}
		p, err := k.runningPod(ctx, "kube-system", "name="+gpu.EFADevicePluginRelease, name)
		if err != nil {
			return err
		}
		if p == nil {
			continue
		}
		if err := k.addDevices(ctx, node, corev1.ResourceList{wellknown.EFAResource: *resource.NewQuantity(int64(interfaces), resource.DecimalSI)}); err != nil {
			return err
		}
	}
	return nil
}

// runningPod is a running pod of the selector on the node, nil for none.
func (k *karpenter) runningPod(ctx context.Context, namespace, selector, node string) (*corev1.Pod, error) {
	pods, err := k.client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + node, LabelSelector: selector})
	if err != nil {
		return nil, err
	}
	for i, p := range pods.Items {
		if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
			return &pods.Items[i], nil
		}
	}
	return nil, nil
}

// efaInterfaces is the number of EFA interfaces the node's EC2NodeClass
// attaches (spec.networkInterfaces of type efa-only); 0 for a class without.
func efaInterfaces(ctx context.Context, dyn dynamic.Interface, node *corev1.Node) (int, error) {
	class, err := dyn.Resource(nodeClassResource).Get(ctx, node.Labels[wellknown.LabelEC2NodeClass], metav1.GetOptions{})
	if err != nil {
		return 0, err
	}
	nics, _, _ := unstructured.NestedSlice(class.Object, "spec", "networkInterfaces")
	n := 0
	for _, nic := range nics {
		if m, ok := nic.(map[string]any); ok && m["interfaceType"] == "efa-only" {
			n++
		}
	}
	return n, nil
}

// devicePluginConfig is the configuration the plugin's config manager
// picks for the node: the one the node's label names, else the chart's
// default, else the only one; a plugin without configurations registers
// each GPU once.
func (k *karpenter) devicePluginConfig(ctx context.Context, pod *corev1.Pod, node *corev1.Node) (string, error) {
	var configMap string
	for _, v := range pod.Spec.Volumes {
		if v.Name == "available-configs" && v.ConfigMap != nil {
			configMap = v.ConfigMap.Name
		}
	}
	if configMap == "" {
		return "version: v1\n", nil
	}
	cm, err := k.client.CoreV1().ConfigMaps(pod.Namespace).Get(ctx, configMap, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	name := node.Labels[wellknown.DevicePluginConfigLabel]
	if name == "" {
		for _, c := range append(pod.Spec.InitContainers, pod.Spec.Containers...) {
			for _, e := range c.Env {
				if e.Name == "DEFAULT_CONFIG" && e.Value != "" {
					name = e.Value
				}
			}
		}
	}
	if name == "" && len(cm.Data) == 1 {
		for only := range cm.Data {
			name = only
		}
	}
	config, ok := cm.Data[name]
	if !ok {
		return "", fmt.Errorf("ConfigMap %s has no configuration %q", configMap, name)
	}
	return config, nil
}

func (k *karpenter) addDevices(ctx context.Context, node *corev1.Node, resources corev1.ResourceList) error {
	capacity, allocatable := node.Status.Capacity.DeepCopy(), node.Status.Allocatable.DeepCopy()
	for r, q := range resources {
		capacity[r], allocatable[r] = q, q
	}
	patch, err := json.Marshal(map[string]any{"status": map[string]any{"capacity": capacity, "allocatable": allocatable}})
	if err != nil {
		return err
	}
	_, err = k.client.CoreV1().Nodes().Patch(ctx, node.Name, types.MergePatchType, patch, metav1.PatchOptions{}, "status")
	return err
}

// Instance is a running instance as the controller lists them.
type Instance struct {
	ID           string            `json:"id"`
	Type         string            `json:"type"`
	Zone         string            `json:"zone"`
	CapacityType string            `json:"capacityType"`
	Tags         map[string]string `json:"tags"`
}

// instances are the instances running now.
func (k *karpenter) instances() ([]Instance, error) {
	raw, err := os.ReadFile(k.instancesFile())
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var list []Instance
	return list, json.Unmarshal(raw, &list)
}

// logTail is the end of the controller's log, for an error message.
func (k *karpenter) logTail() string {
	raw, _ := os.ReadFile(k.logFile())
	lines := bytes.Split(bytes.TrimSpace(raw), []byte("\n"))
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return strings.TrimSpace(string(bytes.Join(lines, []byte("\n"))))
}
