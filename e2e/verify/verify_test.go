package verify

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
)

func TestContains(t *testing.T) {
	rendered := map[string]any{
		"limits":   map[string]any{"nvidia.com/gpu": "16"},
		"template": map[string]any{"spec": map[string]any{"requirements": []any{map[string]any{"key": "a", "values": []any{"x"}}}}},
		"weight":   float64(10),
	}
	cases := []struct {
		name    string
		server  any
		wantErr string
	}{
		{"same", rendered, ""},
		{"server defaults added", map[string]any{
			"limits":     map[string]any{"nvidia.com/gpu": "16"},
			"template":   map[string]any{"spec": map[string]any{"requirements": []any{map[string]any{"key": "a", "operator": "In", "values": []any{"x"}}}}},
			"weight":     int64(10),
			"disruption": map[string]any{"budgets": []any{}},
		}, ""},
		{"value changed", map[string]any{
			"limits": map[string]any{"nvidia.com/gpu": "8"}, "template": rendered["template"], "weight": 10,
		}, `spec.limits.nvidia.com/gpu: want 16, API server holds 8`},
		{"field pruned", map[string]any{"limits": rendered["limits"], "template": rendered["template"]}, "spec.weight: want 10, API server holds <nil>"},
		{"list shortened", map[string]any{
			"limits": rendered["limits"], "template": map[string]any{"spec": map[string]any{"requirements": []any{}}}, "weight": 10,
		}, "spec.template.spec.requirements"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Contains(c.server, rendered, "spec")
			if c.wantErr == "" && err != nil {
				t.Fatalf("unexpected difference: %v", err)
			}
			if c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
				t.Fatalf("got %v, want an error with %q", err, c.wantErr)
			}
		})
	}
}

func TestLeftOver(t *testing.T) {
	before := map[string]bool{"namespaces /default": true}
	after := map[string]bool{"namespaces /default": true, "secrets karpenter/sh.helm.release.v1.karpenter.v1": true, "nodepools /inference": true}
	got := LeftOver(before, after)
	if strings.Join(got, ",") != "nodepools /inference,secrets karpenter/sh.helm.release.v1.karpenter.v1" {
		t.Fatalf("LeftOver = %v", got)
	}
	if got := LeftOver(after, before); len(got) != 0 {
		t.Fatalf("nothing new, got %v", got)
	}
}

const (
	nodePool  = "urn:pulumi:dev::karpenter-gpu::kubernetes:karpenter.sh/v1:NodePool::gpu-pool-inference"
	nodeClass = "urn:pulumi:dev::karpenter-gpu::kubernetes:karpenter.k8s.aws/v1:EC2NodeClass::gpu"
	release   = "urn:pulumi:dev::karpenter-gpu::karpenter-gpu:karpenter:Controller$kubernetes:helm.sh/v3:Release::karpenter"
	access    = "urn:pulumi:dev::karpenter-gpu::karpenter-gpu:cluster:NodeAccess$aws:eks/accessEntry:AccessEntry::karpenter-node-access"
)

func typeOf(urn string) string {
	parts := strings.Split(urn, "::")
	qualified := strings.Split(parts[2], "$")
	return qualified[len(qualified)-1]
}

// deletions makes a destroy's events: each entry begins ("+urn") or ends
// ("-urn") the deletion of a resource.
func deletions(steps ...string) []apitype.EngineEvent {
	var evs []apitype.EngineEvent
	for _, s := range steps {
		urn := s[1:]
		meta := apitype.StepEventMetadata{Op: apitype.OpDelete, URN: urn, Type: typeOf(urn)}
		if s[0] == '+' {
			evs = append(evs, apitype.EngineEvent{ResourcePreEvent: &apitype.ResourcePreEvent{Metadata: meta}})
		} else {
			evs = append(evs, apitype.EngineEvent{ResOutputsEvent: &apitype.ResOutputsEvent{Metadata: meta}})
		}
	}
	return evs
}

func TestDestroyOrder(t *testing.T) {
	cases := []struct {
		name    string
		events  []apitype.EngineEvent
		wantErr string
	}{
		{"pools and classes first", deletions("+"+nodePool, "-"+nodePool, "+"+nodeClass, "-"+nodeClass, "+"+release, "+"+access, "-"+release, "-"+access), ""},
		{"controller removed while a pool is still going", deletions("+"+nodePool, "+"+release, "-"+nodePool, "+"+nodeClass, "-"+nodeClass, "+"+access), "began deleting " + release},
		{"node access removed before the node class is gone", deletions("+"+nodePool, "-"+nodePool, "+"+nodeClass, "+"+access, "-"+nodeClass, "+"+release), "began deleting " + access},
		{"node class never finished", deletions("+"+nodePool, "-"+nodePool, "+"+nodeClass, "+"+release, "+"+access), "never finished deleting " + nodeClass},
		{"nothing of Karpenter's deleted", deletions("+"+release, "+"+access), "want both"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := DestroyOrder(c.events)
			if c.wantErr == "" && err != nil {
				t.Fatalf("unexpected: %v", err)
			}
			if c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
				t.Fatalf("got %v, want an error with %q", err, c.wantErr)
			}
		})
	}
}

// A first up that rewrites an adopted resource is caught, naming it and the
// properties it changed; creates and imports pass.
func TestOnlyCreates(t *testing.T) {
	event := func(op apitype.OpType, urn string, diffs ...string) apitype.EngineEvent {
		return apitype.EngineEvent{ResourcePreEvent: &apitype.ResourcePreEvent{Metadata: apitype.StepEventMetadata{Op: op, URN: urn, Diffs: diffs}}}
	}
	const role = "urn:pulumi:dev::karpenter-gpu::aws:iam/serviceLinkedRole:ServiceLinkedRole::spot"
	if err := OnlyCreates([]apitype.EngineEvent{event(apitype.OpCreate, nodePool), event(apitype.OpImport, role)}); err != nil {
		t.Errorf("creates and an import: %v", err)
	}
	err := OnlyCreates([]apitype.EngineEvent{event(apitype.OpImport, role), event(apitype.OpUpdate, role, "description")})
	if err == nil || !strings.Contains(err.Error(), "update "+role+" [description]") {
		t.Errorf("an import rewritten by an update: %v", err)
	}
}
