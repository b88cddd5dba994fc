package tests

import (
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"karpenter-gpu/config"
	"karpenter-gpu/gpu"
	"karpenter-gpu/iam"
	"karpenter-gpu/internal/crdschema"
	"karpenter-gpu/internal/fakecloud"
	"karpenter-gpu/karpenter"
	"karpenter-gpu/stack"
	"karpenter-gpu/versions"
	"karpenter-gpu/wellknown"
)

const (
	typeRelease     = "kubernetes:helm.sh/v3:Release"
	typeNodePool    = "kubernetes:karpenter.sh/v1:NodePool"
	typeNodeClass   = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"
	typeNodeOverlay = "kubernetes:karpenter.sh/v1alpha1:NodeOverlay"
	typeTag         = "aws:ec2/tag:Tag"
	typeRole        = "aws:iam/role:Role"
	typePolicy      = "aws:iam/policy:Policy"
	typeAttachment  = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
)

func TestBadConfigurationRegistersNothing(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		values map[string]any
		want   string
	}{
		{"missing clusterName", map[string]any{"clusterName": ""}, "karpenter-gpu:clusterName is missing"},
		{"misspelled clusterName", map[string]any{"clustrName": "ml-prod"}, `karpenter-gpu:clustrName: "clustrName": is not a known key`},
		{"identity magic", map[string]any{"karpenter": map[string]any{"identity": "magic"}}, `karpenter-gpu:karpenter.identity: "magic": want one of irsa, podIdentity`},
		{"nodeAccess maybe", map[string]any{"nodeAccess": "maybe"}, `karpenter-gpu:nodeAccess: "maybe": want one of auto, accessEntry, awsAuth`},
		{"cheap pool", map[string]any{"gpuPools": []any{map[string]any{"name": "a", "gpus": []string{"t4"}, "maxGPUs": 2, "capacityTypes": []string{"cheap"}}}}, `gpuPools[a].capacityTypes: "cheap"`},
		{"unpinned AMI", map[string]any{"nodeClasses": []any{map[string]any{"name": "gpu", "ami": "al2023"}}}, `nodeClasses[gpu].ami: "al2023": pin the AMI release`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			values := tc.values
			cloud, err := run(t, fakecloud.Example(clusterName), values)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if n := len(cloud.Resources()); n != 0 {
				t.Fatalf("%d resources registered before the error", n)
			}
			if calls := cloud.Calls(); len(calls) != 0 {
				t.Fatalf("the cloud was asked %v before the configuration was checked", calls)
			}
		})
	}
}

func TestClusterFactsThatRuleOutTheConfigRegisterNothing(t *testing.T) {
	t.Parallel()
	configMapOnly := fakecloud.Example(clusterName)
	configMapOnly.AuthenticationMode = "CONFIG_MAP"
	k8s138 := fakecloud.Example(clusterName)
	k8s138.Version = "1.38"
	allPublic := fakecloud.Example(clusterName)
	for i := range allPublic.Subnets {
		allPublic.Subnets[i].Public = true
	}
	cases := []struct {
		name    string
		cluster fakecloud.Cluster
		values  map[string]any
		want    string
	}{
		{"access entry on a CONFIG_MAP cluster", configMapOnly, map[string]any{"nodeAccess": "accessEntry"}, "karpenter-gpu:nodeAccess"},
		{"no such cluster", fakecloud.Example("other"), nil, `looking up EKS cluster "ml-prod"`},
		{"no private subnet", allPublic, nil, "discovery.subnetIds"},
		{"a label Karpenter reserves", fakecloud.Example(clusterName), map[string]any{"gpuPools": []any{map[string]any{
			"name": "a", "gpus": []string{"t4"}, "maxGPUs": 2, "labels": map[string]string{"karpenter.sh/team": "ml"},
		}}}, `this configuration would be rejected by Karpenter 1.15.1: NodePool a is invalid`},
		{"a Kubernetes version Karpenter does not support", k8s138, nil, `Karpenter 1.15.1 supports 1.26 to 1.37`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cloud, err := run(t, tc.cluster, tc.values)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if n := len(cloud.Resources()); n != 0 {
				t.Fatalf("%d resources registered before the error", n)
			}
		})
	}
}

func dependsOn(r fakecloud.Resource, urn string) bool { return slices.Contains(r.Dependencies, urn) }

