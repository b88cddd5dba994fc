package gpu_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	"sigs.k8s.io/yaml"

	"karpenter-gpu/config"
	"karpenter-gpu/gpu"
	"karpenter-gpu/internal/charts"
	"karpenter-gpu/internal/crdschema"
	"karpenter-gpu/internal/placement"
	"karpenter-gpu/versions"
	"karpenter-gpu/wellknown"
)

// producedNode is the node Karpenter would launch for the pool.
func producedNode(t *testing.T, p config.GPUPool) *corev1.Node {
	t.Helper()
	node, err := placement.Node(gpu.NodePoolObject(p))
	if err != nil {
		t.Fatal(err)
	}
	return node
}

func pluginRunsOn(t *testing.T, values map[string]any, node *corev1.Node) bool {
	t.Helper()
	ok, err := placement.DaemonSetRunsOn(values, node)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

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
		p.Budgets = []config.Budget{{Nodes: "0", Reasons: []string{"Underutilized"}, Schedule: "0 9 * * 1-5", Duration: "8h"}, {Nodes: "20%"}, {Nodes: "1", Reasons: []string{"Unhealthy"}}}
		p.Labels = map[string]string{"team": "research"}
		p.Taints = []config.Taint{{Key: "research-only", Value: "true", Effect: "NoSchedule"}}
	}),
	"tainted-no-value-noexecute": pool(func(p *config.GPUPool) {
		p.Name = "batch"
		p.Taints = []config.Taint{{Key: "batch", Effect: "NoExecute"}, {Key: "dedicated", Value: "ml", Effect: "NoSchedule"}}
	}),
	"by-memory-and-family": pool(func(p *config.GPUPool) {
		p.GPUs, p.MinGPUMemoryGiB, p.InstanceFamilies, p.Architectures = nil, 24, []string{"g5", "g6", "g6e"}, []string{"amd64", "arm64"}
	}),
	"instance-types": pool(func(p *config.GPUPool) {
		p.GPUs, p.InstanceTypes, p.ExpireAfter, p.ConsolidateAfter = nil, []string{"g5.xlarge", "g6.2xlarge"}, "Never", "Never"
	}),
	"shared": pool(func(p *config.GPUPool) {
		p.Name, p.GPUs, p.GPUCount, p.MaxGPUs, p.Sharing = "shared", []string{"t4", "l4"}, config.GPUCount{Min: 1, Max: 4}, 4, config.Sharing{Replicas: 4}
	}),
}

