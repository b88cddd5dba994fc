// Package helmrelease declares Helm releases (the Kubernetes provider's
// kubernetes:helm.sh/v3:Release) from a chart folder, OCI registry or HTTP
// chart repository given as configuration.
//
// It registers the provider's resource type with the provider SDK's own
// defaults instead of importing the SDK's helm/v3 package: that package
// also holds the Chart component, which links every Kubernetes API group
// of the SDK (3.3 GB of compiled archives) into each program and test
// binary that declares a release. The resource, its inputs and its state
// are the same.
package helmrelease

import (
	"reflect"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/utilities"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Type is the provider's resource type of a Helm release.
const Type = "kubernetes:helm.sh/v3:Release"

// Args are the release settings the stack uses.
type Args struct {
	// Name is the Helm release name.
	Name string
	// Repository is where the chart is: a local folder of chart folders,
	// oci://…, or an HTTP chart repository.
	Repository string
	// Chart is the chart's name in Repository.
	Chart           string
	Version         string
	Namespace       pulumi.StringInput
	CreateNamespace bool
	SkipCRDs        bool
	Values          pulumi.MapInput
}

// Release is a Helm release.
type Release struct {
	pulumi.CustomResourceState
	Name      pulumi.StringPtrOutput `pulumi:"name"`
	Namespace pulumi.StringPtrOutput `pulumi:"namespace"`
}

// New declares a Helm release.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*Release, error) {
	chart, repo := Reference(args.Repository, args.Chart)
	in := releaseInputs{
		Name:      pulumi.String(args.Name),
		Chart:     pulumi.String(chart),
		Version:   pulumi.String(args.Version),
		Namespace: args.Namespace,
		Values:    args.Values,
		// As the SDK sets it: the provider keeps the state layout of
		// releases the SDK declares.
		Compat: pulumi.String("true"),
	}
	if repo != "" {
		in.RepositoryOpts = pulumi.Map{"repo": pulumi.String(repo)}
	}
	if args.CreateNamespace {
		in.CreateNamespace = pulumi.Bool(true)
	}
	if args.SkipCRDs {
		in.SkipCrds = pulumi.Bool(true)
	}
	var r Release
	if err := ctx.RegisterResource(Type, name, in, &r, utilities.PkgResourceDefaultOpts(opts)...); err != nil {
		return nil, err
	}
	return &r, nil
}

// releaseInputs are the provider's input properties the stack sets; unset
// ones are not sent, as with the SDK.
type releaseInputs struct {
	Chart           pulumi.StringInput `pulumi:"chart"`
	Compat          pulumi.StringInput `pulumi:"compat"`
	CreateNamespace pulumi.BoolInput   `pulumi:"createNamespace"`
	Name            pulumi.StringInput `pulumi:"name"`
	Namespace       pulumi.StringInput `pulumi:"namespace"`
	RepositoryOpts  pulumi.MapInput    `pulumi:"repositoryOpts"`
	SkipCrds        pulumi.BoolInput   `pulumi:"skipCrds"`
	Values          pulumi.MapInput    `pulumi:"values"`
	Version         pulumi.StringInput `pulumi:"version"`
}

type releaseProps struct {
	Chart           string         `pulumi:"chart"`
	Compat          *string        `pulumi:"compat"`
	CreateNamespace *bool          `pulumi:"createNamespace"`
	Name            *string        `pulumi:"name"`
	Namespace       *string        `pulumi:"namespace"`
	RepositoryOpts  map[string]any `pulumi:"repositoryOpts"`
	SkipCrds        *bool          `pulumi:"skipCrds"`
	Values          map[string]any `pulumi:"values"`
	Version         *string        `pulumi:"version"`
}

func (releaseInputs) ElementType() reflect.Type { return reflect.TypeOf((*releaseProps)(nil)).Elem() }
