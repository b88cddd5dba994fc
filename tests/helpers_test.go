package tests

import (
	"encoding/json"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"karpenter-gpu/config"
	"karpenter-gpu/internal/crdschema"
	"karpenter-gpu/internal/fakecloud"
	"karpenter-gpu/internal/stackfile"
	"karpenter-gpu/stack"
)

const clusterName = "ml-prod"

// stackConfig is the stack configuration with the given keys of the
// karpenter-gpu namespace; clusterName is set unless overridden.
func stackConfig(t *testing.T, values map[string]any) map[string]string {
	t.Helper()
	cfg := map[string]string{config.Namespace + ":clusterName": clusterName}
	for k, v := range values {
		if s, ok := v.(string); ok {
			cfg[config.Namespace+":"+k] = s
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		cfg[config.Namespace+":"+k] = string(b)
	}
	return cfg
}

// run runs the real program against a fake cluster with the given keys.
// Whatever the configuration, no node class it renders may carry a
// selector term that Karpenter ignores.
func run(t *testing.T, cluster fakecloud.Cluster, values map[string]any) (*fakecloud.Cloud, error) {
	t.Helper()
	cloud := fakecloud.New(cluster, config.Namespace, "test")
	err := cloud.Run(stackConfig(t, values), stack.Run)
	checkSelectorTerms(t, cloud)
	return cloud, err
}

// checkSelectorTerms fails for a selector term of an EC2NodeClass that
// selects nothing. Karpenter v1.15.3 and the LTS patches (v1.14.4, v1.9.4)
// ignore a term whose tags map is empty or whose name, id, alias or
// ssmParameter is empty, make a class whose terms are all empty not Ready,
// and an AMI term with only an owner selects no image.
// It returns how many terms it checked.
func checkSelectorTerms(t *testing.T, cloud *fakecloud.Cloud) int {
	t.Helper()
	checked := 0
	for _, nc := range byType(cloud, "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass") {
		spec, _ := nc.Inputs["spec"].(map[string]any)
		for _, field := range []string{"amiSelectorTerms", "subnetSelectorTerms", "securityGroupSelectorTerms", "capacityReservationSelectorTerms"} {
			terms, _ := spec[field].([]any)
			for i, term := range terms {
				checked++
				m, _ := term.(map[string]any)
				selects := false
				for k, v := range m {
					switch v := v.(type) {
					case string:
						if v == "" {
							t.Errorf("EC2NodeClass %s: %s[%d].%s is empty: Karpenter ignores the term", nc.Name, field, i, k)
						}
						selects = selects || (v != "" && k != "owner")
					case map[string]any:
						if len(v) == 0 {
							t.Errorf("EC2NodeClass %s: %s[%d].%s is an empty map: Karpenter ignores the term", nc.Name, field, i, k)
						}
						for tag, value := range v {
							if tag == "" || value == "" {
								t.Errorf("EC2NodeClass %s: %s[%d].%s has an empty tag %q=%q", nc.Name, field, i, k, tag, value)
							}
						}
						selects = selects || len(v) > 0
					}
				}
				if !selects {
					t.Errorf("EC2NodeClass %s: %s[%d] %v selects nothing", nc.Name, field, i, m)
				}
			}
		}
	}
	return checked
}

// observe is the program that also stores its resolved outputs in into.
func observe(into *map[string]any) pulumi.RunFunc {
	return stack.RunObserved(func(o stack.Observed) { *into = o.Outputs })
}

// schemaCheck validates a Karpenter object against the pinned CRDs.
func schemaCheck(obj map[string]any) error {
	v, err := crdschema.Karpenter()
	if err != nil {
		return err
	}
	return v.Validate(obj)
}

func mustRun(t *testing.T, values map[string]any) *fakecloud.Cloud {
	t.Helper()
	cloud, err := run(t, fakecloud.Example(clusterName), values)
	if err != nil {
		t.Fatal(err)
	}
	return cloud
}

// byType returns the resources of one type token.
func byType(cloud *fakecloud.Cloud, typ string) []fakecloud.Resource {
	var out []fakecloud.Resource
	for _, r := range cloud.Resources() {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

func one(t *testing.T, cloud *fakecloud.Cloud, typ, name string) fakecloud.Resource {
	t.Helper()
	for _, r := range byType(cloud, typ) {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no %s named %s", typ, name)
	return fakecloud.Resource{}
}

// children are the resources a component registered directly.
func children(cloud *fakecloud.Cloud, parent fakecloud.Resource) []fakecloud.Resource {
	var out []fakecloud.Resource
	for _, r := range cloud.Resources() {
		if r.Parent == parent.URN {
			out = append(out, r)
		}
	}
	return out
}

// runStackFile runs the real program with a committed stack file against
// the example cluster named in it.
func runStackFile(t *testing.T, file string) *fakecloud.Cloud {
	t.Helper()
	cloud, _ := runStackFileOutputs(t, file)
	return cloud
}

// runStackFileOutputs is runStackFile that also returns the stack outputs
// as `pulumi stack output --json` shows them.
func runStackFileOutputs(t *testing.T, file string) (*fakecloud.Cloud, map[string]any) {
	t.Helper()
	cfg, err := stackfile.Read(file)
	if err != nil {
		t.Fatal(err)
	}
	cloud := fakecloud.New(fakecloud.ExampleIn(cfg[config.Namespace+":clusterName"], cfg["aws:region"]), config.Namespace, "test")
	var outputs map[string]any
	if err := cloud.Run(cfg, stack.RunObserved(func(o stack.Observed) { outputs = o.Outputs })); err != nil {
		t.Fatal(err)
	}
	if checkSelectorTerms(t, cloud) < 3 {
		t.Errorf("%s: fewer selector terms than a node class has (AMI, subnets, security groups): the check saw none", file)
	}
	if outputs == nil {
		t.Fatal("the program's outputs were never resolved")
	}
	raw, err := json.Marshal(outputs)
	if err != nil {
		t.Fatal(err)
	}
	var asJSON map[string]any
	if err := json.Unmarshal(raw, &asJSON); err != nil {
		t.Fatal(err)
	}
	return cloud, asJSON
}
