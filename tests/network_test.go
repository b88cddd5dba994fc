package tests

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"karpenter-gpu/internal/fakecloud"
	"karpenter-gpu/network"
)

func TestTwoTagResourcesPerSubnetAndSecurityGroup(t *testing.T) {
	t.Parallel()
	cloud := fakecloud.New(fakecloud.Example("ml-prod"), "karpenter-gpu", "test")
	err := cloud.Run(nil, func(ctx *pulumi.Context) error {
		_, err := network.NewDiscoveryTags(ctx, "discovery", &network.DiscoveryTagsArgs{
			ClusterName:    "ml-prod",
			Owner:          "karpenter-gpu/prod",
			Subnets:        network.IDs([]string{"subnet-0bb22cc33dd44ee55", "subnet-0aa11bb22cc33dd44"}),
			SecurityGroups: map[string]pulumi.StringInput{"cluster-security-group": pulumi.String("sg-0c1d2e3f405162738")},
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	urns := map[string]string{}
	got := map[string]map[string]any{}
	for _, r := range cloud.Resources() {
		if r.Type == "aws:ec2/tag:Tag" {
			got[r.Name], urns[r.Name] = r.Inputs, r.URN
		}
	}
	for key, id := range map[string]string{
		"subnet-0aa11bb22cc33dd44": "subnet-0aa11bb22cc33dd44", "subnet-0bb22cc33dd44ee55": "subnet-0bb22cc33dd44ee55",
		"cluster-security-group": "sg-0c1d2e3f405162738",
	} {
		discovery, owner := got["discovery-"+key], got["discovery-"+key+"-owner"]
		if !reflect.DeepEqual(discovery, map[string]any{"resourceId": id, "key": "karpenter.sh/discovery", "value": "ml-prod"}) {
			t.Errorf("discovery tag of %s = %v", key, discovery)
		}
		if !reflect.DeepEqual(owner, map[string]any{"resourceId": id, "key": "karpenter-gpu/discovery-owner", "value": "karpenter-gpu/prod"}) {
			t.Errorf("ownership tag of %s = %v", key, owner)
		}
	}
	if len(got) != 6 {
		t.Errorf("%d tags, want 6: %v", len(got), got)
	}
	// The discovery tag never exists without the ownership tag.
	for _, r := range cloud.Resources() {
		if r.Type == "aws:ec2/tag:Tag" && !strings.HasSuffix(r.Name, "-owner") && !slices.Contains(r.Dependencies, urns[r.Name+"-owner"]) {
			t.Errorf("%s does not wait for its ownership tag", r.Name)
		}
	}
}

func TestOwnedTakesOverNothing(t *testing.T) {
	t.Parallel()
	resources := []network.Resource{
		{ID: "subnet-untagged", Tags: map[string]string{"Name": "private-a"}},
		{ID: "subnet-ours", Tags: map[string]string{"karpenter.sh/discovery": "ml-prod", "karpenter-gpu/discovery-owner": "karpenter-gpu/prod"}},
		{ID: "subnet-preexisting", Tags: map[string]string{"karpenter.sh/discovery": "ml-prod"}},
		{ID: "subnet-other-stack", Tags: map[string]string{"karpenter.sh/discovery": "ml-prod", "karpenter-gpu/discovery-owner": "karpenter-gpu/dev"}},
	}
	ours, err := network.Owned("ml-prod", "karpenter-gpu/prod", resources)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ours, []string{"subnet-untagged", "subnet-ours"}) {
		t.Errorf("owned = %v", ours)
	}
	_, err = network.Owned("ml-prod", "karpenter-gpu/prod", append(resources, network.Resource{ID: "subnet-shared", Tags: map[string]string{"karpenter.sh/discovery": "ml-staging"}}))
	if err == nil || !strings.Contains(err.Error(), "subnet-shared (karpenter.sh/discovery=ml-staging) already serve another cluster's Karpenter") {
		t.Errorf("err = %v", err)
	}
}

// A subnet or security group EC2 does not return is reported at the key
// that named it, before anything is registered.
func TestUnknownNetworkIDsNameTheirKey(t *testing.T) {
	t.Parallel()
	const missing = "subnet-0123456789abcdef9"
	for _, c := range []struct {
		name   string
		values map[string]any
		want   string
	}{
		{"discovery subnet", map[string]any{"discovery": map[string]any{"subnetIds": []string{"subnet-0aa11bb22cc33dd44", missing}}},
			`karpenter-gpu:discovery.subnetIds[1]: "` + missing + `": reading this subnet failed`},
		{"security group", map[string]any{"discovery": map[string]any{"securityGroupIds": []string{"sg-0123456789abcdef9"}}},
			`karpenter-gpu:discovery.securityGroupIds[0]: "sg-0123456789abcdef9": reading this security group failed`},
		{"node class subnet", map[string]any{"nodeClasses": []any{map[string]any{"name": "gpu", "subnetIds": []string{missing}}}},
			`karpenter-gpu:nodeClasses[gpu].subnetIds[0]: "` + missing + `": reading this subnet failed`},
	} {
		t.Run(c.name, func(t *testing.T) {
			cloud, err := run(t, fakecloud.Example(clusterName), c.values)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "aws ec2 describe-") {
				t.Fatalf("err = %v\nwant it to say %q", err, c.want)
			}
			if n := len(cloud.Resources()); n != 0 {
				t.Errorf("%d resources registered", n)
			}
		})
	}
}
