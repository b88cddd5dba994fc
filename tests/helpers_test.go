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
func run(t *testing.T, cluster fakecloud.Cluster, values map[string]any) (*fakecloud.Cloud, error) {
	t.Helper()
	cloud := fakecloud.New(cluster, config.Namespace, "test")
	return cloud, cloud.Run(stackConfig(t, values), stack.Run)
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
