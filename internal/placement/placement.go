// Package placement judges where pods land with Kubernetes' own scheduling
// code (node affinity and taint toleration from k8s.io/component-helpers),
// against the node a GPU pool would produce. Tests use it to prove that the
// device plugin, the smoke test and consumer workloads reach every pool.
package placement

import (
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	schedulinghelpers "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	"k8s.io/klog/v2"
)

// Labels Karpenter sets on every node it launches, besides the template's.
const (
	labelNodePool  = "karpenter.sh/nodepool"
	labelNodeClass = "karpenter.k8s.aws/ec2nodeclass"
)

// Node is the node Karpenter would launch for a NodePool object: the
// template's labels and taints, the pool and node class labels, and for
// each requirement a label of the launched instance that meets it (In: its
// first value; Gte/Lte: the bound).
func Node(nodePool map[string]any) (*corev1.Node, error) {
	var np struct {
		Metadata metav1.ObjectMeta `json:"metadata"`
		Spec     struct {
			Template struct {
				Metadata struct {
					Labels map[string]string `json:"labels"`
				} `json:"metadata"`
				Spec struct {
					NodeClassRef struct {
						Name string `json:"name"`
					} `json:"nodeClassRef"`
					Requirements  []corev1.NodeSelectorRequirement `json:"requirements"`
					Taints        []corev1.Taint                   `json:"taints"`
					StartupTaints []corev1.Taint                   `json:"startupTaints"`
				} `json:"spec"`
			} `json:"template"`
		} `json:"spec"`
	}
	if err := convert(nodePool, &np); err != nil {
		return nil, err
	}
	tmpl := np.Spec.Template
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{
		labelNodePool:  np.Metadata.Name,
		labelNodeClass: tmpl.Spec.NodeClassRef.Name,
	}}}
	for _, r := range tmpl.Spec.Requirements {
		if _, set := node.Labels[r.Key]; set || len(r.Values) == 0 {
			continue // the first bound (Gte before Lte) decides
		}
		switch r.Operator {
		case corev1.NodeSelectorOpIn, "Gte", "Lte":
			node.Labels[r.Key] = r.Values[0]
		}
	}
	for k, v := range tmpl.Metadata.Labels {
		node.Labels[k] = v
	}
	node.Spec.Taints = append(append([]corev1.Taint(nil), tmpl.Spec.Taints...), tmpl.Spec.StartupTaints...)
	return node, nil
}

// DaemonSetRunsOn tells whether a DaemonSet with the chart values'
// affinity and tolerations would run a pod on the node.
func DaemonSetRunsOn(values map[string]any, node *corev1.Node) (bool, error) {
	var spec corev1.PodSpec
	if err := convert(map[string]any{"affinity": values["affinity"], "tolerations": values["tolerations"]}, &spec); err != nil {
		return false, err
	}
	return Fits(spec, node)
}

// DaemonSetPods are the pod specs of the DaemonSets among a rendered
// chart's objects, by DaemonSet name.
func DaemonSetPods(objects []map[string]any) (map[string]corev1.PodSpec, error) {
	out := map[string]corev1.PodSpec{}
	for _, obj := range objects {
		if obj["kind"] != "DaemonSet" {
			continue
		}
		var ds struct {
			Metadata metav1.ObjectMeta `json:"metadata"`
			Spec     struct {
				Template corev1.PodTemplateSpec `json:"template"`
			} `json:"spec"`
		}
		if err := convert(obj, &ds); err != nil {
			return nil, err
		}
		out[ds.Metadata.Name] = ds.Spec.Template.Spec
	}
	return out, nil
}

// Fits tells whether a pod with this spec may be scheduled onto the node:
// its node selector, its required node affinity, and its tolerations of
// the node's NoSchedule and NoExecute taints.
func Fits(spec corev1.PodSpec, node *corev1.Node) (bool, error) {
	if !labels.SelectorFromSet(spec.NodeSelector).Matches(labels.Set(node.Labels)) {
		return false, nil
	}
	if a := spec.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		ok, err := nodeaffinity.NewLazyErrorNodeSelector(a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution).Match(node)
		if err != nil || !ok {
			return false, err
		}
	}
	_, untolerated := schedulinghelpers.FindMatchingUntoleratedTaint(klog.Background(), node.Spec.Taints, spec.Tolerations, func(t *corev1.Taint) bool {
		return t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute
	}, false)
	return !untolerated, nil
}

func convert(from, to any) error {
	b, err := json.Marshal(from)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, to); err != nil {
		return fmt.Errorf("decoding %T: %w", to, err)
	}
	return nil
}