func schema(t *testing.T) *crdschema.Validator {
	t.Helper()
	v, err := crdschema.Karpenter()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestPoolObjectsPassKarpenterSchema(t *testing.T) {
	v := schema(t)
	for name, p := range pools {
		t.Run(name, func(t *testing.T) {
			for _, obj := range append([]map[string]any{gpu.NodePoolObject(p)}, gpu.SharingOverlayObjects(p)...) {
				if err := v.Validate(obj); err != nil {
					t.Fatal(err)
				}
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
	obj := gpu.NodePoolObject(pools["training"])
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
			map[string]any{"nodes": "1", "reasons": []string{"Unhealthy"}},
		},
	}
	if !reflect.DeepEqual(spec["disruption"], wantDisruption) {
		t.Errorf("disruption = %v", spec["disruption"])
	}
	if !reflect.DeepEqual(spec["limits"], map[string]any{"nvidia.com/gpu": "16"}) || spec["weight"] != 50 {
		t.Errorf("limits = %v, weight = %v", spec["limits"], spec["weight"])
	}
}

func TestDefaultPoolIsSpotFirstScalesToZeroAndDrains(t *testing.T) {
	obj := gpu.NodePoolObject(pools["default"])
	if got := requirements(obj)["karpenter.sh/capacity-type In"]["values"]; !reflect.DeepEqual(got, []string{"spot", "on-demand"}) {
		t.Errorf("capacity types = %v", got)
	}
	spec := obj["spec"].(map[string]any)
	d := spec["disruption"].(map[string]any)
	if d["consolidationPolicy"] != "WhenEmpty" || d["consolidateAfter"] != "1m" {
		t.Errorf("disruption = %v", d)
	}
	// An expiring pool without a grace period hangs on do-not-disrupt pods.
	tspec := spec["template"].(map[string]any)["spec"].(map[string]any)
	if tspec["expireAfter"] != "720h" || tspec["terminationGracePeriod"] != "24h" {
		t.Errorf("expireAfter %v, terminationGracePeriod %v", tspec["expireAfter"], tspec["terminationGracePeriod"])
	}
}

func TestMemoryAndFamilySelection(t *testing.T) {
	reqs := requirements(gpu.NodePoolObject(pools["by-memory-and-family"]))
	if got := reqs["karpenter.k8s.aws/instance-gpu-memory Gte"]["values"]; !reflect.DeepEqual(got, []string{"24576"}) {
		t.Errorf("gpu memory = %v, want 24 GiB in MiB", got)
	}
	if _, ok := reqs["karpenter.k8s.aws/instance-gpu-name In"]; ok {
		t.Error("memory alone must not pin GPU names")
	}
	if got := reqs["karpenter.k8s.aws/instance-family In"]["values"]; !reflect.DeepEqual(got, []string{"g5", "g6", "g6e"}) {
		t.Errorf("families = %v", got)
	}
	reqs = requirements(gpu.NodePoolObject(pools["instance-types"]))
	if _, ok := reqs["karpenter.k8s.aws/instance-gpu-name In"]; ok {
		t.Error("instance types alone must not add a GPU name requirement")
	}
	if got := reqs["node.kubernetes.io/instance-type In"]["values"]; !reflect.DeepEqual(got, []string{"g5.xlarge", "g6.2xlarge"}) {
		t.Errorf("instance types = %v", got)
	}
}

// A sharing pool's limit counts physical GPUs (the node advertises GPUs ×
// replicas), its nodes pick the plugin's time-slicing configuration, and
// Karpenter learns the shared capacity before it launches.
func TestSharingPool(t *testing.T) {
	p := pools["shared"]
	obj := gpu.NodePoolObject(p)
	spec := obj["spec"].(map[string]any)
	if got := spec["limits"].(map[string]any)["nvidia.com/gpu"]; got != "16" {
		t.Errorf("limit = %v, want maxGPUs 4 × 4 replicas", got)
	}
	nodeLabels := spec["template"].(map[string]any)["metadata"].(map[string]any)["labels"].(map[string]any)
	if nodeLabels[wellknown.DevicePluginConfigLabel] != gpu.SharingConfigName(4) {
		t.Errorf("labels = %v", nodeLabels)
	}
	overlays := gpu.SharingOverlayObjects(p)
	if len(overlays) != 4 {
		t.Fatalf("%d overlays, want one per GPU count 1..4", len(overlays))
	}
	for i, o := range overlays {
		gpus := i + 1
		ospec := o["spec"].(map[string]any)
		wantReqs := []any{
			map[string]any{"key": "karpenter.sh/nodepool", "operator": "In", "values": []string{"shared"}},
			map[string]any{"key": "karpenter.k8s.aws/instance-gpu-count", "operator": "In", "values": []string{fmt.Sprint(gpus)}},
		}
		if !reflect.DeepEqual(ospec["requirements"], wantReqs) || !reflect.DeepEqual(ospec["capacity"], map[string]any{"nvidia.com/gpu": fmt.Sprint(gpus * 4)}) {
			t.Errorf("overlay %d = %v", gpus, ospec)
		}
	}
	if len(gpu.SharingOverlayObjects(pools["default"])) != 0 {
		t.Error("overlays for a pool that does not share")
	}
	if got := gpu.NodePoolObject(pools["default"])["spec"].(map[string]any)["limits"]; !reflect.DeepEqual(got, map[string]any{"nvidia.com/gpu": "4"}) {
		t.Errorf("unshared limit = %v", got)
	}
}

// The schema check must reject what Karpenter rejects, in Karpenter's words.
func TestKarpenterSchemaRejectsBadNodePools(t *testing.T) {
	v := schema(t)
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
			obj := gpu.NodePoolObject(pools["default"])
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

func TestDevicePluginRunsOnEveryPoolAndNeverOnBottlerocket(t *testing.T) {
	names := make([]string, 0, len(pools))
	for name := range pools {
		names = append(names, name)
	}
	sort.Strings(names)
	var sharing []int
	for _, p := range pools {
		if p.Sharing.Replicas > 0 {
			sharing = append(sharing, p.Sharing.Replicas)
		}
	}
	values := gpu.DevicePluginValues(gpu.DevicePluginSettings{SkipNodeClasses: []string{"bottlerocket"}, SharingReplicas: sharing})
	for _, name := range names {
		p := pools[name]
		node := producedNode(t, p)
		if !pluginRunsOn(t, values, node) {
			t.Errorf("%s: the device plugin would not run on the pool's nodes (labels %v, taints %v)", name, node.Labels, node.Spec.Taints)
		}
		p.NodeClass = "bottlerocket"
		if node := producedNode(t, p); pluginRunsOn(t, values, node) {
			t.Errorf("%s: the device plugin would run beside Bottlerocket's own (labels %v)", name, node.Labels)
		}
	}
	plain := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"kubernetes.io/arch": "amd64", wellknown.LabelNodePool: "general"}}}
	if pluginRunsOn(t, values, plain) {
		t.Error("the device plugin would run on nodes without GPUs")
	}
}

// Each sharing pool's node label names a configuration the plugin has, and
// the configurations say what the pool asked for; nodes of other pools get
// a default that does not share.
func TestTimeSlicingConfigPerPool(t *testing.T) {
	if _, ok := gpu.DevicePluginValues(gpu.DevicePluginSettings{})["config"]; ok {
		t.Error("plugin configurations without a sharing pool")
	}
	cfg := gpu.DevicePluginValues(gpu.DevicePluginSettings{SharingReplicas: []int{4, 2, 4}})["config"].(map[string]any)
	configs := cfg["map"].(map[string]any)
	if cfg["default"] != gpu.NoSharingConfig || len(configs) != 3 {
		t.Fatalf("config = %v", cfg)
	}
	for name, replicas := range map[string]int{gpu.SharingConfigName(2): 2, gpu.SharingConfigName(4): 4, gpu.NoSharingConfig: 0} {
		var plugin struct {
			Version string `json:"version"`
			Sharing struct {
				TimeSlicing struct {
					// A pod asking for two slices would get two of one GPU.
					FailRequestsGreaterThanOne bool `json:"failRequestsGreaterThanOne"`
					Resources                  []struct {
						Name     string `json:"name"`
						Replicas int    `json:"replicas"`
					} `json:"resources"`
				} `json:"timeSlicing"`
			} `json:"sharing"`
		}
		if err := yaml.UnmarshalStrict([]byte(configs[name].(string)), &plugin); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := 0
		for _, r := range plugin.Sharing.TimeSlicing.Resources {
			if r.Name == wellknown.GPUResource {
				got = r.Replicas
			}
		}
		if plugin.Version != "v1" || got != replicas {
			t.Errorf("%s: version %q, %d replicas of %s, want %d", name, plugin.Version, got, wellknown.GPUResource, replicas)
		}
		if fails := plugin.Sharing.TimeSlicing.FailRequestsGreaterThanOne; fails != (replicas > 0) {
			t.Errorf("%s: failRequestsGreaterThanOne %v with %d replicas", name, fails, replicas)
		}
	}
	node := producedNode(t, pools["shared"])
	if _, ok := configs[node.Labels[wellknown.DevicePluginConfigLabel]]; !ok {
		t.Errorf("the shared pool's nodes ask for configuration %q, which the plugin lacks", node.Labels[wellknown.DevicePluginConfigLabel])
	}
	if _, ok := producedNode(t, pools["default"]).Labels[wellknown.DevicePluginConfigLabel]; ok {
		t.Error("an unshared pool's nodes select a plugin configuration")
	}
}

func TestSmokeTestLandsOnTaintedPools(t *testing.T) {
	for _, name := range []string{"default", "training", "tainted-no-value-noexecute"} {
		t.Run(name, func(t *testing.T) {
			p := pools[name]
			var job batchv1.Job
			convert(t, gpu.SmokeTestObject("gpu-smoke-test", &gpu.SmokeTestArgs{Namespace: "default", Pool: p}), &job)
			spec := job.Spec.Template.Spec
			node := producedNode(t, p)
			if ok, err := placement.Fits(spec, node); err != nil || !ok {
				t.Errorf("the Job (selector %v, tolerations %v) does not fit the pool's node (labels %v, taints %v)", spec.NodeSelector, spec.Tolerations, node.Labels, node.Spec.Taints)
			}
			c := spec.Containers[0]
			if c.Resources.Limits.Name(corev1.ResourceName(wellknown.GPUResource), "").Value() != 1 || c.Command[0] != "nvidia-smi" || !strings.Contains(c.Image, ":") {
				t.Errorf("container = %+v", c)
			}
			if d := job.Spec.ActiveDeadlineSeconds; d == nil || *d != gpu.SmokeTestDeadlineSeconds || job.Name != "gpu-smoke-test" || job.Namespace != "default" {
				t.Errorf("Job %s/%s, activeDeadlineSeconds %v", job.Namespace, job.Name, d)
			}
		})
	}
}

// ProducedNode must carry what Karpenter puts on a node, or the placement
// tests above prove nothing.
func TestProducedNodeCarriesKarpentersLabels(t *testing.T) {
	node := producedNode(t, pools["spot-only-l4"])
	for key, want := range map[string]string{
		wellknown.LabelNodePool: "inference", wellknown.LabelEC2NodeClass: "gpu", wellknown.LabelCapacityType: "spot",
		wellknown.LabelGPUName: "l4", wellknown.LabelGPUCount: "1", wellknown.LabelArch: "amd64", wellknown.LabelGPUManufacturer: "nvidia",
		wellknown.GPUPresentLabel: "true", wellknown.GPUPoolLabel: "inference",
	} {
		if node.Labels[key] != want {
			t.Errorf("label %s = %q, want %q", key, node.Labels[key], want)
		}
	}
	// Every requirement of the pool holds for the node it would produce.
	var reqs []corev1.NodeSelectorRequirement
	convert(t, gpu.NodePoolObject(pools["training"])["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["requirements"], &reqs)
	for i := range reqs {
		switch reqs[i].Operator {
		case "Gte", "Lte": // not a core operator; checked by value below
			reqs[i].Operator = corev1.NodeSelectorOpExists
			reqs[i].Values = nil
		}
	}
	training := producedNode(t, pools["training"])
	sel := &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: reqs}}}
	if ok, err := nodeaffinity.NewLazyErrorNodeSelector(sel).Match(training); err != nil || !ok {
		t.Errorf("produced node %v does not meet its pool's requirements (err %v)", training.Labels, err)
	}
	if training.Labels[wellknown.LabelGPUCount] != "8" {
		t.Errorf("gpu count label = %q", training.Labels[wellknown.LabelGPUCount])
	}
}

