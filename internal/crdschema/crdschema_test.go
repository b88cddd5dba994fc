package crdschema_test

import (
	"strings"
	"testing"

	"karpenter-gpu/internal/crdschema"
)

func minimalNodePool() map[string]any {
	return map[string]any{
		"apiVersion": "karpenter.sh/v1",
		"kind":       "NodePool",
		"metadata":   map[string]any{"name": "gpu"},
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
			"nodeClassRef": map[string]any{"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "gpu"},
			"requirements": []any{map[string]any{"key": "karpenter.sh/capacity-type", "operator": "In", "values": []string{"spot"}}},
		}}},
	}
}

func TestValidatorAppliesSchemaDefaultsAndRules(t *testing.T) {
	v, err := crdschema.Karpenter()
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Validate(minimalNodePool()); err != nil {
		t.Fatalf("minimal NodePool rejected: %v", err)
	}
	bad := minimalNodePool()
	req := bad["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["requirements"].([]any)[0].(map[string]any)
	req["operator"], req["values"] = "Gt", []string{"1", "2"}
	if err := v.Validate(bad); err == nil || !strings.Contains(err.Error(), "NodePool gpu is invalid") {
		t.Fatalf("a Gt requirement with two values passed: %v", err)
	}
}

func TestUnknownKind(t *testing.T) {
	v, err := crdschema.Karpenter()
	if err != nil {
		t.Fatal(err)
	}
	err = v.Validate(map[string]any{"apiVersion": "karpenter.sh/v1beta1", "kind": "NodePool"})
	if err == nil || !strings.Contains(err.Error(), "no CRD serves karpenter.sh/v1beta1 NodePool") {
		t.Fatalf("v1beta1 accepted: %v", err)
	}
}
