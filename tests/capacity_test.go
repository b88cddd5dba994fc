package tests

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"karpenter-gpu/internal/fakecloud"
	"karpenter-gpu/wellknown"
)

// training is an EFA class and pool with a placement group and reservations.
func training(subnets ...string) map[string]any {
	return map[string]any{
		"nodeClasses": []any{
			map[string]any{"name": "serving"},
			map[string]any{"name": "p5", "efa": map[string]int{"networkCards": 32}, "subnetIds": subnets,
				"placementGroup":       map[string]string{"name": "training"},
				"capacityReservations": []any{map[string]any{"tags": map[string]string{"purpose": "training"}}}},
		},
		"gpuPools": []any{
			map[string]any{"name": "inference", "gpus": []string{"l4"}, "maxGPUs": 4},
			map[string]any{"name": "train", "nodeClass": "p5", "instanceTypes": []string{"p5.48xlarge"}, "gpuCount": map[string]int{"min": 8, "max": 8},
				"maxGPUs": 16, "capacityTypes": []string{"reserved", "on-demand"},
				"taints": []any{map[string]any{"key": "workload", "value": "training", "effect": "NoSchedule"}}},
		},
		"karpenter": map[string]any{"featureGates": map[string]bool{"nodeRepair": true}, "awsFeatureGates": map[string]bool{"rebootForRepair": true}},
	}
}

func TestEFATrainingClass(t *testing.T) {
	t.Parallel()
	cloud := mustRun(t, training("subnet-0aa11bb22cc33dd44", "subnet-0dd44ee55ff660077"))
	sg := one(t, cloud, "aws:ec2/securityGroup:SecurityGroup", "efa")
	self := map[string]any{"protocol": "-1", "fromPort": float64(0), "toPort": float64(0), "self": true}
	if sg.Inputs["vpcId"] != fakecloud.Example(clusterName).VpcID ||
		!reflect.DeepEqual(sg.Inputs["ingress"], []any{self}) || !reflect.DeepEqual(sg.Inputs["egress"], []any{self}) {
		t.Errorf("EFA security group = %v", sg.Inputs)
	}
	p5 := one(t, cloud, typeNodeClass, "p5")
	spec := p5.Inputs["spec"].(map[string]any)
	groups := spec["securityGroupSelectorTerms"].([]any)
	if len(groups) != 2 || !strings.HasPrefix(groups[1].(map[string]any)["id"].(string), "sg-") {
		t.Errorf("EFA class security groups = %v", groups)
	}
	if !dependsOn(p5, sg.URN) {
		t.Error("the EFA class does not depend on its security group")
	}
	serving := one(t, cloud, typeNodeClass, "serving").Inputs["spec"].(map[string]any)
	if len(serving["securityGroupSelectorTerms"].([]any)) != 1 {
		t.Errorf("a class without EFA selects %v", serving["securityGroupSelectorTerms"])
	}
	if _, ok := serving["networkInterfaces"]; ok {
		t.Error("a class without EFA gets network interfaces")
	}
	efa := one(t, cloud, typeRelease, "efa-device-plugin").Inputs
	if efa["chart"] != "aws-efa-k8s-device-plugin" || efa["version"] == "" || efa["namespace"] != "kube-system" {
		t.Errorf("EFA plugin release = %v", efa)
	}
	// Node repair: the gate, the agent that reports GPU faults, and reboot.
	values := one(t, cloud, typeRelease, "karpenter").Inputs["values"].(map[string]any)["settings"].(map[string]any)
	if values["featureGates"].(map[string]any)["nodeRepair"] != true || values["awsFeatureGates"].(map[string]any)["rebootForRepair"] != true {
		t.Errorf("gates = %v / %v", values["featureGates"], values["awsFeatureGates"])
	}
	agent := one(t, cloud, "aws:eks/addon:Addon", "eks-node-monitoring-agent").Inputs
	if agent["addonName"] != "eks-node-monitoring-agent" || agent["clusterName"] != clusterName {
		t.Errorf("node monitoring agent = %v", agent)
	}
	var reboot bool
	for _, p := range byType(cloud, typePolicy) {
		reboot = reboot || strings.Contains(p.Inputs["policy"].(string), "ec2:RebootInstances")
	}
	if !reboot {
		t.Error("rebootForRepair without ec2:RebootInstances")
	}
	if len(byType(mustRun(t, nil), "aws:ec2/securityGroup:SecurityGroup")) != 0 || len(byType(mustRun(t, nil), "aws:eks/addon:Addon")) != 0 {
		t.Error("EFA group or add-ons without being asked for")
	}
}

