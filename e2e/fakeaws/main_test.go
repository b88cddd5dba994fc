package main

import (
	"context"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/structpb"

	"karpenter-gpu/internal/fakecloud"
)

func props(t *testing.T, m map[string]any) *structpb.Struct {
	t.Helper()
	s, err := plugin.MarshalProperties(resource.NewPropertyMapFromMap(m), keep)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newTestProvider() *awsProvider {
	return &awsProvider{cloud: fakecloud.New(fakecloud.Example("ml-dev"), "", "")}
}

// The end-to-end run's second up and its preview of a change are only as
// good as this Diff: it must see every changed input and nothing else.
func TestDiff(t *testing.T) {
	old := map[string]any{"name": "q", "tags": map[string]any{"team": "ml"}}
	cases := []struct {
		name string
		news map[string]any
		want pulumirpc.DiffResponse_DiffChanges
		keys []string
	}{
		{"unchanged", old, pulumirpc.DiffResponse_DIFF_NONE, nil},
		{"tag changed", map[string]any{"name": "q", "tags": map[string]any{"team": "infra"}}, pulumirpc.DiffResponse_DIFF_SOME, []string{"tags"}},
		{"input added", map[string]any{"name": "q", "tags": map[string]any{"team": "ml"}, "delay": 5}, pulumirpc.DiffResponse_DIFF_SOME, []string{"delay"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, err := newTestProvider().Diff(context.Background(), &pulumirpc.DiffRequest{OldInputs: props(t, old), News: props(t, c.news)})
			if err != nil {
				t.Fatal(err)
			}
			if resp.GetChanges() != c.want || len(resp.GetDiffs()) != len(c.keys) || (len(c.keys) > 0 && resp.GetDiffs()[0] != c.keys[0]) {
				t.Fatalf("Diff = %v %v, want %v %v", resp.GetChanges(), resp.GetDiffs(), c.want, c.keys)
			}
		})
	}
}

// An import reads what the account has under the ID, like AWS: the Spot
// service-linked role, named by its ARN; anything else is not found.
func TestReadImportsOnlyWhatTheAccountHas(t *testing.T) {
	const urn = "urn:pulumi:dev::karpenter-gpu::aws:iam/serviceLinkedRole:ServiceLinkedRole::spot"
	const arn = "arn:aws:iam::123456789012:role/aws-service-role/spot.amazonaws.com/AWSServiceRoleForEC2Spot"
	resp, err := newTestProvider().Read(context.Background(), &pulumirpc.ReadRequest{Id: arn, Urn: urn})
	if err != nil {
		t.Fatal(err)
	}
	inputs, err := plugin.UnmarshalProperties(resp.GetInputs(), keep)
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetId() != arn || inputs["awsServiceName"].StringValue() != "spot.amazonaws.com" || !inputs["description"].IsString() {
		t.Fatalf("import read %q %v", resp.GetId(), inputs)
	}
	missing, err := newTestProvider().Read(context.Background(), &pulumirpc.ReadRequest{Id: arn + "-other", Urn: urn})
	if err != nil || missing.GetId() != "" {
		t.Fatalf("read of a role the account lacks = %v, %v", missing, err)
	}
}