func TestCustomResourcesComeAfterAndGoBeforeKarpenter(t *testing.T) {
	t.Parallel()
	cloud := mustRun(t, map[string]any{"gpuPools": []any{
		map[string]any{"name": "inference", "gpus": []string{"l4"}, "maxGPUs": 4},
		map[string]any{"name": "training", "gpus": []string{"h100"}, "gpuCount": map[string]int{"min": 8, "max": 8}, "maxGPUs": 16},
	}})
	crds := one(t, cloud, typeRelease, "karpenter-crd")
	controller := one(t, cloud, typeRelease, "karpenter")
	nodeClass := one(t, cloud, typeNodeClass, "gpu")
	if !dependsOn(controller, crds.URN) {
		t.Error("the controller release does not wait for the CRD release")
	}
	for _, r := range append(byType(cloud, typeNodePool), nodeClass) {
		for _, release := range []fakecloud.Resource{crds, controller} {
			if !dependsOn(r, release.URN) {
				t.Errorf("%s %s does not depend on release %s: it could be created before its CRD, or deleted after the controller", r.Type, r.Name, release.Name)
			}
		}
	}
	for _, pool := range byType(cloud, typeNodePool) {
		if !dependsOn(pool, nodeClass.URN) {
			t.Errorf("NodePool %s does not depend on the EC2NodeClass", pool.Name)
		}
	}
	// With several classes, each pool waits for (and outlives) its own.
	multi := mustRun(t, map[string]any{
		"nodeClasses": []any{map[string]any{"name": "serving"}, map[string]any{"name": "training", "ami": "bottlerocket@v1.50.0"}},
		"gpuPools": []any{
			map[string]any{"name": "inference", "gpus": []string{"l4"}, "maxGPUs": 4, "sharing": map[string]int{"replicas": 2}},
			map[string]any{"name": "training", "nodeClass": "training", "gpus": []string{"h100"}, "gpuCount": map[string]int{"min": 8, "max": 8}, "maxGPUs": 16},
		},
	})
	for pool, class := range map[string]string{"gpu-pool-inference": "serving", "gpu-pool-training": "training"} {
		if !dependsOn(one(t, multi, typeNodePool, pool), one(t, multi, typeNodeClass, class).URN) {
			t.Errorf("%s does not depend on node class %s", pool, class)
		}
	}
	for _, o := range byType(multi, typeNodeOverlay) {
		for _, release := range []string{"karpenter-crd", "karpenter"} {
			if !dependsOn(o, one(t, multi, typeRelease, release).URN) {
				t.Errorf("NodeOverlay %s does not depend on release %s", o.Name, release)
			}
		}
	}
	// Nodes need their role, cluster access and discovery tags for as long as any exists.
	for _, component := range []string{"karpenter-gpu:cluster:NodeAccess", "karpenter-gpu:network:DiscoveryTags"} {
		parts := children(cloud, byType(cloud, component)[0])
		if len(parts) == 0 {
			t.Fatalf("%s has no resources", component)
		}
		for _, r := range parts {
			if !dependsOn(nodeClass, r.URN) {
				t.Errorf("the EC2NodeClass does not depend on %s %s", r.Type, r.Name)
			}
		}
	}
	// The checks below find attachments by name: they count what they
	// checked, so that a rename cannot make them pass on nothing.
	nodeAttachments, controllerAttachments := 0, 0
	for _, a := range byType(cloud, typeAttachment) {
		if strings.HasPrefix(a.Name, "karpenter-node-") {
			nodeAttachments++
			if !dependsOn(nodeClass, a.URN) {
				t.Errorf("the EC2NodeClass does not depend on node policy %s", a.Name)
			}
		}
	}
	// The controller needs its permissions while it runs, so they go after it.
	for _, a := range byType(cloud, typeAttachment) {
		if strings.HasPrefix(a.Name, "karpenter-controller-") {
			controllerAttachments++
			if !dependsOn(controller, a.URN) {
				t.Errorf("the controller does not depend on its policy %s", a.Name)
			}
		}
	}
	// The node role's four managed policies (worker node, CNI, ECR pull,
	// SSM) and the controller's five policies (iam.ControllerPolicies).
	if nodeAttachments != 4 || controllerAttachments != len(iam.ControllerPolicies(iam.ControllerScope{})) {
		t.Errorf("checked %d node and %d controller policy attachments, want 4 and %d", nodeAttachments, controllerAttachments, len(iam.ControllerPolicies(iam.ControllerScope{})))
	}
	if n := len(byType(cloud, typeNodePool)); n != 2 {
		t.Errorf("checked %d NodePools, want 2", n)
	}
	if n := len(byType(multi, typeNodeOverlay)); n == 0 {
		t.Error("the sharing pool has no NodeOverlay: the overlay check saw none")
	}
}

func TestEveryKarpenterObjectPassesTheCRDSchema(t *testing.T) {
	t.Parallel()
	v, err := crdschema.Karpenter()
	if err != nil {
		t.Fatal(err)
	}
	cloud := mustRun(t, map[string]any{
		"nodeClasses": []any{map[string]any{"name": "gpu", "instanceStorePolicy": "RAID0", "tags": map[string]string{"cost-center": "42"}}},
		"gpuPools": []any{
			map[string]any{"name": "inference", "gpus": []string{"l4", "a10g"}, "maxGPUs": 8, "capacityTypes": []string{"spot"}, "sharing": map[string]int{"replicas": 2}},
			map[string]any{"name": "training", "minGPUMemoryGiB": 80, "gpuCount": map[string]int{"min": 8, "max": 8}, "maxGPUs": 16,
				"consolidation": "WhenEmptyOrUnderutilized", "budgets": []any{map[string]any{"nodes": "0", "schedule": "0 9 * * 1-5", "duration": "8h"}}},
		},
	})
	objects := append(append(byType(cloud, typeNodeClass), byType(cloud, typeNodePool)...), byType(cloud, typeNodeOverlay)...)
	if len(objects) != 4 {
		t.Fatalf("%d Karpenter objects, want 4", len(objects))
	}
	for _, r := range objects {
		obj := map[string]any{"apiVersion": r.Inputs["apiVersion"], "kind": r.Inputs["kind"], "metadata": r.Inputs["metadata"], "spec": r.Inputs["spec"]}
		if err := v.Validate(obj); err != nil {
			t.Errorf("%s: %v", r.Name, err)
		}
	}
	spec := one(t, cloud, typeNodeClass, "gpu").Inputs["spec"].(map[string]any)
	if !strings.HasPrefix(spec["role"].(string), "karpenter-node-") {
		t.Errorf("EC2NodeClass role = %v, want the node role's name", spec["role"])
	}
}

// discoveryTags maps each tagged resource to its discovery tag value.
func discoveryTags(cloud *fakecloud.Cloud) map[string]string {
	got := map[string]string{}
	for _, tag := range byType(cloud, typeTag) {
		if tag.Inputs["key"] == wellknown.DiscoveryTagKey {
			got[tag.Inputs["resourceId"].(string)] = tag.Inputs["value"].(string)
		}
	}
	return got
}

