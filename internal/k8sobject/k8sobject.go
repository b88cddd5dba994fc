// Package k8sobject declares a Kubernetes object given as plain values
// (apiVersion, kind, metadata and the rest) through the Kubernetes
// provider, under the provider's own type token for its kind.
//
// It does what the Kubernetes SDK's typed constructors (corev1.NewNamespace,
// batchv1.NewJob) and apiextensions.NewCustomResource do, with the same type
// token, inputs and options, without importing their packages: core/v1
// alone is 235 MB of compiled archive, which every program and test binary
// that declares one object would link. The stack builds its objects as
// plain values anyway, to check them against the CRD schemas and the
// scheduler before anything exists.
package k8sobject

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/utilities"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Object is a declared Kubernetes object.
type Object struct {
	pulumi.CustomResourceState
	Metadata pulumi.MapOutput `pulumi:"metadata"`
}

// Name is the object's metadata.name, as the cluster has it.
func (o *Object) Name() pulumi.StringOutput {
	return o.Metadata.ApplyT(func(m map[string]any) string {
		name, _ := m["name"].(string)
		return name
	}).(pulumi.StringOutput)
}

// New declares object, whose values may be plain or pulumi.Input. Its
// apiVersion and kind must be plain strings: they make the type token.
func New(ctx *pulumi.Context, name string, object map[string]any, opts ...pulumi.ResourceOption) (*Object, error) {
	apiVersion, _ := object["apiVersion"].(string)
	kind, _ := object["kind"].(string)
	if apiVersion == "" || kind == "" {
		return nil, fmt.Errorf("kubernetes object %s: apiVersion and kind must be set, have %q and %q", name, apiVersion, kind)
	}
	token, builtIn := Type(apiVersion, kind)
	if builtIn {
		// As the SDK's typed constructors ask for the provider version
		// its package was generated with; its CustomResource does not.
		opts = utilities.PkgResourceDefaultOpts(opts)
	}
	var o Object
	if err := ctx.RegisterResource(token, name, inputs(object), &o, opts...); err != nil {
		return nil, err
	}
	return &o, nil
}

// Type is the provider's type token of a kind: core/v1 for the core group's
// "v1", the API version itself otherwise. builtIn tells a kind of
// Kubernetes' own API groups (whose names have no dot) from a custom
// resource's.
func Type(apiVersion, kind string) (token string, builtIn bool) {
	group, _, grouped := strings.Cut(apiVersion, "/")
	if !grouped {
		return "kubernetes:core/" + apiVersion + ":" + kind, true
	}
	return "kubernetes:" + apiVersion + ":" + kind, !strings.Contains(group, ".")
}

// inputs are an object's values as the provider's untyped inputs.
type inputs map[string]any

func (inputs) ElementType() reflect.Type { return reflect.TypeOf((*map[string]any)(nil)).Elem() }
