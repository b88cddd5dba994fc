package main

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// platform answers the StackReference with the outputs the karpenter-gpu
// stack exports, and records the Deployment.
type platform struct {
	mu         sync.Mutex
	deployment resource.PropertyMap
}

func (p *platform) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	switch args.TypeToken {
	case "pulumi:pulumi:StackReference":
		return args.Name, resource.NewPropertyMapFromMap(map[string]any{
			"name": args.Name,
			"outputs": map[string]any{
				"gpuPoolNames":         []any{"inference", "training"},
				"gpuPoolNodeSelectors": map[string]any{"inference": map[string]any{"karpenter-gpu/pool": "inference"}, "training": map[string]any{"karpenter-gpu/pool": "training"}},
				"gpuTaint":             map[string]any{"key": "nvidia.com/gpu", "effect": "NoSchedule"},
				"gpuResourceName":      "nvidia.com/gpu",
			},
			"secretOutputNames": []any{},
		}), nil
	case "kubernetes:apps/v1:Deployment":
		p.mu.Lock()
		p.deployment = args.Inputs
		p.mu.Unlock()
	}
	return args.Name + "-id", args.Inputs, nil
}

func (p *platform) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return resource.PropertyMap{}, nil
}

func deploy(t *testing.T, pool string) (map[string]any, error) {
	cfg, _ := json.Marshal(map[string]string{"gpu-workload:platformStack": "my-org/karpenter-gpu/dev", "gpu-workload:pool": pool})
	t.Setenv(pulumi.EnvConfig, string(cfg))
	p := &platform{}
	err := pulumi.RunErr(program, pulumi.WithMocks("gpu-workload", "dev", p))
	if p.deployment == nil {
		return nil, err
	}
	return p.deployment.Mappable(), err
}

func TestInferenceLandsOnTheGPUPool(t *testing.T) {
	d, err := deploy(t, "inference")
	if err != nil {
		t.Fatal(err)
	}
	tmpl := d["spec"].(map[string]any)["template"].(map[string]any)
	pod := tmpl["spec"].(map[string]any)
	if sel := pod["nodeSelector"].(map[string]any); sel["karpenter-gpu/pool"] != "inference" || len(sel) != 1 {
		t.Errorf("nodeSelector = %v", sel)
	}
	tol := pod["tolerations"].([]any)[0].(map[string]any)
	if tol["key"] != "nvidia.com/gpu" || tol["effect"] != "NoSchedule" || tol["operator"] != "Exists" {
		t.Errorf("toleration = %v", tol)
	}
	limits := pod["containers"].([]any)[0].(map[string]any)["resources"].(map[string]any)["limits"].(map[string]any)
	if limits["nvidia.com/gpu"] != "1" {
		t.Errorf("limits = %v", limits)
	}
	if a := tmpl["metadata"].(map[string]any)["annotations"].(map[string]any); a["karpenter.sh/do-not-disrupt"] != "true" {
		t.Errorf("annotations = %v", a)
	}
}

func TestUnknownPoolIsRefused(t *testing.T) {
	_, err := deploy(t, "cheap")
	if err == nil || !strings.Contains(err.Error(), `pool "cheap" is not one of the platform's GPU pools`) {
		t.Fatalf("err = %v", err)
	}
}
