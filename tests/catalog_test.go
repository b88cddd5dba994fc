package tests

import (
	"fmt"
	"strings"
	"testing"

	"karpenter-gpu/config"
	"karpenter-gpu/internal/fakecloud"
	"karpenter-gpu/stack"
)

// A pool no instance type can serve is accepted by Karpenter and never
// launches: refused before anything, with its key and the reason.
func TestImpossiblePoolsAreRefused(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		pool map[string]any
		want string
	}{
		"t4g on amd64": {map[string]any{"name": "arm", "gpus": []string{"t4g"}, "maxGPUs": 2},
			`karpenter-gpu:gpuPools[arm].architectures: ["amd64"] rules out the 4 instance type(s) the pool's other keys allow (g5g.xlarge, g5g.2xlarge, g5g.4xlarge, g5g.8xlarge); they are arm64: add that to architectures`},
		"fractional GPUs, whole-GPU count": {map[string]any{"name": "frac", "instanceFamilies": []string{"g6f"}, "maxGPUs": 2},
			`karpenter-gpu:gpuPools[frac].gpuCount: {"min":1,"max":1} rules out the 4 instance type(s) the pool's other keys allow (g6f.large, g6f.xlarge, g6f.2xlarge, g6f.4xlarge); Karpenter counts no whole GPU on them (their GPUs are fractions or not listed), so no gpuCount reaches them`},
		"one H200": {map[string]any{"name": "h200", "gpus": []string{"h200"}, "maxGPUs": 4},
			`karpenter-gpu:gpuPools[h200].gpuCount: {"min":1,"max":1} rules out the 2 instance type(s) the pool's other keys allow (p5e.48xlarge, p5en.48xlarge); they have 8 GPUs per instance: set gpuCount's min and max to include one of these counts`},
		"two H100s per instance": {map[string]any{"name": "pair", "gpus": []string{"h100"}, "gpuCount": map[string]int{"min": 2, "max": 2}, "maxGPUs": 8},
			`karpenter-gpu:gpuPools[pair].gpuCount: {"min":2,"max":2} rules out the 2 instance type(s) the pool's other keys allow (p5.4xlarge, p5.48xlarge); they have 1, 8 GPUs per instance: set gpuCount's min and max to include one of these counts`},
		"a count no type offers": {map[string]any{"name": "three", "gpus": []string{"l4"}, "gpuCount": map[string]int{"min": 3, "max": 3}, "maxGPUs": 6},
			`karpenter-gpu:gpuPools[three].gpuCount: {"min":3,"max":3} rules out the 15 instance type(s) the pool's other keys allow (g6.xlarge, g6.2xlarge, g6.4xlarge, g6.8xlarge, g6.12xlarge, g6.16xlarge, … 9 more); they have 1, 4, 8 GPUs per instance: set gpuCount's min and max to include one of these counts`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			cloud, err := run(t, fakecloud.Example(clusterName), map[string]any{"gpuPools": []any{tc.pool}})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v", err)
			}
			if len(cloud.Resources()) != 0 || len(cloud.Calls()) != 0 {
				t.Fatalf("%d resources, calls %v before the refusal", len(cloud.Resources()), cloud.Calls())
			}
		})
	}
}

