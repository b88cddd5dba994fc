package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"karpenter-gpu/versions"
)

func parse(values map[string]string) (*Stack, error) {
	full := map[string]string{}
	var keys []string
	for k, v := range values {
		full[Namespace+":"+k] = v
		keys = append(keys, Namespace+":"+k)
	}
	keys = append(keys, "aws:region") // other namespaces are not ours to judge
	return Parse(func(key string) (string, bool) {
		v, ok := full[key]
		return v, ok
	}, keys)
}

func TestMinimalConfigGetsDefaults(t *testing.T) {
	cfg, err := parse(map[string]string{"clusterName": "ml-prod"})
	if err != nil {
		t.Fatal(err)
	}
	want := Defaults()
	want.ClusterName = "ml-prod"
	if !reflect.DeepEqual(*cfg, want) {
		t.Fatalf("got %+v\nwant %+v", *cfg, want)
	}
	if cfg.Karpenter.Version != versions.Karpenter || cfg.Karpenter.Identity != IdentityIRSA || cfg.NodeAccess != NodeAccessAuto {
		t.Fatalf("defaults drifted: %+v", cfg.Karpenter)
	}
	if len(cfg.GPUPools) != 1 || cfg.GPUPools[0].Consolidation != "WhenEmpty" || cfg.GPUPools[0].ConsolidateAfter != "1m" {
		t.Fatalf("default pool: %+v", cfg.GPUPools)
	}
}

