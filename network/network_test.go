package network_test

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"karpenter-gpu/internal/fakecloud"
	"karpenter-gpu/network"
)

func TestOneTagResourcePerSubnetAndSecurityGroup(t *testing.T) {
	cloud := fakecloud.New(fakecloud.Example("ml-prod"), "karpenter-gpu", "test")
	err := cloud.Run(nil, func(ctx *pulumi.Context) error {
		_, err := network.NewDiscoveryTags(ctx, "discovery", &network.DiscoveryTagsArgs{
			ClusterName:    "ml-prod",
			Subnets:        network.IDs([]string{"subnet-0bb22cc33dd44ee55", "subnet-0aa11bb22cc33dd44"}),
			SecurityGroups: map[string]pulumi.StringInput{"cluster-security-group": pulumi.String("sg-0c1d2e3f405162738")},
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"discovery-subnet-0aa11bb22cc33dd44": "subnet-0aa11bb22cc33dd44",
		"discovery-subnet-0bb22cc33dd44ee55": "subnet-0bb22cc33dd44ee55",
		"discovery-cluster-security-group":   "sg-0c1d2e3f405162738",
	}
	got := map[string]string{}
	for _, r := range cloud.Resources() {
		if r.Type != "aws:ec2/tag:Tag" {
			continue
		}
		if r.Inputs["key"] != "karpenter.sh/discovery" || r.Inputs["value"] != "ml-prod" {
			t.Errorf("%s: %v", r.Name, r.Inputs)
		}
		if len(r.Inputs) != 3 {
			t.Errorf("%s sets more than one tag: %v", r.Name, r.Inputs)
		}
		got[r.Name] = r.Inputs["resourceId"].(string)
	}
	if len(got) != len(want) {
		t.Fatalf("tags = %v, want %v", got, want)
	}
	for name, id := range want {
		if got[name] != id {
			t.Errorf("%s tags %q, want %q", name, got[name], id)
		}
	}
}
