// Package crdschema validates objects the way the Kubernetes API server
// validates custom resources: defaulting, the CRD's OpenAPI schema, its CEL
// x-kubernetes-validations, and unknown fields (rejected as by strict field
// validation). The CRDs are the ones the pinned Karpenter Go module embeds.
package crdschema

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	karpenterapis "github.com/aws/karpenter-provider-aws/pkg/apis"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"

	"karpenter-gpu/internal/gomod"
)

type version struct {
	structural *structuralschema.Structural
	openAPI    validation.SchemaValidator
	cel        *cel.Validator
}

// Validator holds the served versions of a set of CRDs by apiVersion and kind.
type Validator struct {
	versions map[string]*version
}

// KarpenterCRDs are the CRD manifests of the Karpenter release the go.mod
// pins, as its module embeds them.
var KarpenterCRDs = [][]byte{
	karpenterapis.EC2NodeClassCRD, karpenterapis.NodePoolCRD, karpenterapis.NodeClaimCRD, karpenterapis.NodeOverlayCRD,
}

// Karpenter validates objects of the Karpenter release the go.mod pins
// (EC2NodeClass, NodePool, NodeClaim, NodeOverlay). The schemas are
// compiled once per process.
var Karpenter = sync.OnceValues(func() (*Validator, error) {
	return New(KarpenterCRDs...)
})

// KarpenterWithCapacityBuffer also validates CapacityBuffers, whose CRD
// the module ships as a file (pkg/apis/crds) but does not embed: it is read
// from the module's folder, so only where the Go toolchain and module cache
// are (tests, the offline render).
var KarpenterWithCapacityBuffer = sync.OnceValues(func() (*Validator, error) {
	dir, err := gomod.Dir(gomod.Karpenter)
	if err != nil {
		return nil, err
	}
	buffer, err := os.ReadFile(filepath.Join(dir, "pkg/apis/crds/autoscaling.x-k8s.io_capacitybuffers.yaml"))
	if err != nil {
		return nil, err
	}
	return New(append(KarpenterCRDs, buffer)...)
})

// New compiles the given CRD manifests.
func New(crds ...[]byte) (*Validator, error) {
	v := &Validator{versions: map[string]*version{}}
	for _, raw := range crds {
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.Unmarshal(raw, &crd); err != nil {
			return nil, fmt.Errorf("reading CRD: %w", err)
		}
		for _, ver := range crd.Spec.Versions {
			if !ver.Served || ver.Schema == nil {
				continue
			}
			var internal apiextensions.JSONSchemaProps
			if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(ver.Schema.OpenAPIV3Schema, &internal, nil); err != nil {
				return nil, err
			}
			structural, err := structuralschema.NewStructural(&internal)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", crd.Name, ver.Name, err)
			}
			openAPI, _, err := validation.NewSchemaValidator(&internal)
			if err != nil {
				return nil, err
			}
			key := crd.Spec.Group + "/" + ver.Name + "/" + crd.Spec.Names.Kind
			v.versions[key] = &version{
				structural: structural,
				openAPI:    openAPI,
				cel:        cel.NewValidator(structural, true, celconfig.PerCallLimit),
			}
		}
	}
	return v, nil
}

// Validate checks obj (apiVersion, kind, metadata, spec) as the API server
// would on create. It returns nil or one error listing every violation in
// the API server's words.
func (v *Validator) Validate(obj map[string]any) error {
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	ver, ok := v.versions[apiVersion+"/"+kind]
	if !ok {
		return fmt.Errorf("no CRD serves %s %s", apiVersion, kind)
	}
	// Work on a copy shaped as the API server decodes JSON (int64 numbers,
	// []interface{} lists): defaulting writes into it.
	raw, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	var u map[string]any
	if err := utiljson.Unmarshal(raw, &u); err != nil {
		return err
	}
	var errs field.ErrorList
	for _, path := range pruning.PruneWithOptions(u, ver.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true}) {
		errs = append(errs, field.Invalid(field.NewPath(path), nil, "field not declared in schema"))
	}
	defaulting.Default(u, ver.structural)
	errs = append(errs, validation.ValidateCustomResource(nil, u, ver.openAPI)...)
	celErrs, _ := ver.cel.Validate(context.Background(), nil, ver.structural, u, nil, celconfig.RuntimeCELCostBudget)
	errs = append(errs, celErrs...)
	if len(errs) == 0 {
		return nil
	}
	name, _ := obj["metadata"].(map[string]any)["name"].(string)
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return fmt.Errorf("%s %s is invalid: %s", kind, name, strings.Join(msgs, "; "))
}
