package gpu_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	schedulinghelpers "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	"k8s.io/klog/v2"

	"karpenter-gpu/config"
	"karpenter-gpu/gpu"
	"karpenter-gpu/internal/crdschema"
	"karpenter-gpu/internal/fakecloud"
	"karpenter-gpu/wellknown"
)

func pool(mutate func(*config.GPUPool)) config.GPUPool {
	p := config.Defaults().GPUPools[0]
	p.Name = "inference"
	if mutate != nil {
		mutate(&p)
	}
	return p
}

var pools = map[string]config.GPUPool{
	"default": pool(nil),
	"spot-only-l4": pool(func(p *config.GPUPool) {
		p.GPUs, p.CapacityTypes, p.MaxGPUs = []string{"l4"}, []string{"spot"}, 8
	}),
	"training": pool(func(p *config.GPUPool) {
		p.Name, p.GPUs, p.GPUCount, p.MaxGPUs = "training", []string{"h100", "a100"}, config.GPUCount{Min: 8, Max: 8}, 16
		p.CapacityTypes, p.Consolidation, p.ConsolidateAfter = []string{"on-demand"}, "WhenEmptyOrUnderutilized", "10m"
		p.ExpireAfter, p.TerminationGracePeriod, p.Weight = "168h", "2h", 50
		p.Budgets = []config.Budget{{Nodes: "0", Reasons: []string{"Underutilized"}, Schedule: "0 9 * * 1-5", Duration: "8h"}, {Nodes: "20%"}}
		p.Labels = map[string]string{"team": "research"}
		p.Taints = []config.Taint{{Key: "research-only", Value: "true", Effect: "NoSchedule"}}
	}),
	"by-memory-and-family": pool(func(p *config.GPUPool) {
		p.GPUs, p.MinGPUMemoryGiB, p.InstanceFamilies, p.Architectures = nil, 24, []string{"g5", "g6", "g6e"}, []string{"amd64", "arm64"}
	}),
	"instance-types": pool(func(p *config.GPUPool) {
		p.GPUs, p.InstanceTypes, p.ExpireAfter, p.ConsolidateAfter = nil, []string{"g5.xlarge", "g6.2xlarge"}, "Never", "Never"
	}),
}