func TestDiscoveryTagsOnPrivateSubnetsAndClusterSecurityGroup(t *testing.T) {
	t.Parallel()
	want := map[string]string{
		"subnet-0aa11bb22cc33dd44": clusterName, "subnet-0bb22cc33dd44ee55": clusterName, "subnet-0cc33dd44ee55ff66": clusterName,
		"sg-0c1d2e3f405162738": clusterName,
	}
	if got := discoveryTags(mustRun(t, nil)); !reflect.DeepEqual(got, want) {
		t.Fatalf("tags = %v, want %v", got, want)
	}
	cloud := mustRun(t, map[string]any{"discovery": map[string]any{
		"subnetIds": []string{"subnet-0dd44ee55ff660077"}, "securityGroupIds": []string{"sg-0c1d2e3f405162738"},
	}})
	if got := discoveryTags(cloud); !reflect.DeepEqual(got, map[string]string{"subnet-0dd44ee55ff660077": clusterName, "sg-0c1d2e3f405162738": clusterName}) {
		t.Fatalf("overridden discovery tagged %v", got)
	}
}

// applyTags gives the fake cloud the tags a run created, as AWS would have
// them on the next run.
func applyTags(c *fakecloud.Cluster, cloud *fakecloud.Cloud) {
	for _, tag := range byType(cloud, typeTag) {
		id, key, value := tag.Inputs["resourceId"].(string), tag.Inputs["key"].(string), tag.Inputs["value"].(string)
		if id == c.SecurityGroupID {
			c.SecurityGroupTags = maps.Clone(c.SecurityGroupTags)
			c.SecurityGroupTags[key] = value
		}
		for i := range c.Subnets {
			if c.Subnets[i].ID == id {
				c.Subnets[i].Tags = maps.Clone(c.Subnets[i].Tags)
				if c.Subnets[i].Tags == nil {
					c.Subnets[i].Tags = map[string]string{}
				}
				c.Subnets[i].Tags[key] = value
			}
		}
	}
}

// snapshot is every resource with its inputs and dependencies.
func snapshot(cloud *fakecloud.Cloud) string {
	var b strings.Builder
	for _, r := range cloud.Resources() {
		in, _ := json.Marshal(r.Inputs)
		b.WriteString(r.URN + " " + strings.Join(r.Dependencies, ",") + " " + string(in) + "\n")
	}
	return b.String()
}