// Preview warns, per pool, when the account's vCPU quota cannot hold
// maxGPUs on the pool's hungriest type, and says how to ask for more.
func TestQuotaWarnings(t *testing.T) {
	t.Parallel()
	training := map[string]any{"gpuPools": []any{
		map[string]any{"name": "training", "gpus": []string{"h100"}, "gpuCount": map[string]int{"min": 8, "max": 8}, "maxGPUs": 16, "capacityTypes": []string{"on-demand"}},
		map[string]any{"name": "inference", "gpus": []string{"l4"}, "maxGPUs": 2, "capacityTypes": []string{"spot"}},
	}}
	warnings := strings.Join(observed(t, fakecloud.Example(clusterName), training).Warnings, "\n")
	for _, want := range []string{
		`gpuPools[training]: reaching maxGPUs on p5.48xlarge needs 384 vCPUs of P instances (on-demand), but the quota "Running On-Demand P instances" (L-417A185B) is 0 in us-west-2`,
		"aws service-quotas request-service-quota-increase --service-code ec2 --quota-code L-417A185B --desired-value 384 --region us-west-2",
	} {
		if !strings.Contains(warnings, want) {
			t.Errorf("warnings lack %q:\n%s", want, warnings)
		}
	}
	if strings.Contains(warnings, "gpuPools[inference]") {
		t.Errorf("a pool within its quota warned:\n%s", warnings)
	}
	// A quota that cannot be read is one warning, not a failure.
	unreadable := fakecloud.Example(clusterName)
	unreadable.Quotas = nil
	if got := strings.Join(observed(t, unreadable, training).Warnings, "\n"); !strings.Contains(got, `could not read the EC2 quota "Running On-Demand P instances" (L-417A185B)`) {
		t.Errorf("warnings = %s", got)
	}
}

// Headroom turns on Karpenter's capacityBuffer gate and waits for the pool.
func TestHeadroomStack(t *testing.T) {
	t.Parallel()
	cloud := mustRun(t, map[string]any{"gpuPools": []any{map[string]any{"name": "inference", "gpus": []string{"l4"}, "maxGPUs": 4, "headroom": 1}}})
	buffer := one(t, cloud, "kubernetes:autoscaling.x-k8s.io/v1beta1:CapacityBuffer", "gpu-headroom-inference")
	template := one(t, cloud, "kubernetes:core/v1:PodTemplate", "gpu-headroom-inference")
	for _, dep := range []fakecloud.Resource{template, one(t, cloud, typeNodePool, "gpu-pool-inference"), one(t, cloud, typeRelease, "karpenter-crd")} {
		if !dependsOn(buffer, dep.URN) {
			t.Errorf("the buffer does not wait for %s", dep.Name)
		}
	}
	gates := one(t, cloud, typeRelease, "karpenter").Inputs["values"].(map[string]any)["settings"].(map[string]any)["featureGates"].(map[string]any)
	if gates["capacityBuffer"] != true {
		t.Errorf("gates = %v", gates)
	}
}

// One run reports the configuration's mistakes and, for the pools that are
// valid on their own, that no instance type can serve them; nothing is
// registered.
func TestMistakesAndImpossiblePoolsInOneRun(t *testing.T) {
	t.Parallel()
	cloud, err := run(t, fakecloud.Example(clusterName), map[string]any{"gpuPools": []any{
		map[string]any{"name": "typo", "gpus": []string{"a10"}, "maxGPUs": 2},
		map[string]any{"name": "arm", "gpus": []string{"t4g"}, "maxGPUs": 2},
	}})
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{
		`karpenter-gpu:gpuPools[typo].gpus: "a10": unknown GPU; did you mean a10g?`,
		`karpenter-gpu:gpuPools[arm].architectures: ["amd64"] rules out the 4 instance type(s)`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "gpuPools[typo].gpuCount") || strings.Contains(err.Error(), "gpuPools[typo]: no EC2") {
		t.Errorf("the pool with a mistake is judged against the catalogue too:\n%v", err)
	}
	if len(cloud.Resources()) != 0 || len(cloud.Calls()) != 0 {
		t.Fatalf("%d resources, calls %v before the refusal", len(cloud.Resources()), cloud.Calls())
	}
}

// A pool that is valid but cannot reach one of its GPUs says so: with one
// GPU per instance, h100 comes in p5.4xlarge, h200 in no type.
func TestUnreachableGPUsAreNamed(t *testing.T) {
	t.Parallel()
	values := map[string]any{"gpuPools": []any{map[string]any{"name": "big", "gpus": []string{"h100", "h200"}, "maxGPUs": 8}}}
	got := observed(t, fakecloud.Example(clusterName), values)
	if types := got.Outputs["gpuPools"].(map[string]any)["big"].(map[string]any)["instanceTypes"]; fmt.Sprint(types) != "[p5.4xlarge]" {
		t.Errorf("instance types %v", types)
	}
	want := `gpuPools[big].gpus: "h200" is on no instance type the pool may launch: gpuCount: {"min":1,"max":1} rules out the 2 instance type(s) the pool's other keys allow (p5e.48xlarge, p5en.48xlarge); they have 8 GPUs per instance`
	if w := strings.Join(got.Warnings, "\n"); !strings.Contains(w, want) || strings.Contains(w, `"h100" is on no`) {
		t.Errorf("warnings:\n%s", w)
	}
}