func TestMinValuesKeepSpotChoices(t *testing.T) {
	p := pool(func(p *config.GPUPool) {
		p.CapacityTypes, p.InstanceFamilies, p.MinValues = []string{"spot"}, []string{"g5", "g6", "g6e"}, config.MinValues{InstanceFamilies: 2, InstanceTypes: 5}
	})
	obj := gpu.NodePoolObject(p)
	if err := schema(t).Validate(obj); err != nil {
		t.Fatal(err)
	}
	reqs := requirements(obj)
	if got := reqs["karpenter.k8s.aws/instance-family In"]; got["minValues"] != 2 || !reflect.DeepEqual(got["values"], []string{"g5", "g6", "g6e"}) {
		t.Errorf("family requirement = %v", got)
	}
	if got := reqs["node.kubernetes.io/instance-type Exists"]; got["minValues"] != 5 {
		t.Errorf("type requirement = %v", got)
	}
	// Karpenter itself refuses more minValues than values.
	p.MinValues.InstanceFamilies = 4
	if err := schema(t).Validate(gpu.NodePoolObject(p)); err == nil {
		t.Error("the schema accepts minValues above the number of values")
	}
}

// The EFA plugin runs on every node of an EFA class, whatever its pool's
// taints, and on no other: judged on the DaemonSet the upstream chart of
// the pinned version renders from the values, with Kubernetes' scheduling
// code.
func TestEFADevicePluginPlacement(t *testing.T) {
	dir, err := charts.Upstream("aws-efa-k8s-device-plugin", versions.EFADevicePlugin)
	if err != nil {
		t.Fatal(err)
	}
	objects, err := charts.Render(dir, charts.Release{Name: "aws-efa-k8s-device-plugin", Namespace: "kube-system", Kubernetes: "1.35"}, gpu.EFADevicePluginValues([]string{"p5"}))
	if err != nil {
		t.Fatal(err)
	}
	pods, err := placement.DaemonSetPods(objects)
	if err != nil || len(pods) != 1 {
		t.Fatalf("want the chart's one DaemonSet, got %d (%v)", len(pods), err)
	}
	training := pools["training"]
	training.NodeClass = "p5"
	for name, spec := range pods {
		if ok, err := placement.Fits(spec, producedNode(t, training)); err != nil || !ok {
			t.Errorf("DaemonSet %s would not run on a tainted pool of the EFA class (%v)", name, err)
		}
		if ok, _ := placement.Fits(spec, producedNode(t, pools["default"])); ok {
			t.Errorf("DaemonSet %s would run on a class without EFA", name)
		}
	}
}

