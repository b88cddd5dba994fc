package kubelet

import (
	"encoding/json"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"karpenter-gpu/wellknown"
)

// A NodeClaim as Karpenter v1 leaves it once the instance is launched.
const launchedClaim = `{
  "apiVersion": "karpenter.sh/v1", "kind": "NodeClaim",
  "metadata": {"name": "inference-x7k2p", "labels": {
    "karpenter.sh/nodepool": "inference", "karpenter-gpu/pool": "inference",
    "node.kubernetes.io/instance-type": "g6.xlarge", "karpenter.k8s.aws/instance-gpu-count": "1"}},
  "spec": {
    "taints": [{"key": "nvidia.com/gpu", "effect": "NoSchedule"}],
    "startupTaints": [{"key": "example.com/agent-not-ready", "effect": "NoSchedule"}]},
  "status": {
    "providerID": "aws:///us-west-2a/i-0123456789abcdef0",
    "capacity": {"cpu": "4", "memory": "15155Mi", "pods": "58", "nvidia.com/gpu": "4", "vpc.amazonaws.com/efa": "0"},
    "allocatable": {"cpu": "3920m", "memory": "14162Mi", "pods": "58", "nvidia.com/gpu": "4"}}
}`

func TestNodeForIsWhatTheKubeletRegisters(t *testing.T) {
	var obj map[string]any
	if err := json.Unmarshal([]byte(launchedClaim), &obj); err != nil {
		t.Fatal(err)
	}
	claim, err := FromUnstructured[NodeClaim](obj)
	if err != nil {
		t.Fatal(err)
	}
	node, err := NodeFor(claim)
	if err != nil {
		t.Fatal(err)
	}
	if node.Name != "inference-x7k2p" || node.Spec.ProviderID != "aws:///us-west-2a/i-0123456789abcdef0" {
		t.Errorf("name %q, providerID %q", node.Name, node.Spec.ProviderID)
	}
	if node.Labels[wellknown.LabelNodePool] != "inference" || node.Labels[corev1.LabelHostname] != "inference-x7k2p" {
		t.Errorf("labels %v", node.Labels)
	}
	var taints []string
	for _, taint := range node.Spec.Taints {
		taints = append(taints, taint.Key+":"+string(taint.Effect))
	}
	want := []string{"nvidia.com/gpu:NoSchedule", "example.com/agent-not-ready:NoSchedule", wellknown.UnregisteredTaintKey + ":NoExecute"}
	if !slices.Equal(taints, want) {
		t.Errorf("taints %v, want %v", taints, want)
	}
	for _, r := range DeviceResources {
		if _, ok := node.Status.Capacity[r]; ok {
			t.Errorf("the kubelet reports %s before any device plugin runs", r)
		}
	}
	if cpu := node.Status.Allocatable[corev1.ResourceCPU]; cpu.String() != "3920m" {
		t.Errorf("allocatable cpu %s", cpu.String())
	}
	claim.Status.ProviderID = ""
	if _, err := NodeFor(claim); err == nil {
		t.Error("a NodeClaim without an instance got a node")
	}
}

func TestGPUResources(t *testing.T) {
	for _, c := range []struct {
		name, config string
		gpus         int
		want         corev1.ResourceList
		fails        bool
	}{
		{name: "no sharing", config: "version: v1\n", gpus: 4, want: corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("4")}},
		{name: "time-slicing", config: "version: v1\nsharing:\n  timeSlicing:\n    resources:\n    - name: nvidia.com/gpu\n      replicas: 4\n",
			gpus: 1, want: corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("4")}},
		{name: "renamed by default", config: "version: v1\nsharing:\n  timeSlicing:\n    renameByDefault: true\n    resources:\n    - name: nvidia.com/gpu\n      replicas: 2\n",
			gpus: 8, want: corev1.ResourceList{"nvidia.com/gpu.shared": resource.MustParse("16")}},
		{name: "flags change nothing registered", config: "version: v1\nflags:\n  failOnInitError: true\n", gpus: 1, want: corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("1")}},
		{name: "zero replicas", config: "version: v1\nsharing:\n  timeSlicing:\n    resources:\n    - name: nvidia.com/gpu\n      replicas: 0\n", gpus: 1, fails: true},
		{name: "unknown version", config: "version: v2\n", gpus: 1, fails: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := GPUResources(c.config, c.gpus)
			if c.fails {
				if err == nil {
					t.Fatalf("accepted, gave %v", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
			for r, q := range c.want {
				if g := got[r]; g.Cmp(q) != 0 {
					t.Errorf("%s: %s, want %s", r, g.String(), q.String())
				}
			}
		})
	}
}

func TestContainerEnvResolvesAsTheKubeletDoes(t *testing.T) {
	spec := &corev1.PodSpec{Containers: []corev1.Container{{
		Name: "controller",
		Env: []corev1.EnvVar{
			{Name: "CLUSTER_NAME", Value: "ml-dev"},
			{Name: "SYSTEM_NAMESPACE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}},
			{Name: "CPU_REQUESTS", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{
				ContainerName: "controller", Resource: "requests.cpu", Divisor: resource.MustParse("1m")}}},
			{Name: "MEMORY_LIMIT", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{
				ContainerName: "controller", Resource: "limits.memory", Divisor: resource.MustParse("0")}}},
			{Name: "CPU_CORES", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.cpu"}}},
		},

		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("1Gi")},
			Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1500m"), corev1.ResourceMemory: resource.MustParse("1Gi")},
		},
	}, {
		Name: "unbounded",
		Env: []corev1.EnvVar{
			{Name: "CPU_REQUESTS", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "requests.cpu", Divisor: resource.MustParse("1m")}}},
			{Name: "MEMORY_LIMIT", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.memory"}}},
		},
	}}}
	node := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("8"), corev1.ResourceMemory: resource.MustParse("32Gi")}
	env, err := ContainerEnv(spec, "controller", PodFields{"metadata.namespace": "kube-system"}, node)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"CLUSTER_NAME=ml-dev", "SYSTEM_NAMESPACE=kube-system", "CPU_REQUESTS=1000", "MEMORY_LIMIT=1073741824", "CPU_CORES=2"}
	if !slices.Equal(env, want) {
		t.Errorf("env %v, want %v", env, want)
	}
	// No requests, no limits: a request of zero, the node's allocatable as the limit.
	env, err = ContainerEnv(spec, "unbounded", PodFields{}, node)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"CPU_REQUESTS=0", "MEMORY_LIMIT=34359738368"}; !slices.Equal(env, want) {
		t.Errorf("env %v, want %v", env, want)
	}
	if _, err := ContainerEnv(spec, "controller", PodFields{}, node); err == nil {
		t.Error("an unknown pod field resolved")
	}
	if _, err := ContainerEnv(spec, "sidecar", PodFields{}, node); err == nil {
		t.Error("a missing container resolved")
	}
}
