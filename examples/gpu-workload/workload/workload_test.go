package workload

import (
	"reflect"
	"strings"
	"testing"
)

func TestChooseReadsOnePoolOfTheContract(t *testing.T) {
	outputs := map[string]any{
		"training": map[string]any{
			"nodeSelector":    map[string]any{"karpenter-gpu/pool": "training"},
			"tolerations":     []any{map[string]any{"key": "workload", "operator": "Equal", "value": "training", "effect": "NoSchedule"}},
			"gpuResourceName": "nvidia.com/gpu",
			"maxGPUs":         32, // keys the workload does not use are ignored
		},
	}
	p, err := choose(outputs, "training")
	if err != nil {
		t.Fatal(err)
	}
	want := Pool{
		NodeSelector:    map[string]string{"karpenter-gpu/pool": "training"},
		Tolerations:     []Toleration{{Key: "workload", Operator: "Equal", Value: "training", Effect: "NoSchedule"}},
		GPUResourceName: "nvidia.com/gpu",
	}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("got %+v", p)
	}
	if _, err := choose(outputs, "inference"); err == nil || !strings.Contains(err.Error(), `pool "inference" is not one of the platform's GPU pools: training`) {
		t.Errorf("unknown pool: %v", err)
	}
	if _, err := choose(nil, "training"); err == nil || !strings.Contains(err.Error(), "no gpuPools output") {
		t.Errorf("no gpuPools output: %v", err)
	}
}