// Headroom: a CapacityBuffer Karpenter's own CRD accepts, of pods that fit
// the pool's nodes whatever their taints.
func TestHeadroom(t *testing.T) {
	p := pools["training"]
	p.Headroom = 2
	v, err := crdschema.KarpenterWithCapacityBuffer()
	if err != nil {
		t.Fatal(err)
	}
	buffer := gpu.CapacityBufferObject(p, "kube-system")
	if err := v.Validate(buffer); err != nil {
		t.Fatal(err)
	}
	if got := buffer["spec"].(map[string]any); got["replicas"] != 2 || got["podTemplateRef"].(map[string]any)["name"] != "training-headroom" {
		t.Errorf("buffer spec = %v", got)
	}
	var spec corev1.PodSpec
	convert(t, gpu.HeadroomPodSpec(p), &spec)
	if ok, err := placement.Fits(spec, producedNode(t, p)); err != nil || !ok {
		t.Errorf("a headroom pod (%v, %v) does not fit the pool's node", spec.NodeSelector, spec.Tolerations)
	}
	if spec.Containers[0].Resources.Requests.Name(corev1.ResourceName(wellknown.GPUResource), "").Value() != 1 {
		t.Errorf("headroom pod requests %v", spec.Containers[0].Resources.Requests)
	}
	// Headroom counts physical GPUs, as maxGPUs does: on a pool that
	// time-slices each GPU four ways, two GPUs are eight one-slice pods.
	shared := pools["shared"]
	shared.Headroom = 2
	if got := gpu.CapacityBufferObject(shared, "kube-system")["spec"].(map[string]any)["replicas"]; got != 2*shared.Sharing.Replicas || shared.Sharing.Replicas < 2 {
		t.Errorf("a shared pool (R %d) with headroom 2 buffers %v pods", shared.Sharing.Replicas, got)
	}
	// Karpenter's CRD refuses a template reference without a count.
	delete(buffer["spec"].(map[string]any), "replicas")
	if err := v.Validate(buffer); err == nil {
		t.Error("a buffer without replicas passed")
	}
}

// Every requirement a pool's NodePool can carry, but the one every pool
// has, is named by the pool key that sets it, so that a refusal can say
// which key to change: a new requirement without a key fails here.
func TestEveryRequirementHasItsPoolKey(t *testing.T) {
	pool := config.Defaults().GPUPools[0]
	pool.MinGPUMemoryGiB, pool.InstanceFamilies, pool.InstanceTypes = 16, []string{"g6"}, []string{"g6.xlarge"}
	keys := map[string]bool{}
	poolType := reflect.TypeOf(pool)
	for i := range poolType.NumField() {
		name, _, _ := strings.Cut(poolType.Field(i).Tag.Get("json"), ",")
		keys[name] = true
	}
	for _, r := range gpu.Requirements(pool) {
		key := gpu.PoolKey(r.Key)
		if r.Key == wellknown.LabelGPUManufacturer {
			if key != "" {
				t.Errorf("%s is every pool's requirement, not key %q's", r.Key, key)
			}
			continue
		}
		if !keys[key] {
			t.Errorf("requirement %s %s: pool key %q is not a key of a gpuPools entry", r.Key, r.Operator, key)
		}
	}
}