func TestObjectsMergeOverDefaults(t *testing.T) {
	cfg, err := parse(map[string]string{
		"clusterName": "ml",
		"karpenter":   `{"identity":"podIdentity","replicas":1}`,
		"gpuPools":    `[{"name":"inference","gpus":["l4"],"maxGPUs":8,"capacityTypes":["spot"]}]`,
		"smokeTest":   "true",
		"tags":        `{"team":"ml"}`,
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Karpenter.Identity != IdentityPodIdentity || cfg.Karpenter.Replicas != 1 || cfg.Karpenter.Namespace != "kube-system" {
		t.Fatalf("karpenter: %+v", cfg.Karpenter)
	}
	pool := cfg.GPUPools[0]
	if pool.Name != "inference" || !reflect.DeepEqual(pool.GPUs, []string{"l4"}) || pool.MaxGPUs != 8 ||
		!reflect.DeepEqual(pool.CapacityTypes, []string{"spot"}) || pool.Consolidation != "WhenEmpty" ||
		!reflect.DeepEqual(pool.Architectures, []string{"amd64"}) {
		t.Fatalf("pool: %+v", pool)
	}
	if !cfg.SmokeTest || cfg.Tags["team"] != "ml" {
		t.Fatalf("smokeTest/tags: %+v %v", cfg.SmokeTest, cfg.Tags)
	}
}

func TestBadValuesNameTheKey(t *testing.T) {
	cases := []struct {
		name   string
		values map[string]string
		want   []string // every fragment must appear in the one error
	}{
		{"missing clusterName", map[string]string{}, []string{"karpenter-gpu:clusterName is missing"}},
		{"misspelled clusterName", map[string]string{"clustrName": "ml"}, []string{`karpenter-gpu:clustrName: "clustrName": is not a known key`, "clusterName", "karpenter-gpu:clusterName is missing"}},
		{"bad cluster name", map[string]string{"clusterName": "-ml"}, []string{`clusterName: "-ml"`}},
		{"identity magic", map[string]string{"clusterName": "ml", "karpenter": `{"identity":"magic"}`}, []string{`karpenter-gpu:karpenter.identity: "magic": want one of irsa, podIdentity`}},
		{"nodeAccess maybe", map[string]string{"clusterName": "ml", "nodeAccess": "maybe"}, []string{`karpenter-gpu:nodeAccess: "maybe": want one of auto, accessEntry, awsAuth`}},
		{"nested typo", map[string]string{"clusterName": "ml", "karpenter": `{"replica":2}`}, []string{`karpenter.replica: 2: is not a known key of karpenter`, "replicas"}},
		{"wrong type", map[string]string{"clusterName": "ml", "karpenter": `{"replicas":"two"}`}, []string{`karpenter.replicas: "two": want a whole number`}},
		{"fraction", map[string]string{"clusterName": "ml", "karpenter": `{"replicas":1.5}`}, []string{`karpenter.replicas: 1.5: want a whole number`}},
		{"replicas range", map[string]string{"clusterName": "ml", "karpenter": `{"replicas":0}`}, []string{`karpenter.replicas: 0: want a whole number from 1 to 5`}},
		{"old karpenter", map[string]string{"clusterName": "ml", "karpenter": `{"version":"0.37.0"}`}, []string{`karpenter.version: "0.37.0": want 1.1.0 or newer`}},
		{"object expected", map[string]string{"clusterName": "ml", "karpenter": `irsa`}, []string{`karpenter-gpu:karpenter: "irsa": want a YAML object`}},
		{"smokeTest not bool", map[string]string{"clusterName": "ml", "smokeTest": "yes please"}, []string{`smokeTest: "yes please": want true or false`}},
		{"subnet id", map[string]string{"clusterName": "ml", "discovery": `{"subnetIds":["sn-1"]}`}, []string{`discovery.subnetIds: "sn-1"`}},
		{"policy arn", map[string]string{"clusterName": "ml", "nodeRole": `{"extraPolicyArns":["AdministratorAccess"]}`}, []string{`nodeRole.extraPolicyArns: "AdministratorAccess": want IAM policy ARNs`}},
		{"aws tag", map[string]string{"clusterName": "ml", "tags": `{"aws:owner":"me"}`}, []string{`tags.aws:owner: "me": the aws: prefix is reserved`}},
		{"unknown ami family", map[string]string{"clusterName": "ml", "nodeClass": `{"ami":"al2@v20240917"}`}, []string{`nodeClass.ami: "al2@v20240917": want an AMI alias family@version with family one of al2023, bottlerocket`}},
		{"unpinned ami", map[string]string{"clusterName": "ml", "nodeClass": `{"ami":"al2023"}`}, []string{`nodeClass.ami: "al2023": pin the AMI release`}},
		{"latest without opt-in", map[string]string{"clusterName": "ml", "nodeClass": `{"ami":"al2023@latest"}`}, []string{`nodeClass.ami: "al2023@latest": @latest replaces every GPU node`, "allowLatestAmi"}},
		{"tiny root volume", map[string]string{"clusterName": "ml", "nodeClass": `{"rootVolume":{"sizeGiB":5}}`}, []string{`nodeClass.rootVolume.sizeGiB: 5: want a whole number from 50 to 16384`}},
		{"reserved tag", map[string]string{"clusterName": "ml", "nodeClass": `{"tags":{"karpenter.sh/nodepool":"x"}}`}, []string{`nodeClass.tags.karpenter.sh/nodepool: "x": Karpenter sets this tag itself`}},
		{"cluster tag", map[string]string{"clusterName": "ml", "nodeClass": `{"tags":{"kubernetes.io/cluster/ml":"owned"}}`}, []string{`nodeClass.tags.kubernetes.io/cluster/ml`}},
		{"store policy", map[string]string{"clusterName": "ml", "nodeClass": `{"instanceStorePolicy":"RAID5"}`}, []string{`nodeClass.instanceStorePolicy: "RAID5": want one of "" (off), RAID0`}},
		{"unknown gpu", map[string]string{"clusterName": "ml", "gpuPools": `[{"name":"a","gpus":["rtx4090"],"maxGPUs":4}]`}, []string{`gpuPools[a].gpus: "rtx4090": unknown GPU; known:`, "l40s"}},
		{"empty pool", map[string]string{"clusterName": "ml", "gpuPools": `[{"name":"a","maxGPUs":4}]`}, []string{`gpuPools[a]: "no GPU selection": a pool must say which GPUs`}},
		{"no pools", map[string]string{"clusterName": "ml", "gpuPools": `[]`}, []string{`gpuPools: []: want at least one GPU pool`}},
		{"maxGPUs missing", map[string]string{"clusterName": "ml", "gpuPools": `[{"name":"a","gpus":["t4"]}]`}, []string{`gpuPools[a].maxGPUs is missing: want the most GPUs`}},
		{"maxGPUs below count", map[string]string{"clusterName": "ml", "gpuPools": `[{"name":"train","gpus":["h100"],"gpuCount":{"min":8,"max":8},"maxGPUs":4}]`}, []string{`gpuPools[train].maxGPUs: 4: below gpuCount.min (8)`}},
		{"cheap capacity", map[string]string{"clusterName": "ml", "gpuPools": `[{"name":"a","gpus":["t4"],"maxGPUs":4,"capacityTypes":["cheap"]}]`}, []string{`gpuPools[a].capacityTypes: "cheap": want one of spot, on-demand, reserved`}},
		{"soon", map[string]string{"clusterName": "ml", "gpuPools": `[{"name":"a","gpus":["t4"],"maxGPUs":4,"consolidateAfter":"soon"}]`}, []string{`gpuPools[a].consolidateAfter: "soon": want a duration`}},
		{"old consolidation name", map[string]string{"clusterName": "ml", "gpuPools": `[{"name":"a","gpus":["t4"],"maxGPUs":4,"consolidation":"WhenUnderutilized"}]`}, []string{`gpuPools[a].consolidation: "WhenUnderutilized": want one of WhenEmpty, WhenEmptyOrUnderutilized`}},
		{"pool typo", map[string]string{"clusterName": "ml", "gpuPools": `[{"name":"a","gpu":["t4"],"maxGPUs":4}]`}, []string{`gpuPools[0].gpu: ["t4"]: is not a known key of gpuPools[0]`}},
		{"duplicate pool", map[string]string{"clusterName": "ml", "gpuPools": `[{"name":"a","gpus":["t4"],"maxGPUs":4},{"name":"a","gpus":["l4"],"maxGPUs":4}]`}, []string{`gpuPools[a].name: "a": pool names must be unique`}},
		{"too much memory", map[string]string{"clusterName": "ml", "gpuPools": `[{"name":"a","gpus":["t4"],"minGPUMemoryGiB":40,"maxGPUs":4}]`}, []string{`gpuPools[a].minGPUMemoryGiB: 40: no known GPU`}},
		{"taint effect", map[string]string{"clusterName": "ml", "gpuPools": `[{"name":"a","gpus":["t4"],"maxGPUs":4,"taints":[{"key":"team","effect":"Sometimes"}]}]`}, []string{`gpuPools[a].taints[0].effect: "Sometimes"`}},
		{"budget schedule alone", map[string]string{"clusterName": "ml", "gpuPools": `[{"name":"a","gpus":["t4"],"maxGPUs":4,"budgets":[{"nodes":"0","schedule":"0 9 * * 1-5"}]}]`}, []string{`gpuPools[a].budgets[0]`, "schedule and duration go together"}},
		{"bottlerocket date version", map[string]string{"clusterName": "ml", "nodeClass": `{"ami":"bottlerocket@v20251120"}`}, []string{`nodeClass.ami: "bottlerocket@v20251120": want a release such as bottlerocket@v1.50.0`}},
		{"sharing on bottlerocket", map[string]string{"clusterName": "ml", "nodeClass": `{"ami":"bottlerocket@v1.50.0"}`, "gpuSharing": `{"replicas":4}`}, []string{`gpuSharing.replicas: 4: time-slicing is configured through the NVIDIA device plugin`}},
		{"greenfield without vpc", map[string]string{"clusterName": "ml", "cluster": `{"create":true}`}, []string{`cluster.vpcId is missing`, `cluster.subnetIds: null: cluster.create needs at least two private subnets`}},
		{"network without create", map[string]string{"clusterName": "ml", "cluster": `{"vpcId":"vpc-0123456789abcdef0"}`}, []string{`only used with cluster.create: true`}},
		{"irsa-only flag", map[string]string{"clusterName": "ml", "karpenter": `{"identity":"podIdentity","createOidcProvider":true}`}, []string{`karpenter.createOidcProvider: true: only IRSA uses the OIDC provider`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := parse(tc.values)
			if err == nil {
				t.Fatalf("accepted: %+v", cfg)
			}
			var cerr *Error
			if !errors.As(err, &cerr) {
				t.Fatalf("error is %T, want *config.Error", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%s", w, err)
				}
			}
		})
	}
}

func TestGPUNames(t *testing.T) {
	cases := []struct {
		pool GPUPool
		want []string
	}{
		{GPUPool{GPUs: []string{"l4", "t4"}}, []string{"l4", "t4"}},
		{GPUPool{GPUs: []string{"l4", "t4"}, MinGPUMemoryGiB: 20}, []string{"l4"}},
		{GPUPool{MinGPUMemoryGiB: 80}, []string{"b200", "h100", "h200"}},
		{GPUPool{InstanceFamilies: []string{"g6e"}}, nil},
	}
	for _, tc := range cases {
		if got := tc.pool.GPUNames(); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%+v: got %v, want %v", tc.pool, got, tc.want)
		}
	}
}