// observed runs the real program against cluster and returns what it
// would export and warn of.
func observed(t *testing.T, cluster fakecloud.Cluster, values map[string]any) stack.Observed {
	t.Helper()
	var got stack.Observed
	cloud := fakecloud.New(cluster, config.Namespace, "test")
	if err := runProgram(cloud, stackConfig(t, values), func(o stack.Observed) { got = o }); err != nil {
		t.Fatal(err)
	}
	return got
}

// At preview, EC2 says which of a pool's types its node class's zones
// offer: outputs and plan.md list only those, the others are named in a
// warning, and a pool none of whose types is offered there is refused
// before anything, naming the zones.
func TestPoolsKeepOnlyTypesOfferedInTheirZones(t *testing.T) {
	t.Parallel()
	c := fakecloud.Example(clusterName)
	c.NotOffered = map[string][]string{
		"g6.48xlarge": {"us-west-2a", "us-west-2b", "us-west-2c"},
		"g6.24xlarge": {"us-west-2a"}, // offered in b and c: kept
		"p5.48xlarge": {"us-west-2a"},
	}
	inference := map[string]any{"gpuPools": []any{map[string]any{"name": "inference", "gpus": []string{"l4"}, "gpuCount": map[string]int{"min": 4, "max": 8}, "maxGPUs": 16}}}
	got := observed(t, c, inference)
	if types := got.Outputs["gpuPools"].(map[string]any)["inference"].(map[string]any)["instanceTypes"]; fmt.Sprint(types) != "[g6.12xlarge g6.24xlarge]" {
		t.Errorf("instance types %v", types)
	}
	want := "gpuPools[inference]: EC2 offers g6.48xlarge nowhere in the zones of node class gpu's subnets (us-west-2a, us-west-2b, us-west-2c); the pool launches only its other types"
	if w := strings.Join(got.Warnings, "\n"); !strings.Contains(w, want) || strings.Contains(w, "g6.24xlarge nowhere") {
		t.Errorf("warnings:\n%s", w)
	}

	// A GPU of the pool whose every type is left out is named.
	c.NotOffered["g6e.12xlarge"] = c.NotOffered["g6.48xlarge"]
	c.NotOffered["g6e.24xlarge"] = c.NotOffered["g6.48xlarge"]
	mixed := map[string]any{"gpuPools": []any{map[string]any{"name": "mixed", "gpus": []string{"l4", "l40s"}, "gpuCount": map[string]int{"min": 4, "max": 4}, "maxGPUs": 8}}}
	want = `gpuPools[mixed].gpus: "l40s" is on no instance type the pool may launch: EC2 offers g6e.12xlarge, g6e.24xlarge, which carry it, in none of node class gpu's zones`
	if w := strings.Join(observed(t, c, mixed).Warnings, "\n"); !strings.Contains(w, want) {
		t.Errorf("warnings lack %q:\n%s", want, w)
	}

	// The EFA class lives in us-west-2a, which offers no p5.48xlarge.
	cloud, err := run(t, c, training("subnet-0aa11bb22cc33dd44"))
	want = "karpenter-gpu:gpuPools[train]: EC2 offers none of the pool's instance types (p5.48xlarge) in the zones of node class p5's subnets (us-west-2a), so Karpenter could never launch a node"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v", err)
	}
	if n := len(cloud.Resources()); n != 0 {
		t.Fatalf("%d resources registered before the refusal", n)
	}
	// In us-west-2b it is offered.
	if _, err := run(t, c, training("subnet-0bb22cc33dd44ee55")); err != nil {
		t.Fatal(err)
	}
}

