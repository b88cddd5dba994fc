package tests

import (
	"encoding/json"
	"maps"
	"slices"
	"testing"

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
	cfg := stackConfig(t, values)
	err := runProgram(cloud, cfg, nil)
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

// runProgram runs the stack's program on the fake cloud with the stack
// configuration cfg: against the fake cluster's Kubernetes API, refusing
// keys cfg sets that the stack does not define, handing what it observed
// to observe (if not nil).
func runProgram(cloud *fakecloud.Cloud, cfg map[string]string, observe func(stack.Observed)) error {
	return cloud.Run(cfg, stack.Program(stack.Options{Connect: cloud.Connect, OpenReservations: cloud.OpenReservations, ConfigKeys: slices.Collect(maps.Keys(cfg)), Observe: observe}))
}

// outputsInto is an observer that stores the resolved outputs in into.
func outputsInto(into *map[string]any) func(stack.Observed) {
	return func(o stack.Observed) { *into = o.Outputs }
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
	if err := runProgram(cloud, cfg, outputsInto(&outputs)); err != nil {
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