// A discovery tag the stack did not make is never taken over: absent tags
// are created (with an ownership tag), tags already there for this cluster
// are left alone (and so survive destroy), another cluster's tag stops the
// run. Each case runs twice, the second time against the tags the first
// created: the second run declares exactly what the first did.
func TestDiscoveryNeverTakesOverTags(t *testing.T) {
	t.Parallel()
	preexisting := fakecloud.Example(clusterName)
	preexisting.Subnets[0].Tags = map[string]string{wellknown.DiscoveryTagKey: clusterName}
	preexisting.SecurityGroupTags = map[string]string{wellknown.DiscoveryTagKey: clusterName}
	cases := []struct {
		name    string
		cluster fakecloud.Cluster
		tagged  []string
	}{
		{"absent", fakecloud.Example(clusterName), []string{"sg-0c1d2e3f405162738", "subnet-0aa11bb22cc33dd44", "subnet-0bb22cc33dd44ee55", "subnet-0cc33dd44ee55ff66"}},
		{"already there for this cluster", preexisting, []string{"subnet-0bb22cc33dd44ee55", "subnet-0cc33dd44ee55ff66"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cluster
			first, err := run(t, c, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := slices.Sorted(maps.Keys(discoveryTags(first))); !reflect.DeepEqual(got, tc.tagged) {
				t.Errorf("tagged %v, want %v", got, tc.tagged)
			}
			applyTags(&c, first)
			second, err := run(t, c, nil)
			if err != nil {
				t.Fatal(err)
			}
			if snapshot(first) != snapshot(second) {
				t.Errorf("the second run declares something else:\n%s\n---\n%s", snapshot(first), snapshot(second))
			}
		})
	}

	someoneElse := fakecloud.Example(clusterName)
	someoneElse.Subnets[1].Tags = map[string]string{wellknown.DiscoveryTagKey: "ml-staging"}
	for range 2 {
		cloud, err := run(t, someoneElse, nil)
		if err == nil || !strings.Contains(err.Error(), "subnet-0bb22cc33dd44ee55 (karpenter.sh/discovery=ml-staging) already serve another cluster's Karpenter") {
			t.Fatalf("err = %v", err)
		}
		if n := len(cloud.Resources()); n != 0 {
			t.Fatalf("%d resources registered", n)
		}
	}
}

// discovery.mode ids tags nothing and selects by ID.
func TestDiscoveryByID(t *testing.T) {
	t.Parallel()
	cloud := mustRun(t, map[string]any{"discovery": map[string]any{"mode": "ids"}})
	if n := len(byType(cloud, typeTag)); n != 0 {
		t.Errorf("%d tags in mode ids", n)
	}
	spec := one(t, cloud, typeNodeClass, "gpu").Inputs["spec"].(map[string]any)
	wantSubnets := []any{map[string]any{"id": "subnet-0aa11bb22cc33dd44"}, map[string]any{"id": "subnet-0bb22cc33dd44ee55"}, map[string]any{"id": "subnet-0cc33dd44ee55ff66"}}
	if !reflect.DeepEqual(spec["subnetSelectorTerms"], wantSubnets) || !reflect.DeepEqual(spec["securityGroupSelectorTerms"], []any{map[string]any{"id": "sg-0c1d2e3f405162738"}}) {
		t.Errorf("selectors = %v / %v", spec["subnetSelectorTerms"], spec["securityGroupSelectorTerms"])
	}
}

func TestNodeAccessEntry(t *testing.T) {
	t.Parallel()
	cloud := mustRun(t, nil)
	entries := byType(cloud, "aws:eks/accessEntry:AccessEntry")
	if len(entries) != 1 {
		t.Fatalf("%d access entries", len(entries))
	}
	e := entries[0].Inputs
	if e["type"] != "EC2_LINUX" || e["clusterName"] != clusterName || !strings.Contains(e["principalArn"].(string), ":role/karpenter-node-") {
		t.Fatalf("access entry = %v", e)
	}
	if n := len(byType(cloud, "kubernetes:core/v1:ConfigMapPatch")); n != 0 {
		t.Fatalf("aws-auth patched beside the access entry")
	}
}

func TestAwsAuthMergeKeepsExistingMappings(t *testing.T) {
	t.Parallel()
	c := fakecloud.Example(clusterName)
	c.AuthenticationMode = "CONFIG_MAP"
	mapRoles := func() (string, fakecloud.Resource) {
		cloud, err := run(t, c, nil)
		if err != nil {
			t.Fatal(err)
		}
		patch := one(t, cloud, "kubernetes:core/v1:ConfigMapPatch", "karpenter-node-access")
		return patch.Inputs["data"].(map[string]any)["mapRoles"].(string), patch
	}
	merged, patch := mapRoles()
	for _, kept := range []string{"role/system-nodes-NodeInstanceRole", "role/platform-admins", "system:masters"} {
		if !strings.Contains(merged, kept) {
			t.Errorf("merged mapRoles lost %s:\n%s", kept, merged)
		}
	}
	if strings.Count(merged, ":role/karpenter-node-") != 1 || !strings.Contains(merged, "system:node:{{EC2PrivateDNSName}}") {
		t.Errorf("node role not mapped exactly once:\n%s", merged)
	}
	meta := patch.Inputs["metadata"].(map[string]any)
	if meta["name"] != "aws-auth" || meta["namespace"] != "kube-system" || meta["annotations"].(map[string]any)["pulumi.com/patchForce"] != "true" {
		t.Errorf("patch metadata = %v", meta)
	}
	if !patch.RetainOnDelete {
		t.Error("deleting the patch would delete mapRoles with every other node's mapping")
	}
	// The next update reads back what this one wrote: nothing changes.
	c.AwsAuthMapRoles = merged
	again, _ := mapRoles()
	if again != merged {
		t.Errorf("second update changes mapRoles:\n%s\n---\n%s", merged, again)
	}
}

// The real engine showed it: a read of aws-auth kept in the state goes
// stale as soon as the patch lands, so every refresh reports it changed and
// the scheduled drift check never passes. The live mapRoles is read before
// the first resource instead, and nothing of it is kept in the state.
func TestAwsAuthKeepsNoReadInTheState(t *testing.T) {
	t.Parallel()
	c := fakecloud.Example(clusterName)
	c.AuthenticationMode = "CONFIG_MAP"
	cloud, err := run(t, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range cloud.Resources() {
		if r.ReadID != "" {
			t.Errorf("%s is read into the state (%s): it drifts after every update", r.URN, r.ReadID)
		}
	}
	one(t, cloud, "kubernetes:core/v1:ConfigMapPatch", "karpenter-node-access")
}

func TestAwsAuthMissingIsRefusedBeforeAnything(t *testing.T) {
	t.Parallel()
	c := fakecloud.Example(clusterName)
	c.AuthenticationMode, c.AwsAuthMapRoles = "CONFIG_MAP", ""
	cloud, err := run(t, c, nil)
	if err == nil || !strings.Contains(err.Error(), "kube-system/aws-auth") || !strings.Contains(err.Error(), "nodeAccess") {
		t.Fatalf("err = %v, want one naming nodeAccess and kube-system/aws-auth", err)
	}
	if n := len(cloud.Resources()); n != 0 {
		t.Fatalf("%d resources registered before the error", n)
	}
}

func trust(t *testing.T, cloud *fakecloud.Cloud) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal([]byte(one(t, cloud, typeRole, "karpenter-controller").Inputs["assumeRolePolicy"].(string)), &doc); err != nil {
		t.Fatal(err)
	}
	return doc["Statement"].([]any)[0].(map[string]any)
}

func TestControllerIdentity(t *testing.T) {
	t.Parallel()
	issuer := "oidc.eks.us-west-2.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF"

	irsa := mustRun(t, nil)
	st := trust(t, irsa)
	if st["Principal"].(map[string]any)["Federated"] != "arn:aws:iam::123456789012:oidc-provider/"+issuer {
		t.Errorf("IRSA principal = %v", st["Principal"])
	}
	cond := st["Condition"].(map[string]any)["StringEquals"].(map[string]any)
	if cond[issuer+":sub"] != "system:serviceaccount:kube-system:karpenter" || cond[issuer+":aud"] != "sts.amazonaws.com" {
		t.Errorf("IRSA conditions = %v", cond)
	}
	values := one(t, irsa, typeRelease, "karpenter").Inputs["values"].(map[string]any)
	role := values["serviceAccount"].(map[string]any)["annotations"].(map[string]any)[wellknown.ServiceAccountRoleAnnotation]
	if !strings.HasPrefix(role.(string), "arn:aws:iam::123456789012:role/karpenter-controller-") {
		t.Errorf("service account role annotation = %v", role)
	}
	if n := len(byType(irsa, "aws:eks/podIdentityAssociation:PodIdentityAssociation")); n != 0 {
		t.Errorf("IRSA stack has %d pod identity associations", n)
	}

	pi := mustRun(t, map[string]any{"karpenter": map[string]any{"identity": "podIdentity", "namespace": "karpenter"}})
	if p := trust(t, pi)["Principal"].(map[string]any)["Service"]; p != "pods.eks.amazonaws.com" {
		t.Errorf("Pod Identity principal = %v", p)
	}
	assoc := one(t, pi, "aws:eks/podIdentityAssociation:PodIdentityAssociation", "karpenter-controller").Inputs
	if assoc["namespace"] != "karpenter" || assoc["serviceAccount"] != "karpenter" || assoc["clusterName"] != clusterName {
		t.Errorf("association = %v", assoc)
	}
	if _, ok := one(t, pi, typeRelease, "karpenter").Inputs["values"].(map[string]any)["serviceAccount"].(map[string]any)["annotations"]; ok {
		t.Error("Pod Identity stack annotates the service account for IRSA")
	}
}

func TestOIDCProviderCreatedOnRequest(t *testing.T) {
	t.Parallel()
	cloud := mustRun(t, map[string]any{"karpenter": map[string]any{"createOidcProvider": true}})
	p := one(t, cloud, "aws:iam/openIdConnectProvider:OpenIdConnectProvider", "cluster-oidc").Inputs
	if p["url"] != fakecloud.Example(clusterName).OIDCIssuer || !reflect.DeepEqual(p["clientIdLists"], []any{"sts.amazonaws.com"}) {
		t.Errorf("OIDC provider = %v", p)
	}
	if len(byType(mustRun(t, nil), "aws:iam/openIdConnectProvider:OpenIdConnectProvider")) != 0 {
		t.Error("OIDC provider created without being asked for")
	}
}

func TestControllerPoliciesUseTheRealARNs(t *testing.T) {
	t.Parallel()
	cloud := mustRun(t, nil)
	policies := byType(cloud, typePolicy)
	if len(policies) != 5 {
		t.Fatalf("%d controller policies", len(policies))
	}
	all := ""
	for _, p := range policies {
		all += p.Inputs["policy"].(string)
	}
	queue := one(t, cloud, "aws:sqs/queue:Queue", "karpenter-interruption")
	for _, want := range []string{
		`"arn:aws:iam::123456789012:role/karpenter-node-`,
		`"arn:aws:sqs:us-west-2:123456789012:karpenter-interruption-`,
		`"arn:aws:eks:us-west-2:123456789012:cluster/ml-prod"`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("no policy names %s", want)
		}
	}
	values := one(t, cloud, typeRelease, "karpenter").Inputs["values"].(map[string]any)["settings"].(map[string]any)
	if !strings.HasPrefix(values["interruptionQueue"].(string), "karpenter-interruption-") || values["clusterName"] != clusterName ||
		values["clusterEndpoint"] != fakecloud.Example(clusterName).Endpoint {
		t.Errorf("settings = %v (queue %v)", values, queue.Inputs)
	}
}