func TestEFAClassNeedsOneZone(t *testing.T) {
	t.Parallel()
	cloud, err := run(t, fakecloud.Example(clusterName), training("subnet-0aa11bb22cc33dd44", "subnet-0bb22cc33dd44ee55"))
	if err == nil || !strings.Contains(err.Error(), "karpenter-gpu:nodeClasses[p5].subnetIds: subnets in 2 availability zones (us-west-2a: subnet-0aa11bb22cc33dd44; us-west-2b: subnet-0bb22cc33dd44ee55)") {
		t.Fatalf("err = %v", err)
	}
	if n := len(cloud.Resources()); n != 0 {
		t.Fatalf("%d resources registered", n)
	}
}

// The Spot service-linked role is made sure of when a pool allows spot:
// created in an account without it, adopted by import where it exists,
// kept on destroy either way; absent when no pool uses spot.
func TestSpotServiceLinkedRole(t *testing.T) {
	t.Parallel()
	fresh := fakecloud.Example(clusterName)
	fresh.SpotServiceLinkedRole = false
	cloud, err := run(t, fresh, nil)
	if err != nil {
		t.Fatal(err)
	}
	created := one(t, cloud, "aws:iam/serviceLinkedRole:ServiceLinkedRole", "spot")
	if created.Inputs["awsServiceName"] != "spot.amazonaws.com" || created.ImportID != "" || !created.RetainOnDelete {
		t.Errorf("created role = %+v", created)
	}
	nodeClass := one(t, cloud, typeNodeClass, "gpu")
	if !dependsOn(nodeClass, created.URN) {
		t.Error("the node class does not wait for the Spot role")
	}
	adopted := one(t, mustRun(t, nil), "aws:iam/serviceLinkedRole:ServiceLinkedRole", "spot")
	if adopted.ImportID != "arn:aws:iam::123456789012:role/aws-service-role/spot.amazonaws.com/AWSServiceRoleForEC2Spot" || !adopted.RetainOnDelete ||
		!reflect.DeepEqual(adopted.Inputs, created.Inputs) || adopted.URN != created.URN {
		t.Errorf("adopted role = %+v", adopted)
	}
	onDemand := mustRun(t, map[string]any{"gpuPools": []any{map[string]any{"name": "a", "gpus": []string{"t4"}, "maxGPUs": 2, "capacityTypes": []string{"on-demand"}}}})
	if n := len(byType(onDemand, "aws:iam/serviceLinkedRole:ServiceLinkedRole")); n != 0 {
		t.Errorf("%d Spot roles for an on-demand stack", n)
	}
}

func TestPodIdentityAgentOnACreatedCluster(t *testing.T) {
	t.Parallel()
	cloud := mustRun(t, map[string]any{
		"karpenter": map[string]any{"identity": "podIdentity"},
		"cluster": map[string]any{
			"create": true, "vpcId": "vpc-0a1b2c3d4e5f60718", "subnetIds": []string{"subnet-0aa11bb22cc33dd44", "subnet-0bb22cc33dd44ee55"},
		},
	})
	agent := one(t, cloud, "aws:eks/addon:Addon", "eks-pod-identity-agent")
	if agent.Inputs["addonName"] != "eks-pod-identity-agent" || !dependsOn(agent, one(t, cloud, "eks:index:Cluster", clusterName).URN) {
		t.Errorf("agent = %+v", agent)
	}
	assoc := one(t, cloud, "aws:eks/podIdentityAssociation:PodIdentityAssociation", "karpenter-controller")
	if !dependsOn(assoc, agent.URN) {
		t.Error("the association does not wait for the agent")
	}
	// An existing cluster is not changed: a missing agent is only a warning.
	existing := fakecloud.Example(clusterName)
	existing.Addons = slices.DeleteFunc(slices.Clone(existing.Addons), func(a string) bool { return a == "eks-pod-identity-agent" })
	cloud, err := run(t, existing, map[string]any{"karpenter": map[string]any{"identity": "podIdentity"}})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(byType(cloud, "aws:eks/addon:Addon")); n != 0 {
		t.Errorf("%d add-ons installed on an existing cluster", n)
	}
}

