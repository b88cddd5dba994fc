package tests

import (
	"strings"
	"testing"

	"karpenter-gpu/internal/fakecloud"
	"karpenter-gpu/internal/placement"
	"karpenter-gpu/wellknown"
)

// withKarpenter is the example cluster where someone else runs Karpenter,
// with the node role of that installation.
func withKarpenter(version string) fakecloud.Cluster {
	c := fakecloud.Example(clusterName)
	c.Karpenter = &fakecloud.Karpenter{Namespace: "karpenter", Version: version}
	c.Roles = map[string]string{"KarpenterNodeRole-ml-prod": "KarpenterNodeRole-ml-prod"}
	return c
}

var poolsOnly = map[string]any{
	"karpenter": map[string]any{"install": false},
	"nodeRole":  map[string]any{"name": "KarpenterNodeRole-ml-prod"},
	"gpuPools": []any{
		map[string]any{"name": "inference", "gpus": []string{"l4"}, "maxGPUs": 4},
		map[string]any{"name": "training", "gpus": []string{"h100"}, "gpuCount": map[string]int{"min": 8, "max": 8}, "maxGPUs": 16,
			"taints": []any{map[string]any{"key": "workload", "value": "training", "effect": "NoSchedule"}}},
	},
}

// A second controller would fight the first: refused before anything.
func TestExistingKarpenterIsDetected(t *testing.T) {
	t.Parallel()
	cloud, err := run(t, withKarpenter("1.14.0"), nil)
	if err == nil || !strings.Contains(err.Error(), "cluster ml-prod already runs a Karpenter this stack did not install (CRD nodepools.karpenter.sh, CRD nodeclaims.karpenter.sh, CRD ec2nodeclasses.karpenter.k8s.aws, Deployment karpenter/karpenter (Karpenter 1.14.0))") ||
		!strings.Contains(err.Error(), "karpenter-gpu:karpenter.install to false") {
		t.Fatalf("err = %v", err)
	}
	if n := len(cloud.Resources()); n != 0 {
		t.Fatalf("%d resources registered", n)
	}
	cloud, err = run(t, fakecloud.Example(clusterName), poolsOnly)
	if err == nil || !strings.Contains(err.Error(), "karpenter-gpu:karpenter.install: false: cluster ml-prod runs no Karpenter") {
		t.Fatalf("pools-only without Karpenter: err = %v", err)
	}
	if n := len(cloud.Resources()); n != 0 {
		t.Fatalf("%d resources registered", n)
	}
}

// Pools-only mode declares what GPU capacity needs and nothing of the
// controller, and its pools still get the device plugin and a consumer.
func TestPoolsOnlyMode(t *testing.T) {
	t.Parallel()
	cloud, err := run(t, withKarpenter("1.15.1"), poolsOnly)
	if err != nil {
		t.Fatal(err)
	}
	controllerSide := []string{"aws:sqs/queue:Queue", "aws:cloudwatch/eventRule:EventRule", typePolicy, typeRole,
		"aws:eks/accessEntry:AccessEntry", "aws:eks/podIdentityAssociation:PodIdentityAssociation", "aws:iam/openIdConnectProvider:OpenIdConnectProvider"}
	for _, typ := range controllerSide {
		for _, r := range byType(cloud, typ) {
			t.Errorf("pools-only mode declares %s %s", r.Type, r.Name)
		}
	}
	for _, r := range byType(cloud, typeRelease) {
		if r.Name == "karpenter" || r.Name == "karpenter-crd" {
			t.Errorf("pools-only mode installs release %s", r.Name)
		}
	}
	nodeClass := one(t, cloud, typeNodeClass, "gpu")
	if nodeClass.Inputs["spec"].(map[string]any)["role"] != "KarpenterNodeRole-ml-prod" {
		t.Errorf("role = %v", nodeClass.Inputs["spec"].(map[string]any)["role"])
	}
	values := one(t, cloud, typeRelease, "nvidia-device-plugin").Inputs["values"].(map[string]any)
	for _, np := range byType(cloud, typeNodePool) {
		if err := schemaCheck(object(np)); err != nil {
			t.Error(err)
		}
		node, err := placement.Node(object(np))
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := placement.DaemonSetRunsOn(values, node); err != nil || !ok {
			t.Errorf("no device plugin on pool %s", np.Name)
		}
	}
	if len(byType(cloud, typeTag)) == 0 {
		t.Error("no discovery tags where the subnets had none")
	}
}

func TestPoolsOnlyOutputsKeepTheirKeys(t *testing.T) {
	t.Parallel()
	c := withKarpenter("1.14.0")
	cloud := fakecloud.New(c, "karpenter-gpu", "test")
	var got map[string]any
	if err := runProgram(cloud, stackConfig(t, poolsOnly), outputsInto(&got)); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]any{
		"controllerRoleArn": "", "interruptionQueueUrl": "", "karpenterVersion": "1.14.0", "karpenterNamespace": "karpenter",
		"nodeRoleName": "KarpenterNodeRole-ml-prod", "nodeRoleArn": "arn:aws:iam::123456789012:role/KarpenterNodeRole-ml-prod",
	} {
		if got[key] != want {
			t.Errorf("output %s = %v, want %v", key, got[key], want)
		}
	}
	if _, ok := got["gpuPools"].(map[string]any)["training"]; !ok {
		t.Errorf("gpuPools = %v", got["gpuPools"])
	}
}