func TestHelmReleasesArePinned(t *testing.T) {
	t.Parallel()
	cloud := mustRun(t, map[string]any{"devicePlugin": map[string]any{"version": "0.19.1"}})
	crds := one(t, cloud, typeRelease, "karpenter-crd").Inputs
	controller := one(t, cloud, typeRelease, "karpenter").Inputs
	plugin := one(t, cloud, typeRelease, "nvidia-device-plugin").Inputs
	if crds["chart"] != "oci://public.ecr.aws/karpenter/karpenter-crd" || crds["version"] != versions.Karpenter {
		t.Errorf("CRD release = %v %v", crds["chart"], crds["version"])
	}
	if controller["chart"] != "oci://public.ecr.aws/karpenter/karpenter" || controller["version"] != versions.Karpenter || controller["skipCrds"] != true {
		t.Errorf("controller release = %v %v skipCrds=%v", controller["chart"], controller["version"], controller["skipCrds"])
	}
	if controller["namespace"] != "kube-system" || controller["name"] != "karpenter" {
		t.Errorf("controller release lands in %v as %v", controller["namespace"], controller["name"])
	}
	if plugin["chart"] != "nvidia-device-plugin" || plugin["version"] != "0.19.1" ||
		plugin["repositoryOpts"].(map[string]any)["repo"] != "https://nvidia.github.io/k8s-device-plugin" || plugin["namespace"] != "nvidia-device-plugin" {
		t.Errorf("device plugin release = %v", plugin)
	}
}

// Chart sources are configuration: a private OCI mirror, an HTTP
// repository, or a local folder for deploy runners without internet.
func TestChartRepositories(t *testing.T) {
	t.Parallel()
	cloud := mustRun(t, map[string]any{
		"karpenter":    map[string]any{"chartRepository": "./charts"},
		"devicePlugin": map[string]any{"chartRepository": "oci://123456789012.dkr.ecr.us-east-1.amazonaws.com/mirror"},
	})
	for name, want := range map[string]string{
		"karpenter": "./charts/karpenter", "karpenter-crd": "./charts/karpenter-crd",
		"nvidia-device-plugin": "oci://123456789012.dkr.ecr.us-east-1.amazonaws.com/mirror/nvidia-device-plugin",
	} {
		in := one(t, cloud, typeRelease, name).Inputs
		if in["chart"] != want || in["repositoryOpts"] != nil {
			t.Errorf("%s: chart %v, repository %v; want %s alone", name, in["chart"], in["repositoryOpts"], want)
		}
	}
	http := one(t, mustRun(t, map[string]any{"karpenter": map[string]any{"chartRepository": "https://charts.example.com/karpenter"}}), typeRelease, "karpenter").Inputs
	if http["chart"] != "karpenter" || http["repositoryOpts"].(map[string]any)["repo"] != "https://charts.example.com/karpenter" {
		t.Errorf("HTTP repository: %v", http)
	}
}

