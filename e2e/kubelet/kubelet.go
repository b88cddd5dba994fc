// Package kubelet does, in the end-to-end run, what the kubelets of real
// nodes would do and nothing else runs here: register a Node for each
// instance Karpenter launched, advertise the devices a device plugin's pod
// registers on its node, take a terminated instance's pods with it, and
// resolve a container's environment.
package kubelet

import (
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"karpenter-gpu/wellknown"
)

// KwokNodeAnnotation marks a node kwok simulates (runs its pods, keeps it
// Ready).
const KwokNodeAnnotation = "kwok.x-k8s.io/node"

// UnregisteredTaint is the taint a kubelet that Karpenter's bootstrap
// configured registers with, until Karpenter has synced the node.
var UnregisteredTaint = corev1.Taint{Key: wellknown.UnregisteredTaintKey, Effect: corev1.TaintEffectNoExecute}

// NodeClaim is what a kubelet's registration takes from a Karpenter
// NodeClaim (karpenter.sh/v1): the main module cannot import Karpenter's
// core types, whose pinned release the module proxy does not serve.
type NodeClaim struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Taints        []corev1.Taint `json:"taints"`
		StartupTaints []corev1.Taint `json:"startupTaints"`
	} `json:"spec"`
	Status struct {
		ProviderID  string              `json:"providerID"`
		NodeName    string              `json:"nodeName"`
		Capacity    corev1.ResourceList `json:"capacity"`
		Allocatable corev1.ResourceList `json:"allocatable"`
	} `json:"status"`
}

// DeviceResources are the extended resources that only a device plugin
// registers: a node's kubelet does not report them before the plugin runs.
var DeviceResources = []corev1.ResourceName{wellknown.GPUResource, wellknown.EFAResource}

// NodeFor is the Node the kubelet of a NodeClaim's instance registers: its
// name, the provider ID, the NodeClaim's labels, its taints and startup
// taints plus Karpenter's unregistered taint, and the capacity Karpenter
// expects of the instance type without what device plugins register.
func NodeFor(claim *NodeClaim) (*corev1.Node, error) {
	if claim.Status.ProviderID == "" {
		return nil, fmt.Errorf("NodeClaim %s is not launched", claim.Name)
	}
	labels := map[string]string{corev1.LabelHostname: claim.Name}
	for k, v := range claim.Labels {
		labels[k] = v
	}
	taints := append(append([]corev1.Taint{}, claim.Spec.Taints...), claim.Spec.StartupTaints...)
	taints = append(taints, UnregisteredTaint)
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: claim.Name, Labels: labels, Annotations: map[string]string{KwokNodeAnnotation: "fake"}},
		Spec:       corev1.NodeSpec{ProviderID: claim.Status.ProviderID, Taints: taints},
		Status: corev1.NodeStatus{
			Capacity:    withoutDevices(claim.Status.Capacity),
			Allocatable: withoutDevices(claim.Status.Allocatable),
		},
	}, nil
}

func withoutDevices(in corev1.ResourceList) corev1.ResourceList {
	out := in.DeepCopy()
	for _, r := range DeviceResources {
		delete(out, r)
	}
	return out
}

// FromUnstructured converts an object the dynamic client read.
func FromUnstructured[T any](obj map[string]any) (*T, error) {
	var t T
	return &t, runtime.DefaultUnstructuredConverter.FromUnstructured(obj, &t)
}

// DevicePluginConfig is the part of the NVIDIA device plugin's
// configuration file (config.map entries of its chart) that decides what
// it registers.
type DevicePluginConfig struct {
	Version string `json:"version"`
	Sharing struct {
		TimeSlicing struct {
			RenameByDefault bool `json:"renameByDefault"`
			Resources       []struct {
				Name     string `json:"name"`
				Rename   string `json:"rename"`
				Replicas int    `json:"replicas"`
			} `json:"resources"`
		} `json:"timeSlicing"`
	} `json:"sharing"`
}

// GPUResources is what the NVIDIA device plugin registers on a node with
// gpus GPUs under the configuration: each GPU once, or replicas times
// under time-slicing (as nvidia.com/gpu.shared when renamed by default).
func GPUResources(configYAML string, gpus int) (corev1.ResourceList, error) {
	var c DevicePluginConfig
	if err := yaml.Unmarshal([]byte(configYAML), &c); err != nil {
		return nil, fmt.Errorf("device plugin configuration: %w", err)
	}
	if c.Version != "v1" {
		return nil, fmt.Errorf("device plugin configuration version %q, want v1", c.Version)
	}
	out := corev1.ResourceList{wellknown.GPUResource: *resource.NewQuantity(int64(gpus), resource.DecimalSI)}
	for _, r := range c.Sharing.TimeSlicing.Resources {
		if r.Name != wellknown.GPUResource {
			continue
		}
		if r.Replicas < 1 {
			return nil, fmt.Errorf("device plugin configuration: %s replicas %d", r.Name, r.Replicas)
		}
		name := corev1.ResourceName(r.Name)
		switch {
		case r.Rename != "":
			name = corev1.ResourceName(r.Rename)
		case c.Sharing.TimeSlicing.RenameByDefault:
			name = corev1.ResourceName(r.Name + ".shared")
		}
		delete(out, wellknown.GPUResource)
		out[name] = *resource.NewQuantity(int64(gpus*r.Replicas), resource.DecimalSI)
	}
	return out, nil
}

// GPUCount is the number of GPUs of a node's instance, from the label
// Karpenter puts on it.
func GPUCount(node *corev1.Node) (int, error) {
	v, ok := node.Labels[wellknown.LabelGPUCount]
	if !ok {
		return 0, fmt.Errorf("node %s has no %s label", node.Name, wellknown.LabelGPUCount)
	}
	return strconv.Atoi(v)
}
