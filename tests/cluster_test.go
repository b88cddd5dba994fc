package tests

import (
	"encoding/json"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"karpenter-gpu/cluster"
	"karpenter-gpu/config"
	"karpenter-gpu/internal/fakecloud"
	"karpenter-gpu/kubeconfig"
)

const nodeRole = "arn:aws:iam::123456789012:role/karpenter-node-1a2b3c4"

func entries(t *testing.T, mapRoles string) []map[string]any {
	t.Helper()
	var out []map[string]any
	if err := yaml.Unmarshal([]byte(mapRoles), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestMergeMapRolesKeepsEveryExistingEntry(t *testing.T) {
	t.Parallel()
	existing := fakecloud.Example("ml-prod").AwsAuthMapRoles
	merged, err := cluster.MergeMapRoles(existing, nodeRole)
	if err != nil {
		t.Fatal(err)
	}
	got := entries(t, merged)
	before := entries(t, existing)
	if len(got) != len(before)+1 {
		t.Fatalf("%d entries, want %d:\n%s", len(got), len(before)+1, merged)
	}
	for i, e := range before {
		a, _ := json.Marshal(e)
		b, _ := json.Marshal(got[i])
		if string(a) != string(b) {
			t.Errorf("entry %d changed: %s -> %s", i, a, b)
		}
	}
	ours := got[len(got)-1]
	if ours["rolearn"] != nodeRole || ours["username"] != "system:node:{{EC2PrivateDNSName}}" {
		t.Errorf("node entry = %v", ours)
	}
	if g, _ := json.Marshal(ours["groups"]); string(g) != `["system:bootstrappers","system:nodes"]` {
		t.Errorf("groups = %s", g)
	}
}

func TestMergeMapRolesTwiceChangesNothing(t *testing.T) {
	t.Parallel()
	once, err := cluster.MergeMapRoles(fakecloud.Example("ml-prod").AwsAuthMapRoles, nodeRole)
	if err != nil {
		t.Fatal(err)
	}
	twice, err := cluster.MergeMapRoles(once, nodeRole)
	if err != nil {
		t.Fatal(err)
	}
	if once != twice {
		t.Fatalf("second merge changed mapRoles:\n%s\n---\n%s", once, twice)
	}
	if strings.Count(twice, nodeRole) != 1 {
		t.Fatalf("node role mapped %d times", strings.Count(twice, nodeRole))
	}
}

func TestMergeMapRolesIntoEmptyAndBroken(t *testing.T) {
	t.Parallel()
	merged, err := cluster.MergeMapRoles("", nodeRole)
	if err != nil || len(entries(t, merged)) != 1 {
		t.Fatalf("merge into empty: %v %q", err, merged)
	}
	if _, err := cluster.MergeMapRoles("rolearn: [unclosed", nodeRole); err == nil {
		t.Fatal("accepted a mapRoles that is not YAML")
	}
}

func TestResolveNodeAccess(t *testing.T) {
	t.Parallel()
	cases := []struct {
		requested    config.NodeAccessMode
		authMode     string
		existingRole bool
		want         config.NodeAccessMode
		err          string
	}{
		{config.NodeAccessAuto, "API", false, config.NodeAccessAccessEntry, ""},
		{config.NodeAccessAuto, "API_AND_CONFIG_MAP", false, config.NodeAccessAccessEntry, ""},
		{config.NodeAccessAuto, "CONFIG_MAP", false, config.NodeAccessAwsAuth, ""},
		{config.NodeAccessAuto, "API", true, config.NodeAccessNone, ""},
		{config.NodeAccessAccessEntry, "API", true, config.NodeAccessAccessEntry, ""},
		{config.NodeAccessAwsAuth, "API_AND_CONFIG_MAP", false, config.NodeAccessAwsAuth, ""},
		{config.NodeAccessAccessEntry, "CONFIG_MAP", false, "", `karpenter-gpu:nodeAccess: "accessEntry": the cluster's authentication mode is CONFIG_MAP`},
		{config.NodeAccessAwsAuth, "API", false, "", `karpenter-gpu:nodeAccess: "awsAuth": the cluster's authentication mode is API`},
	}
	for _, tc := range cases {
		got, err := cluster.ResolveNodeAccess(tc.requested, tc.authMode, tc.existingRole)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s on %s: err = %v, want %q", tc.requested, tc.authMode, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s on %s = %s, %v; want %s", tc.requested, tc.authMode, got, err, tc.want)
		}
	}
}

func TestKubeconfigHoldsNoCredential(t *testing.T) {
	t.Parallel()
	c := fakecloud.Example("ml-prod")
	raw, err := kubeconfig.ForEKS(c.Name, c.Endpoint, c.CertificateAuthority, c.Region)
	if err != nil {
		t.Fatal(err)
	}
	var kc struct {
		Clusters []struct {
			Cluster struct {
				Server string `json:"server"`
				CA     string `json:"certificate-authority-data"`
			} `json:"cluster"`
		} `json:"clusters"`
		Users []struct {
			User map[string]any `json:"user"`
		} `json:"users"`
	}
	if err := json.Unmarshal([]byte(raw), &kc); err != nil {
		t.Fatal(err)
	}
	if kc.Clusters[0].Cluster.Server != c.Endpoint || kc.Clusters[0].Cluster.CA != c.CertificateAuthority {
		t.Errorf("cluster = %+v", kc.Clusters[0])
	}
	user := kc.Users[0].User
	if _, ok := user["token"]; ok {
		t.Error("kubeconfig carries a token")
	}
	exec, _ := json.Marshal(user["exec"])
	for _, want := range []string{`"command":"aws"`, `"get-token","--cluster-name","ml-prod"`, `"--region","us-west-2"`} {
		if !strings.Contains(string(exec), want) {
			t.Errorf("exec %s lacks %s", exec, want)
		}
	}
	if _, err := kubeconfig.ForEKS(c.Name, c.Endpoint, "not base64!", c.Region); err == nil {
		t.Error("accepted a certificate authority that is not base64")
	}
}