func TestTagsReachEveryTaggableAWSResource(t *testing.T) {
	t.Parallel()
	cloud := mustRun(t, map[string]any{"tags": map[string]string{"team": "ml", "cost-center": "42"}})
	taggable := 0
	for _, r := range cloud.Resources() {
		// The Spot service-linked role is account-wide and may be adopted by
		// import, which fails when inputs (tags) differ from the role's.
		if !strings.HasPrefix(r.Type, "aws:") || r.Type == typeTag || r.Type == typeAttachment ||
			r.Type == "aws:cloudwatch/eventTarget:EventTarget" || r.Type == "aws:sqs/queuePolicy:QueuePolicy" ||
			r.Type == "aws:iam/serviceLinkedRole:ServiceLinkedRole" {
			continue
		}
		taggable++
		tags, _ := r.Inputs["tags"].(map[string]any)
		if tags["team"] != "ml" || tags["cost-center"] != "42" {
			t.Errorf("%s %s tags = %v", r.Type, r.Name, tags)
		}
	}
	if taggable < 10 {
		t.Errorf("only %d taggable resources checked", taggable)
	}
	spec := one(t, cloud, typeNodeClass, "gpu").Inputs["spec"].(map[string]any)
	if spec["tags"].(map[string]any)["team"] != "ml" {
		t.Errorf("instances would not carry the stack's tags: %v", spec["tags"])
	}
}

func TestSmokeTestJob(t *testing.T) {
	t.Parallel()
	cloud := mustRun(t, map[string]any{"smokeTest": "true"})
	job := one(t, cloud, "kubernetes:batch/v1:Job", "gpu-smoke-test")
	// up waits for the Job longer than its pod may run.
	if job.CreateTimeout != gpu.SmokeTestAwait || job.Inputs["spec"].(map[string]any)["activeDeadlineSeconds"] != float64(gpu.SmokeTestDeadlineSeconds) {
		t.Errorf("create timeout %q, activeDeadlineSeconds %v", job.CreateTimeout, job.Inputs["spec"].(map[string]any)["activeDeadlineSeconds"])
	}
	for _, r := range append(byType(cloud, typeNodePool), one(t, cloud, typeRelease, "nvidia-device-plugin")) {
		if !dependsOn(job, r.URN) {
			t.Errorf("the smoke test does not wait for %s", r.Name)
		}
	}
	if len(byType(mustRun(t, nil), "kubernetes:batch/v1:Job")) != 0 {
		t.Error("smoke test deployed without smokeTest: true")
	}
}

func TestGreenfieldCluster(t *testing.T) {
	t.Parallel()
	cloud := fakecloud.New(fakecloud.Example(clusterName), config.Namespace, "test")
	var outputs map[string]any
	if err := runProgram(cloud, stackConfig(t, map[string]any{"cluster": map[string]any{
		"create": true, "vpcId": "vpc-0a1b2c3d4e5f60718", "subnetIds": []string{"subnet-0aa11bb22cc33dd44", "subnet-0bb22cc33dd44ee55"},
	}}), outputsInto(&outputs)); err != nil {
		t.Fatal(err)
	}
	// A consumer builds its own Kubernetes provider from these two.
	if outputs["clusterCertificateAuthority"] != fakecloud.Example(clusterName).CertificateAuthority || outputs["clusterEndpoint"] != fakecloud.Example(clusterName).Endpoint {
		t.Errorf("created cluster's endpoint %v and CA %v", outputs["clusterEndpoint"], outputs["clusterCertificateAuthority"])
	}
	c := one(t, cloud, "eks:index:Cluster", "ml-prod")
	if c.Inputs["authenticationMode"] != "API" || c.Inputs["createOidcProvider"] != true || c.Inputs["vpcId"] != "vpc-0a1b2c3d4e5f60718" {
		t.Errorf("cluster = %v", c.Inputs)
	}
	provider := one(t, cloud, "pulumi:providers:kubernetes", "cluster")
	if !dependsOn(provider, c.URN) {
		t.Error("the Kubernetes provider does not wait for the cluster")
	}
	entry := byType(cloud, "aws:eks/accessEntry:AccessEntry")[0]
	if !dependsOn(entry, c.URN) {
		t.Error("the access entry does not wait for the cluster")
	}
	for _, call := range cloud.Calls() {
		if call == "aws:eks/getCluster:getCluster" {
			t.Error("greenfield mode looked up an existing cluster")
		}
	}
}

func TestSecondRunIsIdentical(t *testing.T) {
	t.Parallel()
	snapshot := func() string {
		var b strings.Builder
		for _, r := range mustRun(t, map[string]any{"smokeTest": "true"}).Resources() {
			in, _ := json.Marshal(r.Inputs)
			b.WriteString(r.URN + " " + strings.Join(r.Dependencies, ",") + " " + string(in) + "\n")
		}
		return b.String()
	}
	first, second := snapshot(), snapshot()
	if first != second {
		t.Fatal("two runs of the same configuration register different resources")
	}
}

