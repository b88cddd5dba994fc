package karpenter_test

import (
	"context"
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	k8sschema "k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"

	"karpenter-gpu/karpenter"
	"karpenter-gpu/wellknown"
)

func object(apiVersion, kind, namespace, name string, annotations map[string]string, content map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: content}
	if u.Object == nil {
		u.Object = map[string]any{}
	}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	u.SetNamespace(namespace)
	u.SetName(name)
	u.SetAnnotations(annotations)
	return u
}

func deployment(namespace, name, image string, annotations map[string]string) *unstructured.Unstructured {
	return object("apps/v1", "Deployment", namespace, name, annotations, map[string]any{
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{"containers": []any{
			map[string]any{"name": "controller", "image": image},
		}}}},
	})
}

func TestDetectKarpenter(t *testing.T) {
	ours := map[string]string{wellknown.OwnerAnnotation: "karpenter-gpu/prod"}
	objects := []runtime.Object{
		object("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "nodepools.karpenter.sh", ours, nil),
		object("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "ec2nodeclasses.karpenter.k8s.aws", nil, nil),
		deployment("kube-system", "karpenter", "public.ecr.aws/karpenter/controller:1.15.1@sha256:abc", ours),
		deployment("karpenter", "karpenter", "123456789012.dkr.ecr.us-east-1.amazonaws.com/mirror/karpenter/controller:1.14.0", nil),
		deployment("kube-system", "coredns", "602401143452.dkr.ecr.us-west-2.amazonaws.com/eks/coredns:v1.11.4", nil),
	}
	client := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[k8sschema.GroupVersionResource]string{
		wellknown.CRDResource: "CustomResourceDefinitionList", wellknown.DeploymentResource: "DeploymentList",
	}, objects...)
	got, err := karpenter.Detect(context.Background(), client, "karpenter-gpu/prod")
	if err != nil {
		t.Fatal(err)
	}
	if !got.HasCRD("nodepools.karpenter.sh") || got.HasCRD("nodeclaims.karpenter.sh") {
		t.Errorf("CRDs = %v", got.CRDs)
	}
	wantControllers := []karpenter.RunningController{
		{Namespace: "karpenter", Name: "karpenter", Version: "1.14.0"},
		{Namespace: "kube-system", Name: "karpenter", Version: "1.15.1", Ours: true},
	}
	if !reflect.DeepEqual(got.Controllers, wantControllers) {
		t.Errorf("controllers = %+v", got.Controllers)
	}
	if want := []string{"CRD ec2nodeclasses.karpenter.k8s.aws", "Deployment karpenter/karpenter (Karpenter 1.14.0)"}; !reflect.DeepEqual(got.Foreign(), want) {
		t.Errorf("foreign = %v", got.Foreign())
	}
}
