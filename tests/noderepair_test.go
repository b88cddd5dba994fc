package tests

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chartutil"
	corev1 "k8s.io/api/core/v1"

	"karpenter-gpu/catalog"
	"karpenter-gpu/cluster"
	"karpenter-gpu/config"
	"karpenter-gpu/gpu"
	"karpenter-gpu/internal/charts"
	"karpenter-gpu/internal/fakecloud"
	"karpenter-gpu/internal/placement"
	"karpenter-gpu/stack"
	"karpenter-gpu/versions"
	"karpenter-gpu/wellknown"
)

// With node repair on, the stack's eks-node-monitoring-agent add-on is
// pinned, its configuration values pass the schema of that version, and
// the chart behind it, rendered with them, runs the agent on every node of
// every pool and its DCGM server wherever the chart monitors NVIDIA GPUs,
// whatever taints the pool adds: judged for each instance type a pool may
// launch, with Kubernetes' scheduling code.
func TestNodeRepairAgentRunsOnEveryGPUNode(t *testing.T) {
	t.Parallel()
	dir, err := charts.Upstream("eks-node-monitoring-agent", versions.NodeMonitoringAgent)
	if err != nil {
		t.Fatal(err)
	}
	schema, err := os.ReadFile(filepath.Join(filepath.Dir(dir), "configuration.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	stacks := map[string]string{"prod example": "../Pulumi.prod.yaml.example", "e2e stack": "../e2e/stacks/Pulumi.e2e.yaml"}
	for name, file := range stacks {
		t.Run(name, func(t *testing.T) {
			cloud, outputs := runStackFileOutputs(t, file)
			addon := one(t, cloud, "aws:eks/addon:Addon", cluster.NodeMonitoringAgentAddon)
			if got := addon.Inputs["addonVersion"]; got != versions.NodeMonitoringAgentAddon {
				t.Errorf("add-on version %v, want %s", got, versions.NodeMonitoringAgentAddon)
			}
			var values map[string]any
			if err := json.Unmarshal([]byte(addon.Inputs["configurationValues"].(string)), &values); err != nil {
				t.Fatalf("configurationValues: %v", err)
			}
			if err := chartutil.ValidateAgainstSingleSchema(values, schema); err != nil {
				t.Fatalf("configurationValues against the %s schema: %v", versions.NodeMonitoringAgent, err)
			}
			objects, err := charts.Render(dir, charts.Release{Name: cluster.NodeMonitoringAgentAddon, Namespace: "kube-system", Kubernetes: "1.35"}, values)
			if err != nil {
				t.Fatal(err)
			}
			pods, err := placement.DaemonSetPods(objects)
			if err != nil {
				t.Fatal(err)
			}
			agent, dcgm := pods["eks-node-monitoring-agent"], pods["dcgm-server"]
			if len(agent.Containers) == 0 || len(dcgm.Containers) == 0 {
				t.Fatalf("the chart renders DaemonSets %v, want eks-node-monitoring-agent and dcgm-server", slices.Sorted(maps.Keys(pods)))
			}
			plans := outputs["gpuPools"].(map[string]any)
			monitored := 0
			for _, np := range byType(cloud, typeNodePool) {
				node, err := placement.Node(object(np))
				if err != nil {
					t.Fatal(err)
				}
				pool := node.Labels[wellknown.GPUPoolLabel]
				for _, typ := range plans[pool].(map[string]any)["instanceTypes"].([]any) {
					node.Labels[corev1.LabelInstanceTypeStable] = typ.(string)
					node.Labels[corev1.LabelOSStable] = "linux"
					if ok, err := placement.Fits(agent, node); err != nil || !ok {
						t.Errorf("pool %s, %s: no node monitoring agent (%v); taints %v", pool, typ, err, node.Spec.Taints)
					}
					// Taints never keep the DCGM server away: it runs where
					// it would run on the same node untainted.
					untainted := node.DeepCopy()
					untainted.Spec.Taints = nil
					want, _ := placement.Fits(dcgm, untainted)
					got, err := placement.Fits(dcgm, node)
					if err != nil || got != want {
						t.Errorf("pool %s, %s: DCGM server runs %v, on the same node untainted %v (%v); taints %v", pool, typ, got, want, err, node.Spec.Taints)
					}
					if got {
						monitored++
					}
				}
			}
			if monitored == 0 {
				t.Error("the DCGM server runs on no instance type of any pool")
			}
		})
	}
}

// With node repair on, a pool that may launch arm64 GPU instances is named
// in a warning with those types, and only such a pool; and that rule is the
// agent chart's own: its DCGM server, rendered with the stack's values,
// runs on the node of every amd64 catalogue GPU type and of no arm64 one.
func TestNodeRepairWarnsOfPoolsWithoutGPUHealth(t *testing.T) {
	t.Parallel()
	cfg := config.Defaults()
	cfg.ClusterName = "ml"
	cfg.Karpenter.FeatureGates = map[string]bool{wellknown.FeatureGateNodeRepair: true}
	arm := cfg.GPUPools[0]
	arm.Name, arm.GPUs, arm.Architectures = "edge", []string{"t4g", "t4"}, []string{"amd64", "arm64"}
	plain := cfg.GPUPools[0]
	plain.Name, plain.GPUs = "plain", []string{"t4"}
	cfg.GPUPools = []config.GPUPool{arm, plain}
	types := map[string][]catalog.InstanceType{}
	for _, p := range cfg.GPUPools {
		var err error
		if types[p.Name], err = catalog.Match(gpu.Requirements(p)); err != nil {
			t.Fatal(err)
		}
	}
	got := strings.Join(stack.NodeRepairWarnings(&cfg, types), "\n")
	if !strings.Contains(got, "gpuPools[edge]: node repair sees no GPU faults on g5g.xlarge") || strings.Contains(got, "gpuPools[plain]") {
		t.Errorf("warnings:\n%s", got)
	}
	cfg.Karpenter.FeatureGates = nil
	if w := stack.NodeRepairWarnings(&cfg, types); len(w) != 0 {
		t.Errorf("warnings without node repair: %v", w)
	}

	dir, err := charts.Upstream("eks-node-monitoring-agent", versions.NodeMonitoringAgent)
	if err != nil {
		t.Fatal(err)
	}
	objects, err := charts.Render(dir, charts.Release{Name: cluster.NodeMonitoringAgentAddon, Namespace: "kube-system", Kubernetes: "1.35"}, cluster.NodeMonitoringAgentValues())
	if err != nil {
		t.Fatal(err)
	}
	pods, err := placement.DaemonSetPods(objects)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range catalog.InstanceTypes {
		node := &corev1.Node{}
		node.Labels = map[string]string{corev1.LabelInstanceTypeStable: it.Name, corev1.LabelArchStable: it.Arch, corev1.LabelOSStable: "linux"}
		node.Spec.Taints = []corev1.Taint{{Key: wellknown.GPUTaintKey, Effect: wellknown.GPUTaintEffect}}
		runs, err := placement.Fits(pods["dcgm-server"], node)
		if err != nil {
			t.Fatal(err)
		}
		if runs != (it.Arch == "amd64") {
			t.Errorf("%s (%s): the chart's DCGM server runs %v, the stack's rule says %v", it.Name, it.Arch, runs, it.Arch == "amd64")
		}
	}
}

// The node monitoring agent add-on the stack creates carries its owner tag;
// one the cluster already runs and the stack did not create is adopted as
// it is (imported, never changed, kept on destroy), with a warning and the
// command to fix its values when its DCGM server would skip tainted nodes;
// one this stack created (its tag) stays the stack's.
func TestExistingNodeMonitoringAgentIsLeftAlone(t *testing.T) {
	t.Parallel()
	repair := map[string]any{"karpenter": map[string]any{"featureGates": map[string]bool{wellknown.FeatureGateNodeRepair: true}}}
	withAgent := func(values string, tags map[string]string) fakecloud.Cluster {
		c := fakecloud.Example(clusterName)
		c.Addons = append(c.Addons, cluster.NodeMonitoringAgentAddon)
		c.AddonValues = map[string]string{cluster.NodeMonitoringAgentAddon: values}
		c.AddonTags = map[string]map[string]string{cluster.NodeMonitoringAgentAddon: tags}
		return c
	}
	cases := []struct {
		name    string
		cluster fakecloud.Cluster
		adopted bool
		warning string
	}{
		{"none yet: created as the stack's", fakecloud.Example(clusterName), false, ""},
		{"the cluster's, without tolerations", withAgent("", nil), true,
			"already runs the eks-node-monitoring-agent add-on (v1.0.0-eksbuild.1), which this stack did not create: it is left as it is and kept on destroy; its DCGM server tolerates no GPU taint"},
		{"the cluster's, with tolerations", withAgent(`{"dcgmAgent":{"tolerations":[{"operator":"Exists"}]}}`, map[string]string{"team": "platform"}), true,
			"which this stack did not create: it is left as it is and kept on destroy"},
		{"this stack's own", withAgent(`{"dcgmAgent":{"tolerations":[{"operator":"Exists"}]}}`, map[string]string{wellknown.AddonOwnerTagKey: "karpenter-gpu/test"}), false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cloud := fakecloud.New(tc.cluster, config.Namespace, "test")
			var got stack.Observed
			if err := runProgram(cloud, stackConfig(t, repair), func(o stack.Observed) { got = o }); err != nil {
				t.Fatal(err)
			}
			addon := one(t, cloud, "aws:eks/addon:Addon", cluster.NodeMonitoringAgentAddon)
			warnings := strings.Join(got.Warnings, "\n")
			if tc.adopted {
				if addon.ImportID != clusterName+":"+cluster.NodeMonitoringAgentAddon || !addon.RetainOnDelete {
					t.Errorf("adopted add-on: import %q, retained %v", addon.ImportID, addon.RetainOnDelete)
				}
				if addon.Inputs["configurationValues"] != tc.cluster.AddonValues[cluster.NodeMonitoringAgentAddon] && addon.Inputs["configurationValues"] != nil {
					t.Errorf("adopted add-on declared with values %v, not its own", addon.Inputs["configurationValues"])
				}
				if !strings.Contains(warnings, tc.warning) {
					t.Errorf("warnings lack %q:\n%s", tc.warning, warnings)
				}
				fix := strings.Contains(warnings, "aws eks update-addon --cluster-name ml-prod --addon-name eks-node-monitoring-agent --configuration-values")
				if fix != strings.Contains(tc.warning, "tolerates no GPU taint") {
					t.Errorf("the fix command is shown %v:\n%s", fix, warnings)
				}
				return
			}
			if addon.ImportID != "" || addon.RetainOnDelete || addon.Inputs["addonVersion"] != versions.NodeMonitoringAgentAddon {
				t.Errorf("the stack's add-on: import %q, retained %v, version %v", addon.ImportID, addon.RetainOnDelete, addon.Inputs["addonVersion"])
			}
			if tags, _ := addon.Inputs["tags"].(map[string]any); tags[wellknown.AddonOwnerTagKey] != "karpenter-gpu/test" {
				t.Errorf("the stack's add-on has tags %v, want its owner tag", addon.Inputs["tags"])
			}
			if strings.Contains(warnings, "did not create") {
				t.Errorf("the stack's own add-on is warned of:\n%s", warnings)
			}
		})
	}
}
