package karpenter

import (
	"context"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"karpenter-gpu/wellknown"
)

// RequiredCRDs are the CRDs every Karpenter v1 installation has.
var RequiredCRDs = []string{wellknown.NodePoolCRD, wellknown.NodeClaimCRD, wellknown.EC2NodeClassCRD}

// RunningController is a Karpenter controller Deployment.
type RunningController struct {
	Namespace, Name string
	// Version is its image tag, e.g. "1.14.0".
	Version string
	// FeatureGates are its FEATURE_GATES, by the chart's settings names
	// (nodeOverlay); nil when the Deployment does not set them.
	FeatureGates map[string]bool
	// Ours is set when this stack installed it.
	Ours bool
}

// Installed is what of Karpenter a cluster already runs.
type Installed struct {
	// CRDs found, by name, and whether this stack installed each.
	CRDs        map[string]bool
	Controllers []RunningController
}

// HasCRD tells whether the CRD exists, whoever installed it.
func (k Installed) HasCRD(name string) bool {
	_, ok := k.CRDs[name]
	return ok
}

// Foreign lists what this stack did not install.
func (k Installed) Foreign() []string {
	var out []string
	for _, name := range RequiredCRDs {
		if ours, found := k.CRDs[name]; found && !ours {
			out = append(out, "CRD "+name)
		}
	}
	for _, c := range k.Controllers {
		if !c.Ours {
			out = append(out, fmt.Sprintf("Deployment %s/%s (Karpenter %s)", c.Namespace, c.Name, c.Version))
		}
	}
	return out
}

// OptionalCRDs are CRDs of Karpenter's alpha APIs, which older releases
// lack: NodeOverlay (time-slicing) and CapacityBuffer (headroom).
var OptionalCRDs = []string{wellknown.NodeOverlayCRD, wellknown.CapacityBufferCRD}

// Detect reads Karpenter's CRDs and controller Deployments.
// owner is the value of the ownership annotation this stack puts on what it
// installs (wellknown.OwnerAnnotation).
func Detect(ctx context.Context, client dynamic.Interface, owner string) (Installed, error) {
	found := Installed{CRDs: map[string]bool{}}
	for _, name := range slices.Concat(RequiredCRDs, OptionalCRDs) {
		crd, err := client.Resource(wellknown.CRDResource).Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			continue
		case err != nil:
			return found, fmt.Errorf("reading CRD %s: %w", name, err)
		}
		found.CRDs[name] = crd.GetAnnotations()[wellknown.OwnerAnnotation] == owner
	}
	deployments, err := client.Resource(wellknown.DeploymentResource).Namespace(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return found, fmt.Errorf("listing Deployments: %w", err)
	}
	for _, d := range deployments.Items {
		if version, ok := karpenterImage(d); ok {
			found.Controllers = append(found.Controllers, RunningController{
				Namespace: d.GetNamespace(), Name: d.GetName(), Version: version, FeatureGates: featureGatesOf(d),
				Ours: d.GetAnnotations()[wellknown.OwnerAnnotation] == owner,
			})
		}
	}
	return found, nil
}

// featureGatesOf reads the FEATURE_GATES of a Karpenter Deployment
// ("NodeOverlay=false,NodeRepair=true", as its chart writes them) by the
// chart's settings names; nil when it sets none.
func featureGatesOf(d unstructured.Unstructured) map[string]bool {
	containers, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
	for _, c := range containers {
		env, _ := c.(map[string]any)["env"].([]any)
		for _, e := range env {
			e, _ := e.(map[string]any)
			value, ok := e["value"].(string)
			if e["name"] != "FEATURE_GATES" || !ok {
				continue
			}
			gates := map[string]bool{}
			for _, pair := range strings.Split(value, ",") {
				name, on, _ := strings.Cut(strings.TrimSpace(pair), "=")
				if name != "" {
					gates[strings.ToLower(name[:1])+name[1:]] = on == "true"
				}
			}
			return gates
		}
	}
	return nil
}

// karpenterImage finds the Karpenter controller image of a Deployment
// (public.ecr.aws/karpenter/controller:1.15.1@sha256:…, or a mirror of it)
// and returns its tag.
func karpenterImage(d unstructured.Unstructured) (string, bool) {
	containers, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
	for _, c := range containers {
		image, _ := c.(map[string]any)["image"].(string)
		ref, _, _ := strings.Cut(image, "@")
		repo, tag, _ := strings.Cut(ref[strings.LastIndex(ref, "/")+1:], ":")
		if repo == "controller" && strings.Contains(ref, "karpenter/") {
			return tag, true
		}
	}
	return "", false
}
