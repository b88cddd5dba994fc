// Command fakeaws is a stand-in for the pulumi-aws provider plugin: the
// real engine drives it like the AWS provider, and it answers from the same
// fake cloud the offline render uses. Resources get the IDs and ARNs AWS
// would give them; invokes answer with the fake cluster, which the
// end-to-end harness points at its local API server.
//
// The cluster comes as JSON (a fakecloud.Cluster) in the environment
// variable e2e.ClusterEnv names.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime/debug"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"

	"karpenter-gpu/e2e"
	"karpenter-gpu/internal/fakecloud"
)

func main() {
	if err := provider.Main("aws", newProvider); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func newProvider(*provider.HostClient) (pulumirpc.ResourceProviderServer, error) {
	var cl fakecloud.Cluster
	if err := json.Unmarshal([]byte(os.Getenv(e2e.ClusterEnv)), &cl); err != nil {
		return nil, fmt.Errorf("fakeaws: $%s must hold the fake cluster as JSON: %w", e2e.ClusterEnv, err)
	}
	return &awsProvider{cloud: fakecloud.New(cl, "", "")}, nil
}

type awsProvider struct {
	pulumirpc.UnimplementedResourceProviderServer
	cloud *fakecloud.Cloud
}

// keep is how properties cross the wire: secrets and unknowns preserved.
var keep = plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true, KeepResources: true, KeepOutputValues: true}

func (p *awsProvider) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: sdkVersion()}, nil
}

// sdkVersion is the version of the pulumi-aws SDK this module builds with:
// the provider version the program asks the engine for.
func sdkVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, m := range info.Deps {
			if m.Path == "github.com/pulumi/pulumi-aws/sdk/v6" {
				return strings.TrimPrefix(m.Version, "v")
			}
		}
	}
	return ""
}

func (p *awsProvider) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

func (p *awsProvider) DiffConfig(context.Context, *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
}

func (p *awsProvider) Configure(context.Context, *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, SupportsPreview: true, AcceptResources: true, AcceptOutputs: true}, nil
}

func (p *awsProvider) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

// Diff compares the inputs the resource was created with to the new ones;
// like AWS's provider, it updates in place.
func (p *awsProvider) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	olds, err := plugin.UnmarshalProperties(req.GetOldInputs(), keep)
	if err != nil {
		return nil, err
	}
	news, err := plugin.UnmarshalProperties(req.GetNews(), keep)
	if err != nil {
		return nil, err
	}
	diff := olds.Diff(news)
	if diff == nil || !diff.AnyChanges() {
		return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
	}
	var keys []string
	for _, k := range diff.ChangedKeys() {
		keys = append(keys, string(k))
	}
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_SOME, Diffs: keys}, nil
}

// state is what the provider reports for a resource: the fake cloud's
// state, with the inputs as they came (secrets stay secret, unknowns stay
// unknown at preview).
func (p *awsProvider) state(urn, id string, inputs resource.PropertyMap) (string, *structpb.Struct, error) {
	u := resource.URN(urn)
	id, st, err := p.cloud.NewResource(pulumi.MockResourceArgs{TypeToken: string(u.Type()), Name: u.Name(), Inputs: inputs, ID: id, Custom: true})
	if err != nil {
		return "", nil, err
	}
	for k, v := range inputs {
		st[k] = v
	}
	out, err := plugin.MarshalProperties(st, keep)
	return id, out, err
}

func (p *awsProvider) Create(_ context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	inputs, err := plugin.UnmarshalProperties(req.GetProperties(), keep)
	if err != nil {
		return nil, err
	}
	id, props, err := p.state(req.GetUrn(), "", inputs)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CreateResponse{Id: id, Properties: props}, nil
}

// Read answers a refresh with what the resource already holds (nothing
// changes behind the engine's back in the fake cloud), and an import (no
// state yet) with what the account already has under that ID.
func (p *awsProvider) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	if len(req.GetProperties().GetFields()) > 0 {
		return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: req.GetInputs()}, nil
	}
	inputs, found := p.cloud.Existing(string(resource.URN(req.GetUrn()).Type()), req.GetId())
	if !found {
		return &pulumirpc.ReadResponse{}, nil // not found
	}
	id, props, err := p.state(req.GetUrn(), req.GetId(), inputs)
	if err != nil {
		return nil, err
	}
	in, err := plugin.MarshalProperties(inputs, keep)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.ReadResponse{Id: id, Properties: props, Inputs: in}, nil
}

func (p *awsProvider) Update(_ context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	inputs, err := plugin.UnmarshalProperties(req.GetNews(), keep)
	if err != nil {
		return nil, err
	}
	_, props, err := p.state(req.GetUrn(), req.GetId(), inputs)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.UpdateResponse{Properties: props}, nil
}

func (p *awsProvider) Delete(_ context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func (p *awsProvider) Invoke(_ context.Context, req *pulumirpc.InvokeRequest) (*pulumirpc.InvokeResponse, error) {
	args, err := plugin.UnmarshalProperties(req.GetArgs(), keep)
	if err != nil {
		return nil, err
	}
	out, err := p.cloud.Call(pulumi.MockCallArgs{Token: req.GetTok(), Args: args})
	if err != nil {
		// Like the AWS provider: a failed lookup is an invoke failure the
		// program sees as an error, not a broken plugin.
		return &pulumirpc.InvokeResponse{Failures: []*pulumirpc.CheckFailure{{Reason: err.Error()}}}, nil
	}
	ret, err := plugin.MarshalProperties(out, keep)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.InvokeResponse{Return: ret}, nil
}

func (p *awsProvider) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}
