package tests

import (
	"encoding/json"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"karpenter-gpu/internal/fakecloud"
	"karpenter-gpu/internal/placement"
	"karpenter-gpu/wellknown"
)

// object is a registered custom resource as the API server receives it.
func object(r fakecloud.Resource) map[string]any {
	return map[string]any{"apiVersion": r.Inputs["apiVersion"], "kind": r.Inputs["kind"], "metadata": r.Inputs["metadata"], "spec": r.Inputs["spec"]}
}

// Every pool the stack declares gets the device plugin on its nodes, unless
// its node class boots Bottlerocket (which brings its own), and the smoke
// test fits the first pool: judged with Kubernetes' scheduling code on the
// node Karpenter would launch from the registered NodePool, for the
// committed stacks and for pools with taints of their own.
func TestEveryPoolGetsTheDevicePlugin(t *testing.T) {
	t.Parallel()
	tainted := func(t *testing.T) *fakecloud.Cloud {
		return mustRun(t, map[string]any{
			"smokeTest":   "true",
			"nodeClasses": []any{map[string]any{"name": "gpu"}, map[string]any{"name": "bottlerocket", "ami": "bottlerocket@v1.50.0"}},
			"gpuPools": []any{
				map[string]any{"name": "research", "gpus": []string{"l40s"}, "maxGPUs": 4, "sharing": map[string]int{"replicas": 2},
					"taints": []any{map[string]any{"key": "team", "value": "research", "effect": "NoSchedule"}, map[string]any{"key": "preemptible", "effect": "NoExecute"}}},
				map[string]any{"name": "plain", "gpus": []string{"t4"}, "maxGPUs": 2},
				map[string]any{"name": "br", "nodeClass": "bottlerocket", "gpus": []string{"a10g"}, "maxGPUs": 2,
					"taints": []any{map[string]any{"key": "os", "value": "bottlerocket", "effect": "NoSchedule"}}},
			},
		})
	}
	stacks := map[string]func(t *testing.T) *fakecloud.Cloud{
		"dev stack":    func(t *testing.T) *fakecloud.Cloud { return runStackFile(t, "../Pulumi.dev.yaml") },
		"prod example": func(t *testing.T) *fakecloud.Cloud { return runStackFile(t, "../Pulumi.prod.yaml.example") },
		"tainted":      tainted,
	}
	for name, run := range stacks {
		t.Run(name, func(t *testing.T) {
			cloud := run(t)
			values := one(t, cloud, typeRelease, "nvidia-device-plugin").Inputs["values"].(map[string]any)
			bottlerocket := map[string]bool{}
			for _, nc := range byType(cloud, typeNodeClass) {
				alias := nc.Inputs["spec"].(map[string]any)["amiSelectorTerms"].([]any)[0].(map[string]any)["alias"].(string)
				bottlerocket[nc.Name] = alias[:len("bottlerocket")] == "bottlerocket"
			}
			pools := byType(cloud, typeNodePool)
			if len(pools) == 0 {
				t.Fatal("no pools")
			}
			for _, np := range pools {
				node, err := placement.Node(object(np))
				if err != nil {
					t.Fatal(err)
				}
				runs, err := placement.DaemonSetRunsOn(values, node)
				if err != nil {
					t.Fatal(err)
				}
				own := bottlerocket[node.Labels[wellknown.LabelEC2NodeClass]]
				if runs == own {
					t.Errorf("pool %s (node class %s, Bottlerocket %v): device plugin runs = %v; node labels %v, taints %v",
						np.Name, node.Labels[wellknown.LabelEC2NodeClass], own, runs, node.Labels, node.Spec.Taints)
				}
				if cfg, shares := node.Labels[wellknown.DevicePluginConfigLabel]; shares {
					if _, ok := values["config"].(map[string]any)["map"].(map[string]any)[cfg]; !ok {
						t.Errorf("pool %s selects plugin configuration %q, which the release lacks", np.Name, cfg)
					}
				}
			}
			jobs := byType(cloud, "kubernetes:batch/v1:Job")
			if len(jobs) == 0 {
				return
			}
			var spec corev1.PodSpec
			b, _ := json.Marshal(jobs[0].Inputs["spec"].(map[string]any)["template"].(map[string]any)["spec"])
			if err := json.Unmarshal(b, &spec); err != nil {
				t.Fatal(err)
			}
			node, err := placement.Node(object(pools[0]))
			if err != nil {
				t.Fatal(err)
			}
			first := spec.NodeSelector[wellknown.GPUPoolLabel]
			for _, np := range pools {
				if np.Inputs["metadata"].(map[string]any)["name"] == first {
					node, _ = placement.Node(object(np))
				}
			}
			if ok, err := placement.Fits(spec, node); err != nil || !ok {
				t.Errorf("the smoke test does not fit pool %s's node (labels %v, taints %v)", first, node.Labels, node.Spec.Taints)
			}
		})
	}
}

// Sharing turns on Karpenter's NodeOverlay gate, and only then.
func TestSharingTurnsOnTheNodeOverlayGate(t *testing.T) {
	t.Parallel()
	gates := func(values map[string]any) any {
		return values["settings"].(map[string]any)["featureGates"]
	}
	shared := runStackFile(t, "../Pulumi.dev.yaml")
	if got := gates(one(t, shared, typeRelease, "karpenter").Inputs["values"].(map[string]any)); got == nil || got.(map[string]any)["nodeOverlay"] != true {
		t.Errorf("feature gates = %v", got)
	}
	if n := len(byType(shared, typeNodeOverlay)); n != 1 {
		t.Errorf("%d NodeOverlays for a 1-GPU sharing pool", n)
	}
	plain := mustRun(t, nil)
	if got := gates(one(t, plain, typeRelease, "karpenter").Inputs["values"].(map[string]any)); got != nil {
		t.Errorf("feature gates without sharing = %v", got)
	}
}

func TestNodeTrustFollowsThePartition(t *testing.T) {
	t.Parallel()
	china := fakecloud.Example(clusterName)
	china.Partition, china.Region = "aws-cn", "cn-north-1"
	cloud, err := run(t, china, nil)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Statement []struct {
			Principal map[string]string
		}
	}
	if err := json.Unmarshal([]byte(one(t, cloud, typeRole, "karpenter-node").Inputs["assumeRolePolicy"].(string)), &doc); err != nil {
		t.Fatal(err)
	}
	if got := doc.Statement[0].Principal["Service"]; got != "ec2.amazonaws.com.cn" {
		t.Errorf("node role trusts %q in aws-cn", got)
	}
}

func TestDevicePluginNamespaceAllowsItsPods(t *testing.T) {
	t.Parallel()
	ns := one(t, mustRun(t, nil), "kubernetes:core/v1:Namespace", "nvidia-device-plugin").Inputs["metadata"].(map[string]any)
	if ns["labels"].(map[string]any)[wellknown.PodSecurityEnforceLabel] != "privileged" {
		t.Errorf("namespace labels = %v", ns["labels"])
	}
}