func TestNodePoolsPassKarpenterSchema(t *testing.T) {
	v, err := crdschema.Karpenter()
	if err != nil {
		t.Fatal(err)
	}
	for name, p := range pools {
		t.Run(name, func(t *testing.T) {
			if err := v.Validate(gpu.NodePoolObject(p, "gpu")); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func requirements(obj map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	spec := obj["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
	for _, r := range spec["requirements"].([]any) {
		req := r.(map[string]any)
		out[req["key"].(string)+" "+req["operator"].(string)] = req
	}
	return out
}

func TestNodePoolSpec(t *testing.T) {
	obj := gpu.NodePoolObject(pools["training"], "gpu")
	spec := obj["spec"].(map[string]any)
	tmpl := spec["template"].(map[string]any)
	tspec := tmpl["spec"].(map[string]any)

	if !reflect.DeepEqual(tspec["nodeClassRef"], map[string]any{"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "gpu"}) {
		t.Errorf("nodeClassRef = %v", tspec["nodeClassRef"])
	}
	reqs := requirements(obj)
	want := map[string][]string{
		"karpenter.k8s.aws/instance-gpu-manufacturer In": {"nvidia"},
		"karpenter.k8s.aws/instance-gpu-name In":         {"a100", "h100"},
		"karpenter.k8s.aws/instance-gpu-count Gte":       {"8"},
		"karpenter.k8s.aws/instance-gpu-count Lte":       {"8"},
		"karpenter.sh/capacity-type In":                  {"on-demand"},
		"kubernetes.io/arch In":                          {"amd64"},
	}
	for key, values := range want {
		if got := reqs[key]; got == nil || !reflect.DeepEqual(got["values"], values) {
			t.Errorf("requirement %s = %v, want %v", key, got, values)
		}
	}
	if len(reqs) != len(want) {
		t.Errorf("requirements = %v", reqs)
	}
	wantTaints := []any{
		map[string]any{"key": "nvidia.com/gpu", "effect": "NoSchedule"},
		map[string]any{"key": "research-only", "value": "true", "effect": "NoSchedule"},
	}
	if !reflect.DeepEqual(tspec["taints"], wantTaints) {
		t.Errorf("taints = %v", tspec["taints"])
	}
	wantLabels := map[string]any{"nvidia.com/gpu.present": "true", "karpenter-gpu/pool": "training", "team": "research"}
	if got := tmpl["metadata"].(map[string]any)["labels"]; !reflect.DeepEqual(got, wantLabels) {
		t.Errorf("labels = %v", got)
	}
	if tspec["expireAfter"] != "168h" || tspec["terminationGracePeriod"] != "2h" {
		t.Errorf("expiry = %v / %v", tspec["expireAfter"], tspec["terminationGracePeriod"])
	}
	wantDisruption := map[string]any{
		"consolidationPolicy": "WhenEmptyOrUnderutilized",
		"consolidateAfter":    "10m",
		"budgets": []any{
			map[string]any{"nodes": "0", "reasons": []string{"Underutilized"}, "schedule": "0 9 * * 1-5", "duration": "8h"},
			map[string]any{"nodes": "20%"},
		},
	}
	if !reflect.DeepEqual(spec["disruption"], wantDisruption) {
		t.Errorf("disruption = %v", spec["disruption"])
	}
	if !reflect.DeepEqual(spec["limits"], map[string]any{"nvidia.com/gpu": "16"}) || spec["weight"] != 50 {
		t.Errorf("limits = %v, weight = %v", spec["limits"], spec["weight"])
	}
}

func TestDefaultPoolIsSpotFirstAndScalesToZero(t *testing.T) {
	obj := gpu.NodePoolObject(pools["default"], "gpu")
	if got := requirements(obj)["karpenter.sh/capacity-type In"]["values"]; !reflect.DeepEqual(got, []string{"spot", "on-demand"}) {
		t.Errorf("capacity types = %v", got)
	}
	d := obj["spec"].(map[string]any)["disruption"].(map[string]any)
	if d["consolidationPolicy"] != "WhenEmpty" || d["consolidateAfter"] != "1m" {
		t.Errorf("disruption = %v", d)
	}
}

func TestMemoryAndFamilySelection(t *testing.T) {
	reqs := requirements(gpu.NodePoolObject(pools["by-memory-and-family"], "gpu"))
	if got := reqs["karpenter.k8s.aws/instance-gpu-name In"]["values"]; !reflect.DeepEqual(got, []string{"a100", "a10g", "b200", "h100", "h200", "l4", "l40s"}) {
		t.Errorf("gpu names = %v", got)
	}
	if got := reqs["karpenter.k8s.aws/instance-family In"]["values"]; !reflect.DeepEqual(got, []string{"g5", "g6", "g6e"}) {
		t.Errorf("families = %v", got)
	}
	reqs = requirements(gpu.NodePoolObject(pools["instance-types"], "gpu"))
	if _, ok := reqs["karpenter.k8s.aws/instance-gpu-name In"]; ok {
		t.Error("instance types alone must not add a GPU name requirement")
	}
	if got := reqs["node.kubernetes.io/instance-type In"]["values"]; !reflect.DeepEqual(got, []string{"g5.xlarge", "g6.2xlarge"}) {
		t.Errorf("instance types = %v", got)
	}
}

// The schema check must reject what Karpenter rejects, in Karpenter's words.
func TestKarpenterSchemaRejectsBadNodePools(t *testing.T) {
	v, err := crdschema.Karpenter()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		mutate func(spec map[string]any)
		want   string
	}{
		{"no nodeClassRef", func(s map[string]any) {
			delete(s["template"].(map[string]any)["spec"].(map[string]any), "nodeClassRef")
		}, "spec.template.spec.nodeClassRef: Required value"},
		{"v1beta1 consolidation policy", func(s map[string]any) {
			s["disruption"].(map[string]any)["consolidationPolicy"] = "WhenUnderutilized"
		}, `spec.disruption.consolidationPolicy: Unsupported value: "WhenUnderutilized"`},
		{"bad taint effect", func(s map[string]any) {
			s["template"].(map[string]any)["spec"].(map[string]any)["taints"] = []any{map[string]any{"key": "nvidia.com/gpu", "effect": "Sometimes"}}
		}, `Unsupported value: "Sometimes"`},
		{"kubelet on the pool", func(s map[string]any) {
			s["template"].(map[string]any)["spec"].(map[string]any)["kubelet"] = map[string]any{"maxPods": 110}
		}, "field not declared in schema"},
		{"hostname requirement", func(s map[string]any) {
			tspec := s["template"].(map[string]any)["spec"].(map[string]any)
			tspec["requirements"] = append(tspec["requirements"].([]any), map[string]any{"key": "kubernetes.io/hostname", "operator": "In", "values": []string{"a"}})
		}, "label \"kubernetes.io/hostname\" is restricted"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := gpu.NodePoolObject(pools["default"], "gpu")
			tc.mutate(obj["spec"].(map[string]any))
			err := v.Validate(obj)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// convert decodes a values tree into a Kubernetes API type.
func convert(t *testing.T, from, to any) {
	t.Helper()
	b, err := json.Marshal(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, to); err != nil {
		t.Fatal(err)
	}
}

// poolNode is the node Karpenter would launch for the pool: its template's
// labels and taints, plus the labels Karpenter itself adds.
func poolNode(t *testing.T, obj map[string]any, nodeClass string) *corev1.Node {
	tmpl := obj["spec"].(map[string]any)["template"].(map[string]any)
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{wellknown.LabelEC2NodeClass: nodeClass, wellknown.LabelNodePool: obj["metadata"].(map[string]any)["name"].(string)}}}
	var labels map[string]string
	convert(t, tmpl["metadata"].(map[string]any)["labels"], &labels)
	for k, v := range labels {
		node.Labels[k] = v
	}
	convert(t, tmpl["spec"].(map[string]any)["taints"], &node.Spec.Taints)
	return node
}

// pluginRunsOn reports whether the device plugin DaemonSet schedules onto node,
// judged by Kubernetes' own node-affinity and toleration logic.
func pluginRunsOn(t *testing.T, values map[string]any, node *corev1.Node) bool {
	var affinity corev1.Affinity
	convert(t, values["affinity"], &affinity)
	var tolerations []corev1.Toleration
	convert(t, values["tolerations"], &tolerations)
	matches, err := nodeaffinity.NewLazyErrorNodeSelector(affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution).Match(node)
	if err != nil {
		t.Fatal(err)
	}
	_, untolerated := schedulinghelpers.FindMatchingUntoleratedTaint(klog.Background(), node.Spec.Taints, tolerations, func(tn *corev1.Taint) bool {
		return tn.Effect == corev1.TaintEffectNoSchedule || tn.Effect == corev1.TaintEffectNoExecute
	}, false)
	return matches && !untolerated
}

func TestDevicePluginRunsOnEveryGPUPoolNode(t *testing.T) {
	values := gpu.DevicePluginValues(gpu.DevicePluginSettings{})
	for name, p := range pools {
		if name == "training" {
			continue // its extra research-only taint is meant to keep other pods off
		}
		node := poolNode(t, gpu.NodePoolObject(p, "gpu"), "gpu")
		if !pluginRunsOn(t, values, node) {
			t.Errorf("%s: the device plugin would not run on the pool's nodes (labels %v, taints %v)", name, node.Labels, node.Spec.Taints)
		}
	}
	plain := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"kubernetes.io/arch": "amd64"}}}
	if pluginRunsOn(t, values, plain) {
		t.Error("the device plugin would run on nodes without GPUs")
	}
	if values["priorityClassName"] != "system-node-critical" {
		t.Errorf("priorityClassName = %v", values["priorityClassName"])
	}
}

func TestDevicePluginStaysOffBottlerocket(t *testing.T) {
	values := gpu.DevicePluginValues(gpu.DevicePluginSettings{SkipNodeClasses: []string{"gpu-bottlerocket"}})
	if pluginRunsOn(t, values, poolNode(t, gpu.NodePoolObject(pools["default"], "gpu-bottlerocket"), "gpu-bottlerocket")) {
		t.Error("the device plugin would run beside Bottlerocket's own")
	}
	if !pluginRunsOn(t, values, poolNode(t, gpu.NodePoolObject(pools["default"], "gpu"), "gpu")) {
		t.Error("the device plugin would not run on AL2023 GPU nodes")
	}
}

func TestTimeSlicingConfig(t *testing.T) {
	if _, ok := gpu.DevicePluginValues(gpu.DevicePluginSettings{})["config"]; ok {
		t.Error("time-slicing configured without being asked for")
	}
	cfg := gpu.DevicePluginValues(gpu.DevicePluginSettings{SharingReplicas: 4})["config"].(map[string]any)
	plugin := cfg["map"].(map[string]any)[cfg["default"].(string)].(string)
	for _, want := range []string{"timeSlicing:", "- name: nvidia.com/gpu", "replicas: 4"} {
		if !strings.Contains(plugin, want) {
			t.Errorf("plugin config lacks %q:\n%s", want, plugin)
		}
	}
}

func TestSmokeTestLandsOnTheGPUPool(t *testing.T) {
	cloud := fakecloud.New(fakecloud.Example("ml-prod"), "karpenter-gpu", "test")
	err := cloud.Run(nil, func(ctx *pulumi.Context) error {
		_, err := gpu.NewSmokeTest(ctx, "gpu-smoke-test", &gpu.SmokeTestArgs{Namespace: "default", Pool: "inference"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	job := cloud.Resources()[0]
	var spec corev1.PodSpec
	convert(t, job.Inputs["spec"].(map[string]any)["template"].(map[string]any)["spec"], &spec)
	node := poolNode(t, gpu.NodePoolObject(pools["default"], "gpu"), "gpu")
	if !labels.SelectorFromSet(spec.NodeSelector).Matches(labels.Set(node.Labels)) {
		t.Errorf("nodeSelector %v does not select the pool's nodes %v", spec.NodeSelector, node.Labels)
	}
	if !schedulinghelpers.TolerationsTolerateTaint(klog.Background(), spec.Tolerations, &node.Spec.Taints[0], false) {
		t.Errorf("tolerations %v do not tolerate %v", spec.Tolerations, node.Spec.Taints)
	}
	c := spec.Containers[0]
	if c.Resources.Limits.Name(corev1.ResourceName(wellknown.GPUResource), "").Value() != 1 || c.Command[0] != "nvidia-smi" || !strings.Contains(c.Image, ":") {
		t.Errorf("container = %+v", c)
	}
}
