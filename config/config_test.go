package config

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"karpenter-gpu/catalog"

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
	if cfg.Karpenter.Identity != IdentityIRSA || cfg.NodeAccess != NodeAccessAuto {
		t.Fatalf("defaults drifted: %+v", cfg.Karpenter)
	}
	if len(cfg.NodeClasses) != 1 || cfg.NodeClasses[0].Name != "gpu" || cfg.NodeClasses[0].AMI != versions.DefaultAMI {
		t.Fatalf("default node class: %+v", cfg.NodeClasses)
	}
	pool := cfg.GPUPools[0]
	if len(cfg.GPUPools) != 1 || pool.Consolidation != "WhenEmpty" || pool.ConsolidateAfter != "1m" || pool.NodeClass != "gpu" ||
		pool.ExpireAfter != "720h" || pool.TerminationGracePeriod != "24h" {
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
		{"karpenter version is pinned", map[string]string{"clusterName": "ml", "karpenter": `{"version":"1.14.0"}`}, []string{`karpenter.version: "1.14.0": is not a known key of karpenter`}},
		{"object expected", map[string]string{"clusterName": "ml", "karpenter": `irsa`}, []string{`karpenter-gpu:karpenter: "irsa": want a YAML object`}},
		{"smokeTest not bool", map[string]string{"clusterName": "ml", "smokeTest": "yes please"}, []string{`smokeTest: "yes please": want true or false`}},
		{"subnet id", map[string]string{"clusterName": "ml", "discovery": `{"subnetIds":["sn-1"]}`}, []string{`discovery.subnetIds: "sn-1"`}},
		{"policy arn", map[string]string{"clusterName": "ml", "nodeRole": `{"extraPolicyArns":["AdministratorAccess"]}`}, []string{`nodeRole.extraPolicyArns: "AdministratorAccess": want IAM policy ARNs`}},
		{"aws tag", map[string]string{"clusterName": "ml", "tags": `{"aws:owner":"me"}`}, []string{`tags.aws:owner: "me": the aws: prefix is reserved`}},
		{"single nodeClass is gone", map[string]string{"clusterName": "ml", "nodeClass": `{"ami":"al2023@v20260610"}`}, []string{`karpenter-gpu:nodeClass: "nodeClass": is not a known key`, "nodeClasses"}},
		{"unknown ami family", map[string]string{"clusterName": "ml", "nodeClasses": `[{"name":"gpu","ami":"al2@v20240917"}]`}, []string{`nodeClasses[gpu].ami: "al2@v20240917": want an AMI alias family@version with family one of al2023, bottlerocket`}},
		{"unpinned ami", map[string]string{"clusterName": "ml", "nodeClasses": `[{"name":"gpu","ami":"al2023"}]`}, []string{`nodeClasses[gpu].ami: "al2023": pin the AMI release`}},
		{"latest without opt-in", map[string]string{"clusterName": "ml", "nodeClasses": `[{"name":"gpu","ami":"al2023@latest"}]`}, []string{`nodeClasses[gpu].ami: "al2023@latest": @latest replaces every GPU node`, "allowLatestAmi"}},
		{"tiny root volume", map[string]string{"clusterName": "ml", "nodeClasses": `[{"name":"gpu","rootVolume":{"sizeGiB":5}}]`}, []string{`nodeClasses[gpu].rootVolume.sizeGiB: 5: want a whole number from 50 to 59000`}},
		{"gp3 iops above the 2025 limit", map[string]string{"clusterName": "ml", "nodeClasses": `[{"name":"gpu","rootVolume":{"sizeGiB":500,"iops":90000}}]`}, []string{`nodeClasses[gpu].rootVolume.iops: 90000: want a whole number from 3000 to 80000`}},
		{"gp3 iops per GiB", map[string]string{"clusterName": "ml", "nodeClasses": `[{"name":"gpu","rootVolume":{"sizeGiB":50,"iops":40000}}]`}, []string{`nodeClasses[gpu].rootVolume.iops: 40000: gp3 allows at most 500 IOPS per GiB: 25000 at most for 50 GiB`}},
		{"gp3 throughput per IOPS", map[string]string{"clusterName": "ml", "nodeClasses": `[{"name":"gpu","rootVolume":{"throughputMiBps":1000}}]`}, []string{`nodeClasses[gpu].rootVolume.throughputMiBps: 1000: gp3 allows at most 0.25 MiB/s per IOPS: 750 at most with 3000 IOPS`}},
		{"reserved tag", map[string]string{"clusterName": "ml", "nodeClasses": `[{"name":"gpu","tags":{"karpenter.sh/nodepool":"x"}}]`}, []string{`nodeClasses[gpu].tags.karpenter.sh/nodepool: "x": Karpenter sets this tag itself`}},
		{"cluster tag", map[string]string{"clusterName": "ml", "nodeClasses": `[{"name":"gpu","tags":{"kubernetes.io/cluster/ml":"owned"}}]`}, []string{`nodeClasses[gpu].tags.kubernetes.io/cluster/ml`}},
		{"store policy", map[string]string{"clusterName": "ml", "nodeClasses": `[{"name":"gpu","instanceStorePolicy":"RAID5"}]`}, []string{`nodeClasses[gpu].instanceStorePolicy: "RAID5": want one of "" (off), RAID0`}},
		{"class without name", map[string]string{"clusterName": "ml", "nodeClasses": `[{"ami":"al2023@v20260610"}]`}, []string{`nodeClasses[0].name is missing`}},
		{"duplicate class", map[string]string{"clusterName": "ml", "nodeClasses": `[{"name":"gpu"},{"name":"gpu"}]`}, []string{`nodeClasses[gpu].name: "gpu": node class names must be unique`}},
		{"no classes", map[string]string{"clusterName": "ml", "nodeClasses": `[]`}, []string{`nodeClasses: []: want at least one node class`}},
		{"class typo", map[string]string{"clusterName": "ml", "nodeClasses": `[{"name":"gpu","amii":"al2023@v20260610"}]`}, []string{`nodeClasses[gpu].amii: "al2023@v20260610": is not a known key of nodeClasses[gpu]; did you mean ami?`}},
		{"pool names an unknown class", map[string]string{"clusterName": "ml", "nodeClasses": `[{"name":"serving"},{"name":"training"}]`, "gpuPools": `[{"name":"a","gpus":["t4"],"maxGPUs":4,"nodeClass":"gpu"}]`}, []string{`gpuPools[a].nodeClass: "gpu": want the name of an entry of nodeClasses: serving, training`}},
		{"sharing replicas", map[string]string{"clusterName": "ml", "gpuPools": `[{"name":"a","gpus":["t4"],"maxGPUs":4,"sharing":{"replicas":1}}]`}, []string{`gpuPools[a].sharing.replicas: 1: want 0 (no sharing) or 2-48 pods per GPU`}},
		{"global sharing is gone", map[string]string{"clusterName": "ml", "gpuSharing": `{"replicas":4}`}, []string{`karpenter-gpu:gpuSharing: "gpuSharing": is not a known key`}},
		{"l40s has less than 48 GiB", map[string]string{"clusterName": "ml", "gpuPools": `[{"name":"a","gpus":["l40s"],"minGPUMemoryGiB":48,"maxGPUs":4}]`}, []string{`gpuPools[a].minGPUMemoryGiB: 48: no GPU of those in gpus has that much memory: the most EC2 reports is 45776 MiB (l40s); want 44 or less`}},
		{"retired gpu", map[string]string{"clusterName": "ml", "gpuPools": `[{"name":"a","gpus":["k80"],"maxGPUs":4}]`}, []string{`gpuPools[a].gpus: "k80": unknown GPU`, "rtx-pro-server-6000"}},
		{"device plugin config label", map[string]string{"clusterName": "ml", "gpuPools": `[{"name":"a","gpus":["t4"],"maxGPUs":4,"labels":{"nvidia.com/device-plugin.config":"x"}}]`}, []string{`gpuPools[a].labels.nvidia.com/device-plugin.config: "x": the stack sets this label itself`}},
		{"unknown gpu", map[string]string{"clusterName": "ml", "gpuPools": `[{"name":"a","gpus":["rtx4090"],"maxGPUs":4}]`}, []string{`gpuPools[a].gpus: "rtx4090": unknown GPU; known (as Karpenter names them):`, "l40s"}},
		{"empty pool", map[string]string{"clusterName": "ml", "gpuPools": `[{"name":"a","maxGPUs":4}]`}, []string{`gpuPools[a]: "no GPU selection": a pool must say which GPUs`}},
		{"no pools", map[string]string{"clusterName": "ml", "gpuPools": `[]`}, []string{`gpuPools: []: want at least one GPU pool`}},
		{"maxGPUs missing", map[string]string{"clusterName": "ml", "gpuPools": `[{"name":"a","gpus":["t4"]}]`}, []string{`gpuPools[a].maxGPUs is missing: want the most GPUs`}},
		{"maxGPUs below count", map[string]string{"clusterName": "ml", "gpuPools": `[{"name":"train","gpus":["h100"],"gpuCount":{"min":8,"max":8},"maxGPUs":4}]`}, []string{`gpuPools[train].maxGPUs: 4: below gpuCount.min (8)`}},
		{"cheap capacity", map[string]string{"clusterName": "ml", "gpuPools": `[{"name":"a","gpus":["t4"],"maxGPUs":4,"capacityTypes":["cheap"]}]`}, []string{`gpuPools[a].capacityTypes: "cheap": want one of spot, on-demand, reserved`}},
		{"soon", map[string]string{"clusterName": "ml", "gpuPools": `[{"name":"a","gpus":["t4"],"maxGPUs":4,"consolidateAfter":"soon"}]`}, []string{`gpuPools[a].consolidateAfter: "soon": want a duration`}},
		{"old consolidation name", map[string]string{"clusterName": "ml", "gpuPools": `[{"name":"a","gpus":["t4"],"maxGPUs":4,"consolidation":"WhenUnderutilized"}]`}, []string{`gpuPools[a].consolidation: "WhenUnderutilized": want one of WhenEmpty, WhenEmptyOrUnderutilized`}},
		{"pool typo", map[string]string{"clusterName": "ml", "gpuPools": `[{"name":"a","gpu":["t4"],"maxGPUs":4}]`}, []string{`gpuPools[a].gpu: ["t4"]: is not a known key of gpuPools[a]; did you mean gpus?`}},
		{"duplicate pool", map[string]string{"clusterName": "ml", "gpuPools": `[{"name":"a","gpus":["t4"],"maxGPUs":4},{"name":"a","gpus":["l4"],"maxGPUs":4}]`}, []string{`gpuPools[a].name: "a": pool names must be unique`}},
		{"too much memory", map[string]string{"clusterName": "ml", "gpuPools": `[{"name":"a","gpus":["t4"],"minGPUMemoryGiB":40,"maxGPUs":4}]`}, []string{`gpuPools[a].minGPUMemoryGiB: 40: no GPU of those in gpus has that much memory: the most EC2 reports is 16384 MiB (t4); want 16 or less`}},
		{"taint effect", map[string]string{"clusterName": "ml", "gpuPools": `[{"name":"a","gpus":["t4"],"maxGPUs":4,"taints":[{"key":"team","effect":"Sometimes"}]}]`}, []string{`gpuPools[a].taints[0].effect: "Sometimes"`}},
		{"budget schedule alone", map[string]string{"clusterName": "ml", "gpuPools": `[{"name":"a","gpus":["t4"],"maxGPUs":4,"budgets":[{"nodes":"0","schedule":"0 9 * * 1-5"}]}]`}, []string{`gpuPools[a].budgets[0]`, "schedule and duration go together"}},
		{"bottlerocket date version", map[string]string{"clusterName": "ml", "nodeClasses": `[{"name":"gpu","ami":"bottlerocket@v20251120"}]`}, []string{`nodeClasses[gpu].ami: "bottlerocket@v20251120": want a release such as bottlerocket@v1.50.0`}},
		{"sharing on bottlerocket", map[string]string{"clusterName": "ml", "nodeClasses": `[{"name":"al"},{"name":"br","ami":"bottlerocket@v1.50.0"}]`,
			"gpuPools": `[{"name":"a","gpus":["t4"],"maxGPUs":4,"nodeClass":"br","sharing":{"replicas":4}}]`}, []string{`gpuPools[a].sharing.replicas: 4: time-slicing is configured through the NVIDIA device plugin DaemonSet, which nodes of nodeClasses[br] (ami bottlerocket@v1.50.0) do not run`}},
		{"unknown feature gate", map[string]string{"clusterName": "ml", "karpenter": `{"featureGates":{"nodeRepairs":true},"awsFeatureGates":{"reboot":true}}`}, []string{
			`karpenter.featureGates.nodeRepairs: true: unknown feature gate; the pinned Karpenter chart has capacityBuffer, nodeOverlay, nodeRepair`,
			`karpenter.awsFeatureGates.reboot: true: unknown feature gate`}},
		{"gates through values", map[string]string{"clusterName": "ml", "karpenter": `{"values":{"settings":{"featureGates":{"nodeRepair":true}}}}`}, []string{
			`karpenter.values.settings.featureGates: {"nodeRepair":true}: set feature gates in karpenter.featureGates only`}},
		{"sharing without its gate", map[string]string{"clusterName": "ml", "karpenter": `{"featureGates":{"nodeOverlay":false}}`, "gpuPools": `[{"name":"a","gpus":["t4"],"maxGPUs":4,"sharing":{"replicas":2}}]`}, []string{
			`gpuPools[a].sharing.replicas: 2: sharing needs karpenter.featureGates.nodeOverlay`}},
		{"reserved without reservations", map[string]string{"clusterName": "ml", "gpuPools": `[{"name":"a","gpus":["h100"],"maxGPUs":8,"capacityTypes":["reserved","on-demand"]}]`}, []string{
			`gpuPools[a].capacityTypes: ["reserved","on-demand"]: reserved capacity needs reservations to launch into: set nodeClasses[gpu].capacityReservations`}},
		{"reservation forms", map[string]string{"clusterName": "ml", "nodeClasses": `[{"name":"gpu","capacityReservations":[{"id":"cr-0123456789abcdef0","ownerId":"123456789012"},{},{"instanceMatchCriteria":"sometimes"},{"id":"res-1"},{"tags":{"team":"ml"},"ownerId":"me"}]}]`}, []string{
			`nodeClasses[gpu].capacityReservations[0]: {"id":"cr-0123456789abcdef0","ownerId":"123456789012"}: id selects one reservation and goes alone`, "id selects one reservation and goes alone",
			`nodeClasses[gpu].capacityReservations[1]: {}: want one of {id}, {tags, ownerId}, {instanceMatchCriteria: open|targeted}`,
			`nodeClasses[gpu].capacityReservations[2].instanceMatchCriteria: "sometimes": want one of open, targeted`,
			`nodeClasses[gpu].capacityReservations[3].id: "res-1": want a capacity reservation ID`,
			`nodeClasses[gpu].capacityReservations[4].ownerId: "me": want the 12-digit account ID`}},
		{"efa needs one zone", map[string]string{"clusterName": "ml", "nodeClasses": `[{"name":"p5","efa":{"networkCards":32}}]`}, []string{
			`nodeClasses[p5].subnetIds is missing: an EFA class needs the subnets of one availability zone`}},
		{"efa cards", map[string]string{"clusterName": "ml", "nodeClasses": `[{"name":"p5","efa":{"networkCards":65},"subnetIds":["subnet-0aa11bb22cc33dd44"]}]`}, []string{
			`nodeClasses[p5].efa.networkCards: 65: want a whole number from 1 to 64`}},
		{"placement group", map[string]string{"clusterName": "ml", "nodeClasses": `[{"name":"p5","placementGroup":{"name":"train","id":"pg-0123"}},{"name":"p4","placementGroup":{"id":"train"}}]`}, []string{
			`nodeClasses[p5].placementGroup: {"id":"pg-0123","name":"train"}: set name or id, not both`,
			`nodeClasses[p4].placementGroup.id: "train": want a placement group ID`}},
		{"minValues beyond the list", map[string]string{"clusterName": "ml", "gpuPools": `[{"name":"a","instanceTypes":["g5.xlarge","g6.xlarge"],"maxGPUs":4,"minValues":{"instanceTypes":3,"instanceFamilies":60}}]`}, []string{
			`gpuPools[a].minValues.instanceTypes: 3: the pool lists only 2 instanceTypes: Karpenter could never launch`,
			`gpuPools[a].minValues.instanceFamilies: 60: want a whole number from 1 to 50`}},
		{"discovery mode", map[string]string{"clusterName": "ml", "discovery": `{"mode":"guess"}`}, []string{`discovery.mode: "guess": want one of tags, ids`}},
		{"ids mode on a created cluster", map[string]string{"clusterName": "ml", "discovery": `{"mode":"ids"}`,
			"cluster": `{"create":true,"vpcId":"vpc-0123456789abcdef0","subnetIds":["subnet-0123456789abcdef0","subnet-0fedcba9876543210"]}`}, []string{
			`discovery.securityGroupIds is missing: discovery.mode ids selects security groups by ID`}},
		{"pools-only needs the existing node role", map[string]string{"clusterName": "ml", "karpenter": `{"install":false,"featureGates":{"nodeRepair":true}}`}, []string{
			`nodeRole.name is missing: with karpenter.install false, name the node role of the existing Karpenter`,
			`karpenter.featureGates: {"nodeRepair":true}: with karpenter.install false the controller is the existing one`}},
		{"pools-only with controller settings", map[string]string{"clusterName": "ml", "karpenter": `{"install":false,"replicas":3,"logLevel":"debug"}`, "nodeRole": `{"name":"KarpenterNodeRole-ml"}`}, []string{
			`karpenter.logLevel: "debug": with karpenter.install false the controller is the existing one, whose settings are not this stack's; remove the key`,
			`karpenter.replicas: 3: with karpenter.install false`}},
		{"pools-only on a created cluster", map[string]string{"clusterName": "ml", "karpenter": `{"install":false}`, "nodeRole": `{"name":"KarpenterNodeRole-ml"}`,
			"cluster": `{"create":true,"vpcId":"vpc-0123456789abcdef0","subnetIds":["subnet-0123456789abcdef0","subnet-0fedcba9876543210"]}`}, []string{
			`karpenter.install: false: a cluster this stack creates runs no Karpenter yet`}},
		{"existing role is not ours to change", map[string]string{"clusterName": "ml", "nodeRole": `{"name":"KarpenterNodeRole-ml","extraPolicyArns":["arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy"]}`}, []string{
			`an existing role (nodeRole.name) is not the stack's to change`}},
		{"SOCI needs a recent AL2023 and a fast volume", map[string]string{"clusterName": "ml", "nodeClasses": `[{"name":"gpu","ami":"al2023@v20250715","soci":true}]`}, []string{
			`nodeClasses[gpu].soci: true: al2023@v20250715 predates SOCI in the AL2023 AMI; pin v20250829 or later`,
			`nodeClasses[gpu].soci: true: parallel pull is slower than the default below 600 MiB/s of volume throughput; set nodeClasses[gpu].rootVolume.throughputMiBps to 600 or more (it is 250), or keep images on the instance store with instanceStorePolicy RAID0`}},
		{"snapshots need Bottlerocket", map[string]string{"clusterName": "ml", "nodeClasses": `[{"name":"gpu","dataVolumeSnapshot":{"snapshotId":"snap-0123456789abcdef0"}}]`}, []string{
			`nodeClasses[gpu].dataVolumeSnapshot: {"snapshotId":"snap-0123456789abcdef0","initializationRateMiBps":0}: only Bottlerocket keeps images on a separate data volume`}},
		{"snapshot rate", map[string]string{"clusterName": "ml", "nodeClasses": `[{"name":"br","ami":"bottlerocket@v1.50.0","dataVolumeSnapshot":{"snapshotId":"snap-1","initializationRateMiBps":500}}]`}, []string{
			`nodeClasses[br].dataVolumeSnapshot.snapshotId: "snap-1": want an EBS snapshot ID`,
			`nodeClasses[br].dataVolumeSnapshot.initializationRateMiBps: 500: want a whole number from 100 to 300`}},
		{"headroom beyond the limit", map[string]string{"clusterName": "ml", "gpuPools": `[{"name":"a","gpus":["t4"],"maxGPUs":2,"headroom":3}]`}, []string{
			`gpuPools[a].headroom: 3: above maxGPUs (2)`}},
		{"chart repository", map[string]string{"clusterName": "ml", "karpenter": `{"chartRepository":"public.ecr.aws/karpenter"}`, "devicePlugin": `{"chartRepository":"ftp://charts"}`}, []string{
			`karpenter.chartRepository: "public.ecr.aws/karpenter": want an OCI registry path (oci://public.ecr.aws/karpenter), an HTTP chart repository (https://…) or a local folder`,
			`devicePlugin.chartRepository: "ftp://charts"`}},
		{"EFA chart", map[string]string{"clusterName": "ml", "efaDevicePlugin": `{"chartRepository":"ftp://charts","version":"0.5.30"}`}, []string{
			`efaDevicePlugin.chartRepository: "ftp://charts"`,
			`efaDevicePlugin.version: "0.5.30": want a chart version such as v0.5.30`}},
		{"greenfield without vpc", map[string]string{"clusterName": "ml", "cluster": `{"create":true}`}, []string{`cluster.vpcId is missing`, `cluster.subnetIds: null: cluster.create needs at least two private subnets`}},
		{"network without create", map[string]string{"clusterName": "ml", "cluster": `{"vpcId":"vpc-0123456789abcdef0"}`}, []string{`only used with cluster.create: true`}},
		{"destroy timeout too short", map[string]string{"clusterName": "ml", "destroyTimeout": "5s"}, []string{`destroyTimeout: "5s": want a duration from 1m to 168h, such as 30m`}},
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

func TestPoolsPickTheirNodeClassAndSharing(t *testing.T) {
	cfg, err := parse(map[string]string{
		"clusterName": "ml",
		"nodeClasses": `[{"name":"serving"},{"name":"training","ami":"bottlerocket@v1.50.0","rootVolume":{"sizeGiB":500}}]`,
		"gpuPools": `[{"name":"inference","gpus":["l4"],"maxGPUs":8,"sharing":{"replicas":4}},` +
			`{"name":"train","gpus":["h100"],"maxGPUs":16,"nodeClass":"training","budgets":[{"nodes":"1","reasons":["Unhealthy"]}]}]`,
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := []string{cfg.GPUPools[0].NodeClass, cfg.GPUPools[1].NodeClass}; !reflect.DeepEqual(got, []string{"serving", "training"}) {
		t.Errorf("node classes = %v, want the first by default", got)
	}
	training, _ := cfg.NodeClass("training")
	if training.RootVolume.SizeGiB != 500 || training.RootVolume.IOPS != 3000 || training.Family() != "bottlerocket" {
		t.Errorf("training class = %+v, want its keys over the defaults", training)
	}
	if cfg.GPUPools[0].Sharing.Replicas != 4 || cfg.GPUPools[1].Sharing.Replicas != 0 {
		t.Errorf("sharing = %+v / %+v", cfg.GPUPools[0].Sharing, cfg.GPUPools[1].Sharing)
	}
}

func TestGPUMemoryCountsMiB(t *testing.T) {
	cases := []struct {
		pool GPUPool
		ok   bool
	}{
		{GPUPool{GPUs: []string{"l40s"}, MinGPUMemoryGiB: 44}, true},
		{GPUPool{GPUs: []string{"l40s"}, MinGPUMemoryGiB: 45}, false}, // 45776 MiB is 44.7 GiB
		{GPUPool{GPUs: []string{"a10g", "l4"}, MinGPUMemoryGiB: 23}, false},
		{GPUPool{MinGPUMemoryGiB: 80}, true},
		{GPUPool{MinGPUMemoryGiB: 300}, false},
	}
	for _, tc := range cases {
		if most, _ := tc.pool.mostGPUMemory(); (most >= tc.pool.MinGPUMemoryMiB()) != tc.ok {
			t.Errorf("%v with %d GiB: the most is %d MiB, want available %v", tc.pool.GPUs, tc.pool.MinGPUMemoryGiB, most, tc.ok)
		}
	}
	if got := (GPUPool{MinGPUMemoryGiB: 48}).MinGPUMemoryMiB(); got != 49152 {
		t.Errorf("48 GiB = %d MiB", got)
	}
}

func TestSOCIVolumeThroughput(t *testing.T) {
	cases := []struct {
		name, class string
		ok          bool
	}{
		{"AL2023 at 600 MiB/s", `{"name":"gpu","soci":true,"rootVolume":{"throughputMiBps":600}}`, true},
		{"AL2023 at the default", `{"name":"gpu","soci":true}`, false},
		{"AL2023 on the instance store", `{"name":"gpu","soci":true,"instanceStorePolicy":"RAID0"}`, true},
		{"Bottlerocket at the default", `{"name":"gpu","ami":"bottlerocket@v1.50.0","soci":true}`, false},
		{"Bottlerocket at 600 MiB/s", `{"name":"gpu","ami":"bottlerocket@v1.50.0","soci":true,"rootVolume":{"throughputMiBps":600}}`, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(map[string]string{"clusterName": "ml", "nodeClasses": "[" + tc.class + "]"})
			if (err == nil) != tc.ok {
				t.Errorf("accepted = %v, want %v (%v)", err == nil, tc.ok, err)
			}
		})
	}
}

// A file with many mistakes gets them all in one run, each once, with a
// suggestion where a known value is close; what follows from a value that
// could not be read (a pool without GPUs once gpus is unreadable) is not
// reported again.
func TestEveryMistakeInOneRun(t *testing.T) {
	values := map[string]string{
		Namespace + ":clusterName": "ml",
		Namespace + ":karpenter":   `{"replica":3,"logLevel":"debug"}`,
		Namespace + ":gpuPools": `[{"name":"a","gpus":"L4","maxGPUs":4},` +
			`{"name":"b","gpus":["L40","H100"],"maxGPUs":0,"taints":[{"key":"team","value":"x"}]},` +
			`{"name":"c","instanceFamilies":["g6","g7x"],"instanceTypes":["g5.xlarg"],"maxGPUs":2}]`,
		"karpenter:replicas": "3",
		"aws:region":         "us-west-2",
		"datadog:apiKey":     "not ours",
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	_, err := Parse(func(key string) (string, bool) { v, ok := values[key]; return v, ok }, keys)
	var cerr *Error
	if !errors.As(err, &cerr) {
		t.Fatalf("error %v, want *config.Error", err)
	}
	want := []string{
		`karpenter:replicas: "3": namespace karpenter is not read by this stack, whose keys are in namespace karpenter-gpu; did you mean karpenter-gpu:karpenter.replicas?`,
		`karpenter-gpu:karpenter.replica: 3: is not a known key of karpenter; did you mean replicas?`,
		`karpenter-gpu:gpuPools[a].gpus: "L4": want a list`,
		`karpenter-gpu:gpuPools[b].taints[0].effect is missing`,
		`karpenter-gpu:gpuPools[b].gpus: "l40": unknown GPU; did you mean l40s?`,
		`karpenter-gpu:gpuPools[b].maxGPUs: 0: want the most GPUs this pool may run at once`,
		`karpenter-gpu:gpuPools[c].instanceFamilies: "g7x": no GPU instance family of that name; did you mean g7?`,
		`karpenter-gpu:gpuPools[c].instanceTypes: "g5.xlarg": no GPU instance type of that name; did you mean g5.xlarge?`,
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("missing %q in:\n%s", w, err)
		}
	}
	if len(cerr.Problems) != len(want) {
		t.Errorf("%d problems, want %d:\n%s", len(cerr.Problems), len(want), err)
	}
	if header := fmt.Sprintf("invalid stack configuration, %d problems:\n", len(want)); !strings.HasPrefix(err.Error(), header) {
		t.Errorf("the first line does not count the problems (%q):\n%s", header, err)
	}
}

// A dotted key written as one key of the stack file is not a path to
// Pulumi: the error shows it nested.
func TestDottedKeyIsShownNested(t *testing.T) {
	values := map[string]string{Namespace + ":clusterName": "ml", Namespace + ":karpenter.featureGates.spotToSpotConsolidation": "true"}
	_, err := Parse(func(key string) (string, bool) { v, ok := values[key]; return v, ok }, slices.Collect(maps.Keys(values)))
	want := "nest it as karpenter-gpu:karpenter: {featureGates: {spotToSpotConsolidation: true}} in the stack file, or run pulumi config set --path 'karpenter-gpu:karpenter.featureGates.spotToSpotConsolidation' true"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v\nwant %q", err, want)
	}
}

// A suggestion is the closest name, and of names as close the one that
// extends what was typed by a letter: another digit names another model,
// at another price.
func TestSuggestPrefersWhatExtendsTheWord(t *testing.T) {
	gpus := catalog.GPUNames()
	for _, c := range []struct {
		word       string
		candidates []string
		want       string
	}{
		{"a10", gpus, "a10g"},
		{"L40", gpus, "l40s"},
		{"h10", gpus, "h100"},
		{"t44", gpus, "t4"},
		{"replica", []string{"replicas", "logLevel"}, "replicas"},
		{"gpu", []string{"gpus", "name", "maxGPUs"}, "gpus"},
		{"xyz", gpus, ""},
	} {
		got := suggest(c.word, c.candidates)
		want := ""
		if c.want != "" {
			want = "; did you mean " + c.want + "?"
		}
		if got != want {
			t.Errorf("suggest(%q) = %q, want %q", c.word, got, want)
		}
	}
}

// Every key of karpenter is either a controller setting, refused in
// pools-only mode, or one pools-only mode uses (install, namespace): a new
// key must say which it is.
func TestControllerKeysAreTheKarpenterKeysPoolsOnlyCannotUse(t *testing.T) {
	var keys []string
	for _, name := range fieldNames(reflect.TypeOf(Karpenter{})) {
		if name != "install" && name != "namespace" {
			keys = append(keys, "karpenter."+name)
		}
	}
	if !reflect.DeepEqual(keys, ControllerKeys) {
		t.Errorf("karpenter's controller keys are %v, ControllerKeys %v", keys, ControllerKeys)
	}
}

// A pool that protects jobs gets a grace period that outlasts its longest
// job plus the pod's own grace period, unless it sets one, which must.
func TestJobProtection(t *testing.T) {
	pool := func(extra string) map[string]string {
		return map[string]string{"clusterName": "ml", "gpuPools": `[{"name":"train","gpus":["h100"],"gpuCount":{"min":8,"max":8},"maxGPUs":8` + extra + `}]`}
	}
	cases := []struct {
		name, extra string
		tgp         string // the pool's terminationGracePeriod once accepted
		refused     []string
	}{
		{name: "derived", extra: `,"jobProtection":{"longestJob":"72h"}`, tgp: "72h30s"},
		{name: "derived with the pod's grace", extra: `,"jobProtection":{"longestJob":"1h30m","podGracePeriod":"10m"}`, tgp: "1h40m"},
		{name: "a long enough grace period is kept", extra: `,"jobProtection":{"longestJob":"72h"},"terminationGracePeriod":"96h"`, tgp: "96h"},
		{name: "no protection keeps the default", tgp: "24h"},
		{name: "grace period too short", extra: `,"jobProtection":{"longestJob":"72h"},"terminationGracePeriod":"48h"`, refused: []string{
			`gpuPools[train].terminationGracePeriod: "48h": jobProtection needs at least longestJob + podGracePeriod (72h30s)`}},
		// Its drain waits the grace period too: no breach of the promise.
		{name: "expiry under a job", extra: `,"jobProtection":{"longestJob":"72h"},"expireAfter":"48h"`, tgp: "72h30s"},
		{name: "grace without a job", extra: `,"jobProtection":{"podGracePeriod":"5m"}`, refused: []string{
			`gpuPools[train].jobProtection.longestJob is missing`}},
		{name: "not a duration", extra: `,"jobProtection":{"longestJob":"3 days"}`, refused: []string{
			`gpuPools[train].jobProtection.longestJob: "3 days": want a duration such as 72h`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := parse(pool(tc.extra))
			if len(tc.refused) > 0 {
				for _, w := range tc.refused {
					if err == nil || !strings.Contains(err.Error(), w) {
						t.Errorf("error %v, want %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.GPUPools[0].TerminationGracePeriod; got != tc.tgp {
				t.Errorf("terminationGracePeriod %q, want %q", got, tc.tgp)
			}
		})
	}
}

// The keys a misspelling is found among: the engine's configuration when
// it hands one over, else the stack's settings file (an inline program's
// workspace), else none.
func TestConfigKeysOfEveryKindOfRun(t *testing.T) {
	dir := t.TempDir()
	settings := "config:\n  karpenter-gpu:clusterName: ml\n  karpenter-gpu:gpuPool: []\n  aws:region: us-west-2\n"
	if err := os.WriteFile(filepath.Join(dir, "Pulumi.dev.yaml"), []byte(settings), 0o600); err != nil {
		t.Fatal(err)
	}
	sorted := func(keys []string, err error) []string {
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(keys)
		return keys
	}
	if got := sorted(configKeys(`{"karpenter-gpu:clusterName":"ml"}`, dir, "dev")); !reflect.DeepEqual(got, []string{"karpenter-gpu:clusterName"}) {
		t.Errorf("with the engine's configuration: %v", got)
	}
	fromFile := sorted(configKeys("", dir, "dev"))
	if want := []string{"aws:region", "karpenter-gpu:clusterName", "karpenter-gpu:gpuPool"}; !reflect.DeepEqual(fromFile, want) {
		t.Errorf("from the settings file: %v, want %v", fromFile, want)
	}
	if got := sorted(configKeys("", dir, "prod")); len(got) != 0 {
		t.Errorf("without a settings file: %v", got)
	}
	_, err := Parse(func(key string) (string, bool) {
		v, ok := map[string]string{"karpenter-gpu:clusterName": "ml", "karpenter-gpu:gpuPool": "[]"}[key]
		return v, ok
	}, fromFile)
	if err == nil || !strings.Contains(err.Error(), "karpenter-gpu:gpuPool: \"gpuPool\": is not a known key; did you mean gpuPools?") {
		t.Errorf("err = %v", err)
	}
}

// GPU names are taken in any case and kept as Karpenter's label spells
// them.
func TestGPUNamesInAnyCase(t *testing.T) {
	values := map[string]string{Namespace + ":clusterName": "ml", Namespace + ":gpuPools": `[{"name":"a","gpus":["H100","L40S"],"maxGPUs":8}]`}
	cfg, err := Parse(func(key string) (string, bool) { v, ok := values[key]; return v, ok }, slices.Collect(maps.Keys(values)))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.GPUPools[0].GPUs; !slices.Equal(got, []string{"h100", "l40s"}) {
		t.Errorf("gpus %v, want [h100 l40s]", got)
	}
}
