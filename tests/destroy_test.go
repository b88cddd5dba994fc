package tests

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	dynamicfake "k8s.io/client-go/dynamic/fake"

	"karpenter-gpu/stack"
	"karpenter-gpu/wellknown"
)

func nodeClaim(name, pool, class, node string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "karpenter.sh/v1", "kind": "NodeClaim",
		"metadata": map[string]any{"name": name, "labels": map[string]any{"karpenter.sh/nodepool": pool}},
		"spec":     map[string]any{"nodeClassRef": map[string]any{"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": class}},
	}}
	if node != "" {
		_ = unstructured.SetNestedField(u.Object, node, "status", "nodeName")
	}
	return u
}

func pod(namespace, name, node, owner, phase string, annotations map[string]any) *unstructured.Unstructured {
	meta := map[string]any{"name": name, "namespace": namespace, "annotations": annotations}
	if owner != "" {
		meta["ownerReferences"] = []any{map[string]any{"apiVersion": "apps/v1", "kind": owner, "name": "x", "uid": "1"}}
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Pod", "metadata": meta,
		"spec": map[string]any{"nodeName": node}, "status": map[string]any{"phase": phase},
	}}
}

// A deletion that fails names what holds it: the NodeClaims of the pool
// or class, the pods their nodes still drain (not DaemonSets', not
// finished ones), which of them Karpenter will not evict, and the
// provider's own words.
func TestDeletionReportNamesWhatHoldsIt(t *testing.T) {
	t.Parallel()
	client := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		wellknown.NodeClaimResource: "NodeClaimList", wellknown.PodResource: "PodList",
	},
		nodeClaim("training-abcde", "training", "p5", "ip-10-0-1-5"),
		nodeClaim("training-fghij", "training", "p5", ""),
		nodeClaim("inference-klmno", "inference", "serving", "ip-10-0-2-7"),
		pod("ml", "train-0", "ip-10-0-1-5", "Job", "Running", map[string]any{"karpenter.sh/do-not-disrupt": "true"}),
		pod("ml", "eval-0", "ip-10-0-1-5", "", "Running", nil),
		pod("ml", "done-0", "ip-10-0-1-5", "Job", "Succeeded", nil),
		pod("kube-system", "nvidia-device-plugin-x", "ip-10-0-1-5", "DaemonSet", "Running", nil),
		pod("ml", "serve-0", "ip-10-0-2-7", "ReplicaSet", "Running", nil),
	)
	connect := func(string) (dynamic.Interface, error) { return client, nil }

	timeout := `timed out waiting for the condition: 'training' was not deleted`
	got := stack.DeletionReport(context.Background(), connect, "kubeconfig", "NodePool", "training", "30m", []string{timeout})
	for _, want := range []string{
		"NodePool training was not deleted within destroyTimeout 30m: Karpenter deletes it once its 2 NodeClaim(s) are gone",
		"NodeClaim training-abcde (node ip-10-0-1-5, draining pods ml/eval-0, ml/train-0; not evicted for karpenter.sh/do-not-disrupt: ml/train-0)",
		"NodeClaim training-fghij (no node yet)",
		"raise karpenter-gpu:destroyTimeout",
		"The provider said: " + timeout,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
	for _, other := range []string{"inference", "done-0", "nvidia-device-plugin"} {
		if strings.Contains(got, other) {
			t.Errorf("report names %s:\n%s", other, got)
		}
	}
	class := stack.DeletionReport(context.Background(), connect, "kubeconfig", "EC2NodeClass", "serving", "30m", []string{timeout})
	if !strings.Contains(class, "NodeClaim inference-klmno (node ip-10-0-2-7, draining pods ml/serve-0)") || strings.Contains(class, "NodeClaim training") {
		t.Errorf("class report:\n%s", class)
	}
}