// Reservations reach the class; the reserved pool launches from it.
func TestReservedPool(t *testing.T) {
	t.Parallel()
	cloud := mustRun(t, training("subnet-0aa11bb22cc33dd44"))
	spec := one(t, cloud, typeNodeClass, "p5").Inputs["spec"].(map[string]any)
	if !reflect.DeepEqual(spec["capacityReservationSelectorTerms"], []any{map[string]any{"tags": map[string]any{"purpose": "training"}}}) {
		t.Errorf("reservation terms = %v", spec["capacityReservationSelectorTerms"])
	}
	pool := one(t, cloud, typeNodePool, "gpu-pool-train").Inputs["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
	for _, r := range pool["requirements"].([]any) {
		req := r.(map[string]any)
		if req["key"] == wellknown.LabelCapacityType && !reflect.DeepEqual(req["values"], []any{"reserved", "on-demand"}) {
			t.Errorf("capacity types = %v", req["values"])
		}
	}
}

// A node class's reservations selected by ID and its placement group are
// read before anything: one that does not exist, or a reservation outside
// the class's zones, is refused; what cannot be read ahead is a warning.
func TestReservationsAndPlacementGroupsAreChecked(t *testing.T) {
	t.Parallel()
	withClass := func(change func(class map[string]any)) map[string]any {
		values := training("subnet-0aa11bb22cc33dd44") // us-west-2a
		change(values["nodeClasses"].([]any)[1].(map[string]any))
		return values
	}
	refused := map[string]struct {
		change func(map[string]any)
		want   string
	}{
		"a reservation in another zone": {func(c map[string]any) {
			c["capacityReservations"] = []any{map[string]any{"id": "cr-0b2c3d4e5f6071829"}}
		},
			"karpenter-gpu:nodeClasses[p5].capacityReservations[0].id: cr-0b2c3d4e5f6071829 is a reservation in us-west-2b, but the class's subnets are in us-west-2a, so Karpenter can never launch into it"},
		"a reservation the account lacks": {func(c map[string]any) {
			c["capacityReservations"] = []any{map[string]any{"id": "cr-0ffffffffffffffff"}}
		},
			"karpenter-gpu:nodeClasses[p5].capacityReservations[0].id: cr-0ffffffffffffffff: reading the reservation: "},
		"a placement group the account lacks": {func(c map[string]any) { c["placementGroup"] = map[string]string{"name": "trainig"} },
			"karpenter-gpu:nodeClasses[p5].placementGroup.name: trainig: reading the placement group: "},
	}
	for name, tc := range refused {
		t.Run(name, func(t *testing.T) {
			cloud, err := run(t, fakecloud.Example(clusterName), withClass(tc.change))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v", err)
			}
			if n := len(cloud.Resources()); n != 0 {
				t.Fatalf("%d resources registered before the refusal", n)
			}
		})
	}

	c := fakecloud.Example(clusterName)
	c.CapacityReservations["cr-0c3d4e5f607182930"] = fakecloud.Reservation{Zone: "us-west-2a", InstanceType: "p4d.24xlarge"}
	c.PlacementGroups["spread"] = "spread"
	w := strings.Join(observed(t, c, withClass(func(class map[string]any) {
		class["capacityReservations"] = []any{
			map[string]any{"id": "cr-0a1b2c3d4e5f60718"},
			map[string]any{"id": "cr-0c3d4e5f607182930"},
			map[string]any{"tags": map[string]string{"purpose": "training"}},
		}
		class["placementGroup"] = map[string]string{"name": "spread"}
	})).Warnings, "\n")
	for _, want := range []string{
		"nodeClasses[p5].capacityReservations[1]: cr-0c3d4e5f607182930 reserves p4d.24xlarge, but the class's pools that buy reserved capacity launch only p5.48xlarge: it stays unused",
		"nodeClasses[p5].capacityReservations[2] selects reservations by tags, so their zones were not checked: Karpenter launches only into those in the zones of the class's subnets (us-west-2a)",
		"nodeClasses[p5].placementGroup: spread has strategy spread; EFA traffic between nodes is fastest in a cluster placement group",
	} {
		if !strings.Contains(w, want) {
			t.Errorf("warnings lack %q:\n%s", want, w)
		}
	}
	if strings.Contains(w, "capacityReservations[0]") {
		t.Errorf("the reservation that fits is named:\n%s", w)
	}
	if got := observed(t, c, withClass(func(class map[string]any) { class["placementGroup"] = map[string]string{"id": "pg-0123456789abcdef0"} })).Warnings; !strings.Contains(strings.Join(got, "\n"), "nodeClasses[p5].placementGroup.id: pg-0123456789abcdef0 was not checked") {
		t.Errorf("warnings:\n%s", strings.Join(got, "\n"))
	}
}