func TestStackOutputs(t *testing.T) {
	t.Parallel()
	cloud := fakecloud.New(fakecloud.Example(clusterName), config.Namespace, "test")
	var got map[string]any
	err := runProgram(cloud, map[string]string{config.Namespace + ":clusterName": clusterName}, outputsInto(&got))
	if err != nil {
		t.Fatal(err)
	}
	c := fakecloud.Example(clusterName)
	want := map[string]any{
		"clusterName":                 clusterName,
		"region":                      "us-west-2",
		"clusterEndpoint":             c.Endpoint,
		"clusterCertificateAuthority": c.CertificateAuthority,
		"oidcProviderArn":             "arn:aws:iam::123456789012:oidc-provider/" + strings.TrimPrefix(c.OIDCIssuer, "https://"),
		"discoveryTag":                map[string]any{"karpenter.sh/discovery": clusterName},
		"karpenterNamespace":          "kube-system",
		"karpenterVersion":            "1.15.1",
		"nodeClasses":                 map[string]any{"gpu": map[string]any{"ami": versions.DefaultAMI, "amiFamily": "al2023"}},
		"gpuResourceName":             "nvidia.com/gpu",
		"devicePluginNamespace":       "nvidia-device-plugin",
		"gpuPools": map[string]any{"gpu": map[string]any{
			"nodeSelector":      map[string]any{"karpenter-gpu/pool": "gpu"},
			"tolerations":       []any{map[string]any{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}},
			"gpuResourceName":   "nvidia.com/gpu",
			"gpusPerNode":       map[string]any{"min": 1, "max": 1},
			"capacityTypes":     []any{"spot", "on-demand"},
			"architectures":     []any{"amd64"},
			"maxGPUs":           4,
			"sharingReplicas":   0,
			"nodeClass":         "gpu",
			"efaResourceName":   "vpc.amazonaws.com/efa",
			"efaDevicesPerNode": 0,
			"jobProtection": map[string]any{"longestJob": "", "maxPodTerminationGracePeriodSeconds": 0,
				"podAnnotations": map[string]any{"karpenter.sh/do-not-disrupt": "true"}},
			"instanceTypes": []any{"g4dn.xlarge", "g4dn.2xlarge", "g4dn.4xlarge", "g4dn.8xlarge", "g4dn.16xlarge",
				"g5.xlarge", "g5.2xlarge", "g5.4xlarge", "g5.8xlarge", "g5.16xlarge",
				"g6.xlarge", "g6.2xlarge", "g6.4xlarge", "g6.8xlarge", "g6.16xlarge",
				"g6e.xlarge", "g6e.2xlarge", "g6e.4xlarge", "g6e.8xlarge", "g6e.16xlarge", "gr6.4xlarge", "gr6.8xlarge"},
			// g6e.16xlarge: $7.57719 for one L40S, × 4 GPUs.
			// Nodes launched together expire together: up to 4 more GPUs drain.
			// The fake Price List API answers us-west-2 with us-east-1's prices.
			"hourlyCostCeiling": map[string]any{"usdPerHour": 30.31, "usdPerHourWithDrains": 60.62, "drainingGPUs": 4, "setBy": "g6e.16xlarge",
				"region": "us-west-2", "priceSource": "the AWS Price List API, read at preview",
				"usdPerHourByType": map[string]any{"g4dn.16xlarge": 4.352, "g4dn.2xlarge": 0.752, "g4dn.4xlarge": 1.204, "g4dn.8xlarge": 2.176, "g4dn.xlarge": 0.526,
					"g5.16xlarge": 4.096, "g5.2xlarge": 1.212, "g5.4xlarge": 1.624, "g5.8xlarge": 2.448, "g5.xlarge": 1.006,
					"g6.16xlarge": 3.3968, "g6.2xlarge": 0.9776, "g6.4xlarge": 1.3232, "g6.8xlarge": 2.0144, "g6.xlarge": 0.8048,
					"g6e.16xlarge": 7.57719, "g6e.2xlarge": 2.24208, "g6e.4xlarge": 3.00424, "g6e.8xlarge": 4.52856, "g6e.xlarge": 1.861,
					"gr6.4xlarge": 1.5392, "gr6.8xlarge": 2.4464},
				"basis": "usdPerHour: on-demand list price per GPU of the most expensive matching type × maxGPUs, which bounds the nodes Karpenter is not deleting; " +
					"nodes that drain (expired, drifted, repaired, interrupted) no longer count against maxGPUs and bill on top for up to terminationGracePeriod 24h each: " +
					"usdPerHourWithDrains adds drainingGPUs, as nodes launched together expire together (expireAfter 720h): all of them may drain at once"},
			"servingProtection": map[string]any{"minReplicas": 2, "podDisruptionBudget": map[string]any{"maxUnavailable": 1}},
			"nvidiaDriver":      "NVIDIA 580.159.03 (CUDA 13.0 and older)",
		}},
	}
	for k, w := range want {
		g, _ := json.Marshal(got[k])
		wj, _ := json.Marshal(w)
		if string(g) != string(wj) {
			t.Errorf("output %s = %s, want %s", k, g, wj)
		}
	}
	prefixes := map[string]string{
		"nodeRoleName":          "karpenter-node-",
		"nodeRoleArn":           "arn:aws:iam::123456789012:role/karpenter-node-",
		"controllerRoleArn":     "arn:aws:iam::123456789012:role/karpenter-controller-",
		"interruptionQueueName": "karpenter-interruption-",
		"interruptionQueueArn":  "arn:aws:sqs:us-west-2:123456789012:karpenter-interruption-",
		"interruptionQueueUrl":  "https://sqs.us-west-2.amazonaws.com/123456789012/karpenter-interruption-",
	}
	for k, p := range prefixes {
		if s, _ := got[k].(string); !strings.HasPrefix(s, p) {
			t.Errorf("output %s = %v, want a value starting %s", k, got[k], p)
		}
	}
	if len(got) != len(want)+len(prefixes) {
		t.Errorf("%d outputs, want %d", len(got), len(want)+len(prefixes))
	}
}

// A pool on an EFA class tells a training job how many EFA devices to ask
// for: one per network card the class attaches.
func TestEFAPoolOutputs(t *testing.T) {
	t.Parallel()
	_, outputs := runStackFileOutputs(t, "../Pulumi.prod.yaml.example")
	pools := outputs["gpuPools"].(map[string]any)
	for pool, want := range map[string]float64{"training": 32, "inference": 0} {
		got := pools[pool].(map[string]any)
		if got["efaDevicesPerNode"] != want || got["efaResourceName"] != "vpc.amazonaws.com/efa" {
			t.Errorf("pool %s: efaDevicesPerNode %v of %v, want %v", pool, got["efaDevicesPerNode"], got["efaResourceName"], want)
		}
	}
}

