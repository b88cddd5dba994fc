package fakecloud

import (
	"slices"

	"karpenter-gpu/wellknown"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	dynamicfake "k8s.io/client-go/dynamic/fake"
)

// Karpenter is a Karpenter that someone else installed in the cluster.
type Karpenter struct {
	Namespace string
	// Version is the controller image's tag.
	Version string
	// OptionalCRDs are the alpha CRDs it has (wellknown.NodeOverlayCRD, wellknown.CapacityBufferCRD).
	OptionalCRDs []string
	// FeatureGates is its FEATURE_GATES value, empty for none.
	FeatureGates string
}

// kubernetes answers the stack's reads of the cluster's Kubernetes API:
// the CRDs and controller of an installed Karpenter, if any, and the
// aws-auth ConfigMap, if the cluster has one.
func (c Cluster) kubernetes() dynamic.Interface {
	var objects []runtime.Object
	if k := c.Karpenter; k != nil {
		for _, name := range slices.Concat([]string{wellknown.NodePoolCRD, wellknown.NodeClaimCRD, wellknown.EC2NodeClassCRD}, k.OptionalCRDs) {
			crd := &unstructured.Unstructured{}
			crd.SetAPIVersion("apiextensions.k8s.io/v1")
			crd.SetKind("CustomResourceDefinition")
			crd.SetName(name)
			objects = append(objects, crd)
		}
		controller := map[string]any{"name": "controller", "image": "public.ecr.aws/karpenter/controller:" + k.Version + "@sha256:0000000000000000000000000000000000000000000000000000000000000000"}
		if k.FeatureGates != "" {
			controller["env"] = []any{map[string]any{"name": "FEATURE_GATES", "value": k.FeatureGates}}
		}
		d := &unstructured.Unstructured{Object: map[string]any{
			"spec": map[string]any{"template": map[string]any{"spec": map[string]any{"containers": []any{controller}}}},
		}}
		d.SetAPIVersion("apps/v1")
		d.SetKind("Deployment")
		d.SetNamespace(k.Namespace)
		d.SetName("karpenter")
		objects = append(objects, d)
	}
	if c.AwsAuthMapRoles != "" {
		cm := &unstructured.Unstructured{Object: map[string]any{"data": map[string]any{"mapRoles": c.AwsAuthMapRoles}}}
		cm.SetAPIVersion("v1")
		cm.SetKind("ConfigMap")
		cm.SetNamespace("kube-system")
		cm.SetName("aws-auth")
		objects = append(objects, cm)
	}
	lists := map[schema.GroupVersionResource]string{
		wellknown.CRDResource:        "CustomResourceDefinitionList",
		wellknown.DeploymentResource: "DeploymentList",
		wellknown.ConfigMapResource:  "ConfigMapList",
	}
	return dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), lists, objects...)
}