func TestAutoModeIsRefused(t *testing.T) {
	t.Parallel()
	auto := fakecloud.Example(clusterName)
	auto.AutoMode = true
	cloud, err := run(t, auto, nil)
	if err == nil || !strings.Contains(err.Error(), "cluster ml-prod runs EKS Auto Mode, which brings its own Karpenter") {
		t.Fatalf("err = %v", err)
	}
	if n := len(cloud.Resources()); n != 0 {
		t.Fatalf("%d resources registered", n)
	}
}

// The stack marks what it installs, so that its own install is not taken
// for someone else's on the next run.
func TestReleasesCarryTheOwnerAnnotation(t *testing.T) {
	t.Parallel()
	cloud := mustRun(t, nil)
	for _, name := range []string{"karpenter", "karpenter-crd"} {
		values := one(t, cloud, typeRelease, name).Inputs["values"].(map[string]any)
		if got := values["additionalAnnotations"].(map[string]any)[wellknown.OwnerAnnotation]; got != "karpenter-gpu/test" {
			t.Errorf("%s: owner annotation = %v", name, got)
		}
	}
}

// Pools-only mode refuses what the installed Karpenter cannot run, before
// anything: Gte/Lte requirements before 1.9, time-slicing without the
// NodeOverlay CRD or with its gate off, headroom without CapacityBuffer, an
// Unhealthy budget before 1.15.
func TestPoolsOnlyNeedsWhatTheInstalledKarpenterOffers(t *testing.T) {
	t.Parallel()
	shared := map[string]any{"name": "shared", "gpus": []string{"l4"}, "maxGPUs": 2, "sharing": map[string]any{"replicas": 4}}
	warm := map[string]any{"name": "warm", "gpus": []string{"l4"}, "maxGPUs": 2, "headroom": 1}
	repaired := map[string]any{"name": "repaired", "gpus": []string{"l4"}, "maxGPUs": 2, "budgets": []any{map[string]any{"nodes": "1", "reasons": []string{"Drifted", "Unhealthy"}}}}
	values := func(pools ...any) map[string]any {
		return map[string]any{"karpenter": poolsOnly["karpenter"], "nodeRole": poolsOnly["nodeRole"], "gpuPools": pools}
	}
	installed := func(version, gates string, crds ...string) fakecloud.Cluster {
		c := withKarpenter(version)
		c.Karpenter.OptionalCRDs, c.Karpenter.FeatureGates = crds, gates
		return c
	}
	const overlays, buffers = "nodeoverlays.karpenter.sh", "capacitybuffers.autoscaling.x-k8s.io"
	cases := []struct {
		name    string
		cluster fakecloud.Cluster
		values  map[string]any
		want    []string // empty: accepted
	}{
		{"before Gte/Lte", installed("1.8.3", ""), poolsOnly, []string{"the cluster's Karpenter karpenter/karpenter (1.8.3) predates 1.9.0, whose NodePools first accept the Gte/Lte requirements"}},
		{"sharing without NodeOverlay", installed("1.15.1", ""), values(shared), []string{
			"karpenter-gpu:gpuPools[shared].sharing.replicas: 4: the cluster's Karpenter karpenter/karpenter (1.15.1) has no nodeoverlays.karpenter.sh CRD, so it never learns"}},
		{"sharing with the gate off", installed("1.15.1", "NodeOverlay=false,NodeRepair=true", overlays), values(shared), []string{
			"karpenter-gpu:gpuPools[shared].sharing.replicas: 4: the cluster's Karpenter karpenter/karpenter (1.15.1) runs with its nodeOverlay feature gate off"}},
		{"headroom without CapacityBuffer, and sharing too", installed("1.15.1", "", overlays), values(shared, warm), []string{
			"karpenter-gpu:gpuPools[warm].headroom: 1: the cluster's Karpenter karpenter/karpenter (1.15.1) has no capacitybuffers.autoscaling.x-k8s.io CRD, so no GPU is kept ready"}},
		{"everything there", installed("1.15.1", "NodeOverlay=true,CapacityBuffer=true", overlays, buffers), values(shared, warm), nil},
		{"an Unhealthy budget before 1.15", installed("1.14.3", ""), values(repaired), []string{
			"karpenter-gpu:gpuPools[repaired].budgets[0].reasons: Drifted, Unhealthy: the cluster's Karpenter karpenter/karpenter (1.14.3) predates 1.15.0, whose NodePool CRD first accepts the Unhealthy reason"}},
		{"an Unhealthy budget on 1.15", installed("1.15.0", ""), values(repaired), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cloud, err := run(t, tc.cluster, tc.values)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v, want %q", err, w)
				}
			}
			if n := len(cloud.Resources()); n != 0 {
				t.Errorf("%d resources registered before the refusal", n)
			}
		})
	}
}