// An AMI alias that does not exist for the cluster's Kubernetes version
// launches no GPU node at all: refused before anything is created, naming
// the class's key and the newest release SSM offers.
func TestAMIMustExistForTheClusterVersion(t *testing.T) {
	t.Parallel()
	k8s136, k8s137 := fakecloud.Example(clusterName), fakecloud.Example(clusterName)
	k8s136.Version, k8s137.Version = "1.36", "1.37"
	old := map[string]any{"nodeClasses": []any{map[string]any{"name": "gpu", "ami": "al2023@v20251120"}}}
	cases := []struct {
		name    string
		cluster fakecloud.Cluster
		values  map[string]any
		want    []string
	}{
		{"release before the cluster version", k8s136, old, []string{
			`cluster ml-prod runs Kubernetes 1.36`,
			`karpenter-gpu:nodeClasses[gpu].ami: "al2023@v20251120": no NVIDIA al2023 AMI of this release exists for Kubernetes 1.36 on x86_64`,
			`/aws/service/eks/optimized-ami/1.36/amazon-linux-2023/x86_64/nvidia/amazon-eks-node-al2023-x86_64-nvidia-1.36-v20251120/image_id`,
			`the newest release for it is al2023@v20260610`,
		}},
		{"no release at all for the version", k8s137, nil, []string{
			`karpenter-gpu:nodeClasses[gpu].ami: "al2023@v20260610": no NVIDIA al2023 AMI of this release exists for Kubernetes 1.37`,
			`SSM has no release of it for that version at all`,
		}},
		{"every class and architecture", k8s136, map[string]any{
			"nodeClasses": []any{map[string]any{"name": "serving"}, map[string]any{"name": "training", "ami": "bottlerocket@v1.50.0"}},
			"gpuPools": []any{
				map[string]any{"name": "a", "gpus": []string{"t4g"}, "maxGPUs": 2, "architectures": []string{"arm64"}},
				map[string]any{"name": "b", "gpus": []string{"h100"}, "gpuCount": map[string]int{"min": 8, "max": 8}, "maxGPUs": 8, "nodeClass": "training"},
			},
		}, []string{
			`karpenter-gpu:nodeClasses[training].ami: "bottlerocket@v1.50.0": no NVIDIA bottlerocket AMI of this release exists for Kubernetes 1.36 on x86_64 (SSM parameter /aws/service/bottlerocket/aws-k8s-1.36-nvidia/x86_64/1.50.0/image_id)`,
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cloud, err := run(t, tc.cluster, tc.values)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if n := len(cloud.Resources()); n != 0 {
				t.Errorf("%d resources registered before the error", n)
			}
		})
	}
	// The serving class (al2023 default, arm64 pool) passed on 1.36: only
	// the Bottlerocket class was named above.
	cloud, err := run(t, k8s136, map[string]any{"gpuPools": []any{
		map[string]any{"name": "a", "gpus": []string{"t4g"}, "maxGPUs": 2, "architectures": []string{"arm64"}},
	}})
	if err != nil {
		t.Fatalf("a release that covers 1.36 on arm64 was refused: %v", err)
	}
	if len(byType(cloud, typeNodeClass)) != 1 {
		t.Error("no node class declared")
	}
}

func TestGreenfieldChecksTheAMIBeforeCreatingTheCluster(t *testing.T) {
	t.Parallel()
	cloud, err := run(t, fakecloud.Example(clusterName), map[string]any{
		"cluster": map[string]any{
			"create": true, "version": "1.36", "vpcId": "vpc-0a1b2c3d4e5f60718", "subnetIds": []string{"subnet-0aa11bb22cc33dd44", "subnet-0bb22cc33dd44ee55"},
		},
		"nodeClasses": []any{map[string]any{"name": "gpu", "ami": "al2023@v20251120"}},
	})
	if err == nil || !strings.Contains(err.Error(), "Kubernetes 1.36") {
		t.Fatalf("err = %v", err)
	}
	if n := len(cloud.Resources()); n != 0 {
		t.Fatalf("%d resources registered (the cluster among them?) before the AMI was checked", n)
	}
}

// Destroy waits for Karpenter to drain a pool's nodes for at most
// destroyTimeout per NodePool and EC2NodeClass, whose failed deletion is
// reported by the deletion error hook; a pool whose protected jobs
// may hold a drain longer is named at preview, with how to see what holds it.
func TestDestroyTimeout(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		values map[string]any
		want   string
	}{
		"default":     {nil, "30m"},
		"from config": {map[string]any{"destroyTimeout": "2h"}, "2h"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			cloud := mustRun(t, tc.values)
			for _, typ := range []string{typeNodePool, "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"} {
				for _, r := range byType(cloud, typ) {
					if r.DeleteTimeout != tc.want {
						t.Errorf("%s %s: delete timeout %q, want %q", typ, r.Name, r.DeleteTimeout, tc.want)
					}
					if !slices.Equal(r.ErrorHooks, []string{"karpenter-deletion-report"}) {
						t.Errorf("%s %s: error hooks %v; a failed deletion would end with the provider's bare timeout", typ, r.Name, r.ErrorHooks)
					}
				}
			}
		})
	}
	cfg := config.Defaults()
	cfg.ClusterName = clusterName
	cfg.GPUPools[0].JobProtection = config.JobProtection{LongestJob: "72h", PodGracePeriod: "30s"}
	cfg.GPUPools[0].TerminationGracePeriod = "72h30s"
	warnings := strings.Join(stack.Warnings(&cfg, true, karpenter.Installed{}), "\n")
	if !strings.Contains(warnings, "gpuPools[gpu]: draining a node may take terminationGracePeriod 72h30s, longer than destroyTimeout 30m") ||
		!strings.Contains(warnings, "kubectl get nodeclaims -l karpenter.sh/nodepool=gpu") {
		t.Errorf("warnings:\n%s", warnings)
	}
	cfg.GPUPools[0].JobProtection = config.JobProtection{}
	if w := stack.Warnings(&cfg, true, karpenter.Installed{}); len(w) != 0 {
		t.Errorf("a pool without job protection is warned of: %v", w)
	}
}