// Where EC2 describes a type's GPUs otherwise than the catalogue, preview
// names both values; EC2's names are compared as Karpenter labels them.
func TestEC2GPUFactsThatDifferAreNamed(t *testing.T) {
	t.Parallel()
	c := fakecloud.Example(clusterName)
	c.GPUs = map[string][]fakecloud.GPU{
		"g6e.xlarge":   {{Name: "L40S", Manufacturer: "NVIDIA", Count: 1, MemoryMi: 46068}},
		"g7e.2xlarge":  {{Name: "RTX PRO Server 6000", Manufacturer: "NVIDIA", Count: 1, MemoryMi: 98304}},
		"g7e.4xlarge":  {{Name: "RTX PRO 6000", Manufacturer: "NVIDIA", Count: 2, MemoryMi: 98304}},
		"g7e.12xlarge": {{Name: "RTX PRO Server 6000", Manufacturer: "NVIDIA", Count: 1, MemoryMi: 98304}, {Name: "T4", Manufacturer: "NVIDIA", Count: 1, MemoryMi: 16384}},
	}
	got := observed(t, c, map[string]any{"gpuPools": []any{
		map[string]any{"name": "l40s", "gpus": []string{"l40s"}, "maxGPUs": 4},
		map[string]any{"name": "rtx", "gpus": []string{"rtx-pro-server-6000"}, "gpuCount": map[string]int{"min": 1, "max": 2}, "maxGPUs": 4},
	}})
	w := strings.Join(got.Warnings, "\n")
	for _, want := range []string{
		"g6e.xlarge: EC2 and the instance catalogue differ (instance-gpu-memory: EC2 says 46068, the catalogue 45776)",
		"g7e.4xlarge: EC2 and the instance catalogue differ (instance-gpu-name: EC2 says rtx-pro-6000, the catalogue rtx-pro-server-6000; instance-gpu-count: EC2 says 2, the catalogue 1)",
		"g7e.12xlarge: EC2 and the instance catalogue differ (EC2 lists 2 GPU models, so Karpenter sets no instance-gpu labels on it; the catalogue has 2 × rtx-pro-server-6000)",
	} {
		if !strings.Contains(w, want) {
			t.Errorf("warnings lack %q:\n%s", want, w)
		}
	}
	if strings.Contains(w, "g7e.2xlarge:") || strings.Contains(w, "g6e.2xlarge:") {
		t.Errorf("a type EC2 describes as the catalogue does is named:\n%s", w)
	}
}

// The rows the catalogue gained or had wrong serve pools: the g7 family
// (rtx-pro-4500, on an AMI release that drives it) and the single-H100
// p5.4xlarge, with their list prices.
func TestNewAndCorrectedRowsServePools(t *testing.T) {
	t.Parallel()
	got := observed(t, fakecloud.Example(clusterName), map[string]any{
		"nodeClasses": []any{map[string]any{"name": "gpu"}, map[string]any{"name": "g7", "ami": "al2023@latest", "allowLatestAmi": true}},
		"gpuPools": []any{
			map[string]any{"name": "rtx", "nodeClass": "g7", "gpus": []string{"rtx-pro-4500"}, "gpuCount": map[string]int{"min": 1, "max": 8}, "maxGPUs": 8},
			map[string]any{"name": "h100", "gpus": []string{"h100"}, "maxGPUs": 2},
		}})
	pools := got.Outputs["gpuPools"].(map[string]any)
	for name, want := range map[string]string{
		"rtx":  "[g7.2xlarge g7.4xlarge g7.8xlarge g7.12xlarge g7.24xlarge g7.48xlarge]",
		"h100": "[p5.4xlarge]",
	} {
		pool := pools[name].(map[string]any)
		if types := fmt.Sprint(pool["instanceTypes"]); types != want {
			t.Errorf("pool %s launches %s, want %s", name, types, want)
		}
		if ceiling := pool["hourlyCostCeiling"].(map[string]any); ceiling["usdPerHour"] == nil {
			t.Errorf("pool %s has no cost ceiling: %v", name, ceiling)
		}
	}
}