// A node class attaches one EFA-only interface on each of its network
// cards, and Karpenter skips a type that cannot take them: the pool's
// types (outputs, plan.md) are those that can, the others are named with
// why, and a pool left with none is refused before anything.
func TestEFAInterfacesFitTheTypesNetworkCards(t *testing.T) {
	t.Parallel()
	class := func(cards int) map[string]any {
		return map[string]any{
			"nodeClasses": []any{map[string]any{"name": "h200", "efa": map[string]int{"networkCards": cards}, "subnetIds": []string{"subnet-0aa11bb22cc33dd44"}}},
			"gpuPools": []any{map[string]any{"name": "train", "gpus": []string{"h200"}, "gpuCount": map[string]int{"min": 8, "max": 8}, "maxGPUs": 16,
				"capacityTypes": []string{"on-demand"}}},
		}
	}
	// 32 cards: p5e.48xlarge (32) yes, p5en.48xlarge (16) no.
	got := observed(t, fakecloud.Example(clusterName), class(32))
	pool := got.Outputs["gpuPools"].(map[string]any)["train"].(map[string]any)
	if types := pool["instanceTypes"]; !reflect.DeepEqual(types, []any{"p5e.48xlarge"}) || pool["efaDevicesPerNode"] != 32 {
		t.Errorf("with 32 cards: types %v, EFA devices %v", types, pool["efaDevicesPerNode"])
	}
	if w := strings.Join(got.Warnings, "\n"); !strings.Contains(w, "gpuPools[train]: Karpenter never launches p5en.48xlarge (16 network card(s)): node class h200 attaches EFA interfaces on 32 network cards; the pool launches only p5e.48xlarge") {
		t.Errorf("warnings:\n%s", w)
	}
	// 16 cards: both.
	got = observed(t, fakecloud.Example(clusterName), class(16))
	if types := got.Outputs["gpuPools"].(map[string]any)["train"].(map[string]any)["instanceTypes"]; !reflect.DeepEqual(types, []any{"p5e.48xlarge", "p5en.48xlarge"}) {
		t.Errorf("with 16 cards: types %v", types)
	}
	// EC2 says a type takes fewer EFA interfaces than the class attaches.
	fewer := fakecloud.Example(clusterName)
	fewer.EFA = map[string]int{"p5e.48xlarge": 8}
	got = observed(t, fewer, class(16))
	if w := strings.Join(got.Warnings, "\n"); !strings.Contains(w, "Karpenter never launches p5e.48xlarge (at most 8 EFA interface(s))") {
		t.Errorf("warnings:\n%s", w)
	}
	// 64 cards: no type.
	_, err := run(t, fakecloud.Example(clusterName), class(64))
	if err == nil || !strings.Contains(err.Error(), "karpenter-gpu:nodeClasses[h200].efa.networkCards: 64: pool train may launch none of its types with it, as Karpenter skips a type that cannot take the class's interfaces: p5e.48xlarge (32 network card(s)), p5en.48xlarge (16 network card(s))") {
		t.Errorf("err = %v", err)
	}
}

// A pool that may launch GPUs its node class's AMI cannot drive is refused
// before anything, naming the release that can; where that is not known
// (g7 on Bottlerocket), a warning; the pool's output names its driver.
func TestPoolsLaunchOnlyWhatTheirAMIDrives(t *testing.T) {
	t.Parallel()
	g7 := func(amiAlias string) map[string]any {
		return map[string]any{
			"nodeClasses": []any{map[string]any{"name": "gpu", "ami": amiAlias, "allowLatestAmi": true}},
			"gpuPools":    []any{map[string]any{"name": "render", "gpus": []string{"rtx-pro-4500"}, "maxGPUs": 4}},
		}
	}
	_, err := run(t, fakecloud.Example(clusterName), g7("al2023@v20260610"))
	if err == nil || !strings.Contains(err.Error(), "karpenter-gpu:gpuPools[render]: may launch g7.2xlarge, g7.4xlarge, g7.8xlarge, but nodeClasses[gpu].ami al2023@v20260610 cannot drive g7: its RTX PRO 4500 GPUs need NVIDIA driver 595 or newer") ||
		!strings.Contains(err.Error(), "pin al2023@v20260917 or later") {
		t.Errorf("err = %v", err)
	}
	got := observed(t, fakecloud.Example(clusterName), g7("bottlerocket@v1.50.0"))
	if w := strings.Join(got.Warnings, "\n"); !strings.Contains(w, "gpuPools[render] may launch g7.2xlarge, g7.4xlarge, g7.8xlarge on nodeClasses[gpu].ami bottlerocket@v1.50.0: whether bottlerocket AMIs drive g7 is not known here") {
		t.Errorf("warnings:\n%s", w)
	}
	if d := got.Outputs["gpuPools"].(map[string]any)["render"].(map[string]any)["nvidiaDriver"]; !strings.HasPrefix(fmt.Sprint(d), "not known here for bottlerocket@v1.50.0") {
		t.Errorf("nvidiaDriver = %v", d)
	}
	if d := mustRunOutputs(t, nil)["gpuPools"].(map[string]any)["gpu"].(map[string]any)["nvidiaDriver"]; d != "NVIDIA 580.159.03 (CUDA 13.0 and older)" {
		t.Errorf("the default pool's nvidiaDriver = %v", d)
	}
}

func mustRunOutputs(t *testing.T, values map[string]any) map[string]any {
	t.Helper()
	return observed(t, fakecloud.Example(clusterName), values).Outputs
}
