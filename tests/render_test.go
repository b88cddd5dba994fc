package tests

import (
	"bytes"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"karpenter-gpu/internal/render"
	"karpenter-gpu/versions"
)

var update = flag.Bool("update", false, "rewrite the committed render of the dev stack")

const (
	devConfig = "../Pulumi.dev.yaml"
	golden    = "../rendered"
)

func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The committed render is what reviewers read in a pull request: it must be
// what the code renders now.
func TestCommittedRenderIsCurrent(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	out := t.TempDir() + "/rendered"
	if code := render.Main([]string{"-config", devConfig, "-out", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	got := readTree(t, out)
	if *update {
		if err := render.Write(golden, got); err != nil {
			t.Fatal(err)
		}
		return
	}
	want := readTree(t, golden)
	for name, b := range got {
		if !bytes.Equal(b, want[name]) {
			t.Errorf("%s differs from the committed render; run `go test ./tests -run TestCommittedRenderIsCurrent -update` and review the diff", name)
		}
	}
	for name := range want {
		if _, ok := got[name]; !ok {
			t.Errorf("%s is committed but no longer rendered", name)
		}
	}
}

// The program registers resources concurrently; the render must not show it.
// Twenty runs catch a dependency that depends on goroutine timing.
func TestRenderIsByteIdentical(t *testing.T) {
	t.Parallel()
	first, err := render.Render(render.Options{ConfigFile: devConfig, Stack: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	for run := 2; run <= 20; run++ {
		again, err := render.Render(render.Options{ConfigFile: devConfig, Stack: "dev"})
		if err != nil {
			t.Fatal(err)
		}
		if len(first) != len(again) {
			t.Fatalf("run %d: %d files, first run %d", run, len(again), len(first))
		}
		for name, b := range first {
			if !bytes.Equal(b, again[name]) {
				t.Fatalf("run %d: %s differs from the first run", run, name)
			}
		}
	}
	for _, want := range []string{"plan.md", "helm/karpenter.yaml", "helm/karpenter-crd.yaml", "helm/nvidia-device-plugin.yaml",
		"kubernetes/ec2nodeclass-gpu.yaml", "kubernetes/nodepool-inference.yaml", "charts/karpenter.yaml", "outputs.json", "iam/karpenter-controller-trust.json",
		"iam/karpenter-controller-node-lifecycle.json", "sqs/karpenter-interruption-policy.json", "events/karpenter-interruption-health.json"} {
		if _, ok := first[want]; !ok {
			t.Errorf("render lacks %s", want)
		}
	}
}

func TestBrokenConfigWritesNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "Pulumi.broken.yaml")
	if err := os.WriteFile(cfg, []byte("config:\n  aws:region: us-west-2\n  karpenter-gpu:clusterName: ml\n  karpenter-gpu:nodeAccess: maybe\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "keep.txt"), []byte("previous render"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := render.Main([]string{"-config", cfg, "-out", out}, &stdout, &stderr); code == 0 {
		t.Fatal("broken config rendered")
	}
	if !strings.Contains(stderr.String(), `karpenter-gpu:nodeAccess: "maybe"`) {
		t.Errorf("message does not name the key: %s", stderr.String())
	}
	tree := readTree(t, out)
	if len(tree) != 1 || string(tree["keep.txt"]) != "previous render" {
		t.Errorf("-out was touched: %v", tree)
	}
}

// -out replaces a previous render, and refuses, untouched, a folder that
// holds anything else: the user's own files, or a file added to a render.
func TestRenderReplacesOnlyItsOwnFolder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	render := func(out string) (int, string) {
		var stdout, stderr bytes.Buffer
		code := render.Main([]string{"-config", devConfig, "-out", out}, &stdout, &stderr)
		return code, stderr.String()
	}
	out := filepath.Join(dir, "review")
	for i := 0; i < 2; i++ {
		if code, msg := render(out); code != 0 {
			t.Fatalf("render %d into %s: %s", i+1, out, msg)
		}
	}
	for name, files := range map[string]map[string]string{
		"user folder":      {"IMPORTANT.txt": "mine", "sub/notes.md": "mine too"},
		"render plus file": {"kubernetes/mine.yaml": "added by hand"},
	} {
		t.Run(name, func(t *testing.T) {
			target := filepath.Join(dir, strings.ReplaceAll(name, " ", "-"))
			if name == "render plus file" {
				if code, msg := render(target); code != 0 {
					t.Fatal(msg)
				}
			}
			for f, content := range files {
				p := filepath.Join(target, filepath.FromSlash(f))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			before := readTree(t, target)
			code, msg := render(target)
			if code == 0 || !strings.Contains(msg, "render did not write") || !strings.Contains(msg, target) {
				t.Errorf("exit %d, message %q", code, msg)
			}
			if after := readTree(t, target); len(after) != len(before) {
				t.Errorf("the folder changed: %d files before, %d after", len(before), len(after))
			}
		})
	}
}

func TestRenderAgainstDescribeClusterOutput(t *testing.T) {
	t.Parallel()
	describe := describeCluster(t, "1.34")
	files, err := render.Render(render.Options{ConfigFile: devStackIn(t, "eu-central-1"), ClusterFile: describe, Stack: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	trust := string(files["iam/karpenter-controller-trust.json"])
	if !strings.Contains(trust, "arn:aws:iam::210987654321:oidc-provider/oidc.eks.eu-central-1.amazonaws.com/id/ABCDEF") {
		t.Errorf("trust does not use the described cluster's issuer:\n%s", trust)
	}
	plan := string(files["plan.md"])
	if !strings.Contains(plan, "eu-central-1, account 210987654321, authentication API") {
		t.Errorf("plan.md does not describe the described cluster")
	}
	if !strings.Contains(plan, "the account's are not known offline: its EC2 quotas were not checked, instance types were taken as offered in every zone and as the catalogue describes their GPUs, placement groups and reservations named by ID as existing in the class's zones, and IAM roles as absent. `pulumi preview` checks them. Its subnets were all taken as private, since describe-cluster does not say which are public: unless `discovery.subnetIds` names the ones GPU nodes use, each gets the discovery tag, public ones too; subnets the configuration names beyond the file's were taken as in its VPC, zone unknown. The cluster's EKS add-ons are not known (pass `-addons` to render with them).") {
		t.Errorf("plan.md does not say which account checks did not run:\n%s", plan)
	}
	// Pod Identity's agent is an add-on: not known, so not checked, rather
	// than missing.
	podIdentity := filepath.Join(t.TempDir(), "Pulumi.dev.yaml")
	if err := os.WriteFile(podIdentity, []byte("config:\n  aws:region: eu-central-1\n  karpenter-gpu:clusterName: ml-dev\n  karpenter-gpu:karpenter:\n    identity: podIdentity\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	files, err = render.Render(render.Options{ConfigFile: podIdentity, ClusterFile: describe, Stack: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	plan = string(files["plan.md"])
	if !strings.Contains(plan, "whether cluster ml-dev runs the eks-pod-identity-agent add-on was not checked (") || !strings.Contains(plan, "not known offline: the cluster file does not list the cluster's add-ons") || strings.Contains(plan, "has no eks-pod-identity-agent add-on") {
		t.Errorf("plan.md does not say the Pod Identity agent was not checked:\n%s", plan)
	}
	withAddons, err := render.Render(render.Options{ConfigFile: podIdentity, ClusterFile: describe, Stack: "dev", Addons: []string{"eks-pod-identity-agent", "vpc-cni"}})
	if err != nil {
		t.Fatal(err)
	}
	plan = string(withAddons["plan.md"])
	if strings.Contains(plan, "eks-pod-identity-agent add-on") || !strings.Contains(plan, "The cluster's EKS add-ons are those given: eks-pod-identity-agent, vpc-cni.") {
		t.Errorf("with the cluster's add-ons given, plan.md still warns of the agent or does not name them:\n%s", plan)
	}
	// The account's facts are not the example's, and not known offline.
	if strings.Contains(plan, "NoSuchResourceException") || strings.Contains(plan, "built-in example account") {
		t.Errorf("plan.md reads offline gaps as facts of the account:\n%s", plan)
	}
	if !strings.Contains(plan, "could not read the EC2 quota") || !strings.Contains(plan, "not known offline") {
		t.Errorf("plan.md does not say the quotas are unknown offline:\n%s", plan)
	}
}

// The controller chart of the pinned module, rendered with the release's
// values, is what a reviewer reads when the values change.
func TestRenderShowsTheControllerDeployment(t *testing.T) {
	t.Parallel()
	files, err := render.Render(render.Options{ConfigFile: devConfig, Stack: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	manifests := string(files["charts/karpenter.yaml"])
	for _, want := range []string{"kind: Deployment", "name: CLUSTER_NAME\n          value: ml-dev", "NodeOverlay=true", "replicas: 1", "kind: PodDisruptionBudget\nmetadata:"} {
		if !strings.Contains(manifests, want) {
			t.Errorf("charts/karpenter.yaml lacks %q", want)
		}
	}
}

// devStackIn is the dev stack file with aws:region set to region.
func devStackIn(t *testing.T, region string) string {
	t.Helper()
	raw, err := os.ReadFile(devConfig)
	if err != nil {
		t.Fatal(err)
	}
	content := strings.Replace(string(raw), "aws:region: us-west-2", "aws:region: "+region, 1)
	if content == string(raw) {
		t.Fatal("the dev stack file no longer sets aws:region: us-west-2")
	}
	file := filepath.Join(t.TempDir(), "Pulumi.dev.yaml")
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// The render refuses what pulumi up would not do, and says what to change:
// a stack file without a region, a region other than the cluster file's,
// a cluster file without the facts the stack reads, a stack name without
// its file where an example exists.
func TestRenderRefusesWhatUpWouldNot(t *testing.T) {
	t.Parallel()
	noRegion := filepath.Join(t.TempDir(), "Pulumi.noregion.yaml")
	if err := os.WriteFile(noRegion, []byte("config:\n  karpenter-gpu:clusterName: ml-dev\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	noVersion := filepath.Join(t.TempDir(), "cluster.json")
	if err := os.WriteFile(noVersion, []byte(`{"cluster": {"name": "ml-dev", "arn": "arn:aws:eks:eu-central-1:210987654321:cluster/ml-dev",
  "endpoint": "https://ABCDEF.yl4.eu-central-1.eks.amazonaws.com", "resourcesVpcConfig": {"vpcId": "vpc-0123456789abcdef0"}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		opts render.Options
		want string
	}{
		{"no region", render.Options{ConfigFile: noRegion, Stack: "noregion"},
			"Pulumi.noregion.yaml sets no aws:region: pulumi up would look for cluster ml-dev in the region of AWS_REGION or the AWS profile"},
		{"another region", render.Options{ConfigFile: devConfig, ClusterFile: describeCluster(t, "1.35"), Stack: "dev"},
			"is in eu-central-1 (its ARN): pulumi up would look for cluster ml-dev in us-west-2"},
		{"cluster file without version", render.Options{ConfigFile: devStackIn(t, "eu-central-1"), ClusterFile: noVersion, Stack: "dev"},
			`the cluster file lacks cluster.version (its Kubernetes minor version, "1.35"), cluster.resourcesVpcConfig.subnetIds: save it with ` + "`aws eks describe-cluster"},
		{"prod without its file", render.Options{ConfigFile: "../Pulumi.prod.yaml", Stack: "prod"},
			"render the example with -config ../Pulumi.prod.yaml.example, or copy it to ../Pulumi.prod.yaml"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := render.Render(c.opts)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v\nwant it to say %q", err, c.want)
			}
		})
	}
}

// The template cluster file renders with a stack file of its region.
func TestClusterFileTemplateRenders(t *testing.T) {
	t.Parallel()
	files, err := render.Render(render.Options{ConfigFile: devStackIn(t, "eu-central-1"), ClusterFile: "../examples/cluster.json", Stack: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	if plan := string(files["plan.md"]); !strings.Contains(plan, "against cluster `ml-dev` (Kubernetes 1.35, eu-central-1, account 210987654321, authentication API_AND_CONFIG_MAP)") {
		t.Errorf("plan.md does not describe the template's cluster:\n%.600s", plan)
	}
}

func describeCluster(t *testing.T, version string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "cluster.json")
	if err := os.WriteFile(file, []byte(`{"cluster": {
  "name": "ml-dev", "arn": "arn:aws:eks:eu-central-1:210987654321:cluster/ml-dev",
  "endpoint": "https://ABCDEF.yl4.eu-central-1.eks.amazonaws.com", "version": "`+version+`",
  "certificateAuthority": {"data": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg=="},
  "identity": {"oidc": {"issuer": "https://oidc.eks.eu-central-1.amazonaws.com/id/ABCDEF"}},
  "resourcesVpcConfig": {"subnetIds": ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"], "clusterSecurityGroupId": "sg-0123456789abcdef0", "vpcId": "vpc-0123456789abcdef0"},
  "accessConfig": {"authenticationMode": "API"}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// Offline, the AMI check answers from the fake cloud's dated release table:
// a pin published before the cluster's Kubernetes version is refused.
func TestRenderRefusesAnAMIOlderThanTheCluster(t *testing.T) {
	t.Parallel()
	cfg := filepath.Join(t.TempDir(), "Pulumi.old.yaml")
	if err := os.WriteFile(cfg, []byte("config:\n  aws:region: eu-central-1\n  karpenter-gpu:clusterName: ml-dev\n  karpenter-gpu:nodeClasses:\n    - name: gpu\n      ami: al2023@v20251120\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := render.Render(render.Options{ConfigFile: cfg, ClusterFile: describeCluster(t, "1.36"), Stack: "old"})
	if err == nil || !strings.Contains(err.Error(), `karpenter-gpu:nodeClasses[gpu].ami: "al2023@v20251120": no NVIDIA al2023 AMI of this release exists for Kubernetes 1.36`) ||
		!strings.Contains(err.Error(), "al2023@v20260610") {
		t.Fatalf("err = %v", err)
	}
	if _, err := render.Render(render.Options{ConfigFile: cfg, ClusterFile: describeCluster(t, "1.34"), Stack: "old"}); err != nil {
		t.Fatalf("the same pin on a 1.34 cluster: %v", err)
	}
}

// BenchmarkStackEvaluation measures one full evaluation of the dev stack
// under the engine's mocks, render files included.
func BenchmarkStackEvaluation(b *testing.B) {
	for b.Loop() {
		if _, err := render.Render(render.Options{ConfigFile: devConfig, Stack: "dev"}); err != nil {
			b.Fatal(err)
		}
	}
}

// The prod example shows the training recipe in what it renders.
func TestRenderProdExampleShowsTheTrainingRecipe(t *testing.T) {
	t.Parallel()
	files, err := render.Render(render.Options{ConfigFile: "../Pulumi.prod.yaml.example", Stack: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	training := string(files["kubernetes/ec2nodeclass-training.yaml"])
	for _, want := range []string{"capacityReservationSelectorTerms:", "purpose: training", "interfaceType: efa-only", "placementGroupSelector:", "- id: subnet-0aa11bb22cc33dd44", "- id: sg-"} {
		if !strings.Contains(training, want) {
			t.Errorf("training node class lacks %q", want)
		}
	}
	if _, ok := files["kubernetes/ec2nodeclass-serving.yaml"]; !ok {
		t.Error("no serving node class")
	}
	if !strings.Contains(string(files["helm/efa-device-plugin.yaml"]), "karpenter.k8s.aws/ec2nodeclass") {
		t.Error("no EFA device plugin values")
	}
	agent := string(files["addons/eks-node-monitoring-agent.json"])
	for _, want := range []string{`"addonVersion": "` + versions.NodeMonitoringAgentAddon + `"`, `"dcgmAgent": {`} {
		if !strings.Contains(agent, want) {
			t.Errorf("addons/eks-node-monitoring-agent.json lacks %s:\n%s", want, agent)
		}
	}
	plan := string(files["plan.md"])
	if !strings.Contains(plan, "Rendered against the built-in example account: its quotas, IAM roles and add-ons are the example's, not yours.") {
		t.Error("plan.md's warnings do not say whose account they describe")
	}
	if !strings.Contains(plan, "| `training` | 0 | Empty, Drifted | `0 8 * * 1-5` UTC, for 10h |") {
		t.Errorf("plan.md lacks the training pool's budget in UTC:\n%s", plan)
	}
	// Each type with its price; the pool that does not buy reserved
	// capacity is named for the account's open reservations, the other not.
	for _, want := range []string{"p5.48xlarge ($55.04)", "for the types of `inference` stay unused"} {
		if !strings.Contains(plan, want) {
			t.Errorf("plan.md lacks %q", want)
		}
	}
	for _, want := range []string{"| aws:eks/addon:Addon | `eks-node-monitoring-agent` |", "| aws:ec2/securityGroup:SecurityGroup | `efa` |",
		"| aws:iam/serviceLinkedRole:ServiceLinkedRole | `spot` (adopted: import arn:aws:iam::123456789012:role/aws-service-role/spot.amazonaws.com/AWSServiceRoleForEC2Spot) (kept on destroy) |"} {
		if !strings.Contains(plan, want) {
			t.Errorf("plan.md lacks %s", want)
		}
	}
}

// Pools-only mode renders only the pool side and says what it relies on;
// an Auto Mode cluster is refused.
func TestRenderExistingKarpenterAndAutoMode(t *testing.T) {
	t.Parallel()
	cfg := filepath.Join(t.TempDir(), "Pulumi.pools.yaml")
	if err := os.WriteFile(cfg, []byte(`config:
  aws:region: us-west-2
  karpenter-gpu:clusterName: ml-dev
  karpenter-gpu:karpenter:
    install: false
  karpenter-gpu:nodeRole:
    name: KarpenterNodeRole-ml-dev
`), 0o644); err != nil {
		t.Fatal(err)
	}
	files, err := render.Render(render.Options{ConfigFile: cfg, Stack: "pools", Karpenter: "1.15.1"})
	if err != nil {
		t.Fatal(err)
	}
	plan := string(files["plan.md"])
	for _, want := range []string{"## Relies on", "the Karpenter controller `karpenter/karpenter` (1.15.1)", "| kubernetes:karpenter.sh/v1:NodePool |"} {
		if !strings.Contains(plan, want) {
			t.Errorf("plan.md lacks %q", want)
		}
	}
	for _, absent := range []string{"helm/karpenter.yaml", "charts/karpenter.yaml", "sqs/karpenter-interruption-policy.json", "iam/karpenter-controller-trust.json"} {
		if _, ok := files[absent]; ok {
			t.Errorf("pools-only render writes %s", absent)
		}
	}
	if _, err := render.Render(render.Options{ConfigFile: devConfig, Stack: "dev", Karpenter: "1.15.1"}); err == nil || !strings.Contains(err.Error(), "already runs a Karpenter this stack did not install") {
		t.Errorf("default mode on a cluster with Karpenter: %v", err)
	}

	auto := filepath.Join(t.TempDir(), "auto.json")
	raw, _ := os.ReadFile(describeCluster(t, "1.34"))
	if err := os.WriteFile(auto, []byte(strings.Replace(string(raw), `"accessConfig"`, `"computeConfig": {"enabled": true, "nodePools": ["general-purpose"]}, "accessConfig"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := render.Render(render.Options{ConfigFile: devStackIn(t, "eu-central-1"), ClusterFile: auto, Stack: "dev"}); err == nil || !strings.Contains(err.Error(), "runs EKS Auto Mode") {
		t.Errorf("Auto Mode: %v", err)
	}
}

// A file given with -config names the stack in the plan, and the plan
// names Karpenter objects as the cluster will show them.
func TestPlanNamesTheStackAndObjectsAsTheUserKnowsThem(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../Pulumi.prod.yaml.example")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "Pulumi.team-a.yaml")
	if err := os.WriteFile(file, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := render.Main([]string{"-config", file, "-out", filepath.Join(dir, "out")}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	plan, err := os.ReadFile(filepath.Join(dir, "out", "plan.md"))
	if err != nil {
		t.Fatal(err)
	}
	title, checked, _ := strings.Cut(string(plan), "\n")
	if title != "# Plan of stack `team-a`" {
		t.Errorf("plan title %q", title)
	}
	for _, line := range strings.Split(checked, "\n") {
		if strings.Contains(line, "checked against the pinned CRD schemas") {
			if !strings.Contains(line, "NodePool/training") || strings.Contains(line, "NodePool/gpu-pool-") {
				t.Errorf("the checked objects are not named as in the cluster: %s", line)
			}
		}
	}
}

// An aws-auth-only cluster renders from its describe-cluster file: its
// aws-auth is the one the user saved, or one without entries, said so;
// the patch says which entry the stack adds.
func TestRenderAwsAuthOnlyCluster(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(describeCluster(t, "1.35"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	configMapOnly := filepath.Join(dir, "cluster.json")
	if err := os.WriteFile(configMapOnly, []byte(strings.Replace(string(raw), `"authenticationMode": "API"`, `"authenticationMode": "CONFIG_MAP"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	saved := filepath.Join(dir, "aws-auth.yaml")
	if err := os.WriteFile(saved, []byte(`apiVersion: v1
kind: ConfigMap
metadata:
  name: aws-auth
  namespace: kube-system
data:
  mapRoles: |
    - rolearn: arn:aws:iam::210987654321:role/eks-nodes
      username: system:node:{{EC2PrivateDNSName}}
      groups: [system:bootstrappers, system:nodes]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	const nodeRole = "arn:aws:iam::210987654321:role/karpenter-node-"
	for _, c := range []struct {
		name, awsAuth, note, plan string
		entries                   int
	}{
		{"without its aws-auth", "", "The cluster's own entries are not known offline: modelled as none; pass -aws-auth FILE", "aws-auth ConfigMap was modelled with no entries", 1},
		{"with its aws-auth", saved, "The other 1 entries are the cluster's own, read from " + saved, "", 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			files, err := render.Render(render.Options{ConfigFile: devStackIn(t, "eu-central-1"), ClusterFile: configMapOnly, AwsAuthFile: c.awsAuth, Stack: "dev"})
			if err != nil {
				t.Fatal(err)
			}
			patch := string(files["kubernetes/configmap-patch-aws-auth.yaml"])
			first, _, _ := strings.Cut(patch, "\n")
			if !strings.HasPrefix(first, "# Added by this stack: "+nodeRole) || !strings.Contains(first, c.note) {
				t.Errorf("the patch's note: %s\nwant %q", first, c.note)
			}
			if n := strings.Count(patch, "rolearn:"); n != c.entries {
				t.Errorf("%d entries in the patch, want %d:\n%s", n, c.entries, patch)
			}
			if plan := string(files["plan.md"]); c.plan != "" && !strings.Contains(plan, c.plan) {
				t.Errorf("plan.md does not say %q", c.plan)
			}
		})
	}
}

// Offline, a subnet or reservation the built-in example account lacks is
// refused with what that account has; against a cluster file, a subnet it
// does not list is taken as one of its VPC's, as preview would find it.
func TestRenderIDsBeyondTheClusterFile(t *testing.T) {
	t.Parallel()
	stack := func(region string) string {
		file := filepath.Join(t.TempDir(), "Pulumi.ids.yaml")
		if err := os.WriteFile(file, []byte("config:\n  aws:region: "+region+"\n  karpenter-gpu:clusterName: ml-dev\n"+
			"  karpenter-gpu:nodeClasses:\n    - name: gpu\n      subnetIds: [subnet-0999999999abcdef0]\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return file
	}
	_, err := render.Render(render.Options{ConfigFile: stack("us-west-2"), Stack: "ids"})
	if err == nil || !strings.Contains(err.Error(), "offline, the built-in example account has only subnet-") || !strings.Contains(err.Error(), "render with -cluster FILE") {
		t.Errorf("a subnet the example lacks: %v", err)
	}
	files, err := render.Render(render.Options{ConfigFile: stack("eu-central-1"), ClusterFile: "../examples/cluster.json", Stack: "ids"})
	if err != nil {
		t.Fatal(err)
	}
	if nc := string(files["kubernetes/ec2nodeclass-gpu.yaml"]); !strings.Contains(nc, "id: subnet-0999999999abcdef0") {
		t.Errorf("the class does not select its subnet:\n%s", nc)
	}
}
