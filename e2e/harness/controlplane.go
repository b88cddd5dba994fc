package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"
)

// Tools are the binaries e2e/tools.sh built.
type Tools struct {
	Etcd, APIServer, ControllerManager, Scheduler, Kwok string
	// KwokStages are kwok's own stage files.
	KwokStages []string
}

// controlPlane is etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler and kwok on 127.0.0.1: Deployments, DaemonSets and Jobs
// get pods, pods get simulated nodes and become ready or complete.
type controlPlane struct {
	dir       string
	endpoint  string
	caData    []byte // PEM
	token     string
	processes []*process
	rest      *rest.Config
}

type process struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	// kill stops it at once: the API server drains for minutes on SIGTERM
	// when etcd is going away too.
	kill bool
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startControlPlane starts everything under dir; stop undoes it, also when
// start failed half-way.
func startControlPlane(ctx context.Context, tools Tools, dir string) (*controlPlane, error) {
	cp := &controlPlane{dir: dir, token: "e2e-admin-token"}
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		return cp, err
	}
	ports := make([]int, 3)
	for i := range ports {
		p, err := freePort()
		if err != nil {
			return cp, err
		}
		ports[i] = p
	}
	etcdURL, peerURL := fmt.Sprintf("http://127.0.0.1:%d", ports[0]), fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	cp.endpoint = fmt.Sprintf("https://127.0.0.1:%d", ports[2])

	servingCert, servingKey, err := cert.GenerateSelfSignedCertKey("127.0.0.1", []net.IP{net.ParseIP("127.0.0.1")}, []string{"localhost"})
	if err != nil {
		return cp, err
	}
	cp.caData = servingCert
	saKey, err := keyutil.MakeEllipticPrivateKeyPEM()
	if err != nil {
		return cp, err
	}
	files := map[string][]byte{
		"serving.crt": servingCert,
		"serving.key": servingKey,
		"sa.key":      saKey,
		"tokens.csv":  []byte(cp.token + `,e2e-admin,e2e-admin,"system:masters"` + "\n"),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return cp, err
		}
	}
	kubeconfig := filepath.Join(dir, "admin.kubeconfig")
	if err := clientcmd.WriteToFile(cp.kubeconfig(), kubeconfig); err != nil {
		return cp, err
	}
	cp.rest = &rest.Config{Host: cp.endpoint, BearerToken: cp.token, TLSClientConfig: rest.TLSClientConfig{CAData: cp.caData}, QPS: 50, Burst: 100}

	if err := cp.start("etcd", false, tools.Etcd, "--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "default="+peerURL, "--log-level", "warn"); err != nil {
		return cp, err
	}
	if err := cp.start("kube-apiserver", true, tools.APIServer,
		"--etcd-servers", etcdURL,
		"--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1", "--secure-port", strconv.Itoa(ports[2]),
		"--cert-dir", filepath.Join(dir, "apiserver"),
		"--tls-cert-file", filepath.Join(dir, "serving.crt"), "--tls-private-key-file", filepath.Join(dir, "serving.key"),
		"--token-auth-file", filepath.Join(dir, "tokens.csv"),
		"--authorization-mode", "Node,RBAC",
		// As on EKS: the NVIDIA device plugin's chart runs privileged
		// containers.
		"--allow-privileged=true",
		"--service-account-issuer", "https://kubernetes.default.svc",
		"--service-account-key-file", filepath.Join(dir, "sa.key"),
		"--service-account-signing-key-file", filepath.Join(dir, "sa.key"),
		"--service-cluster-ip-range", "10.96.0.0/16",
		// Alone on 127.0.0.1 it has no endpoints of its own to reconcile.
		"--endpoint-reconciler-type", "none"); err != nil {
		return cp, err
	}
	if err := cp.waitReady(ctx, 2*time.Minute); err != nil {
		return cp, err
	}
	if err := cp.start("kube-controller-manager", false, tools.ControllerManager,
		"--kubeconfig", kubeconfig, "--leader-elect=false", "--secure-port=0",
		"--service-account-private-key-file", filepath.Join(dir, "sa.key"),
		"--root-ca-file", filepath.Join(dir, "serving.crt"),
		"--controllers", "*,-nodeipam"); err != nil {
		return cp, err
	}
	if err := cp.start("kube-scheduler", false, tools.Scheduler,
		"--kubeconfig", kubeconfig, "--leader-elect=false", "--secure-port=0"); err != nil {
		return cp, err
	}
	kwok := []string{"--kubeconfig", kubeconfig, "--manage-all-nodes=true", "--server-address", "127.0.0.1:0"}
	for _, s := range tools.KwokStages {
		kwok = append(kwok, "--config", s)
	}
	return cp, cp.start("kwok", false, tools.Kwok, kwok...)
}

// kubeconfig is an administrator's kubeconfig for the local API server.
func (cp *controlPlane) kubeconfig() clientcmdapi.Config {
	return clientcmdapi.Config{
		Clusters:       map[string]*clientcmdapi.Cluster{"e2e": {Server: cp.endpoint, CertificateAuthorityData: cp.caData}},
		AuthInfos:      map[string]*clientcmdapi.AuthInfo{"e2e": {Token: cp.token}},
		Contexts:       map[string]*clientcmdapi.Context{"e2e": {Cluster: "e2e", AuthInfo: "e2e"}},
		CurrentContext: "e2e",
	}
}

// caBase64 is the certificate authority as EKS's describe-cluster gives it.
func (cp *controlPlane) caBase64() string { return base64.StdEncoding.EncodeToString(cp.caData) }

func (cp *controlPlane) start(name string, kill bool, binary string, args ...string) error {
	logFile, err := os.Create(filepath.Join(cp.dir, "logs", name+".log"))
	if err != nil {
		return err
	}
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("starting %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, done: make(chan struct{}), kill: kill}
	go func() { _ = cmd.Wait(); logFile.Close(); close(p.done) }()
	cp.processes = append(cp.processes, p)
	return nil
}

// alive fails naming the first process that exited.
func (cp *controlPlane) alive() error {
	for _, p := range cp.processes {
		select {
		case <-p.done:
			return fmt.Errorf("%s exited (%v); see %s", p.name, p.cmd.ProcessState, filepath.Join(cp.dir, "logs", p.name+".log"))
		default:
		}
	}
	return nil
}

func (cp *controlPlane) waitReady(ctx context.Context, timeout time.Duration) error {
	client, err := kubernetes.NewForConfig(cp.rest)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	for {
		if err := cp.alive(); err != nil {
			return err
		}
		body, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err == nil && string(body) == "ok" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("kube-apiserver not ready after %s: %v", timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// stop ends every process, newest first, and waits for each.
func (cp *controlPlane) stop() {
	for i := len(cp.processes) - 1; i >= 0; i-- {
		p := cp.processes[i]
		sig := syscall.SIGTERM
		if p.kill {
			sig = syscall.SIGKILL
		}
		_ = syscall.Kill(-p.cmd.Process.Pid, sig)
		select {
		case <-p.done:
		case <-time.After(20 * time.Second):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
	}
}
