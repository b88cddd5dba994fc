package karpenter_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	"sigs.k8s.io/yaml"

	"karpenter-gpu/config"
	"karpenter-gpu/internal/charts"
	"karpenter-gpu/internal/crdschema"
	"karpenter-gpu/karpenter"
	"karpenter-gpu/wellknown"
)

// renderController renders the karpenter chart of the pinned module with
// exactly the values the stack passes.
func renderController(t *testing.T, s karpenter.ControllerSettings) (appsv1.Deployment, corev1.ServiceAccount, []map[string]any) {
	t.Helper()
	dir, err := charts.KarpenterChart("karpenter")
	if err != nil {
		t.Fatal(err)
	}
	objects, err := charts.Render(dir, charts.Release{Name: karpenter.ReleaseName, Namespace: s.Karpenter.Namespace, Kubernetes: "1.35"}, karpenter.ControllerValues(s))
	if err != nil {
		t.Fatal(err)
	}
	var deployment appsv1.Deployment
	var sa corev1.ServiceAccount
	for _, obj := range objects {
		switch obj["kind"] {
		case "Deployment":
			decode(t, obj, &deployment)
		case "ServiceAccount":
			decode(t, obj, &sa)
		}
	}
	if deployment.Name == "" || sa.Name == "" {
		t.Fatalf("chart rendered no Deployment or ServiceAccount: %v", objects)
	}
	return deployment, sa, objects
}

func decode(t *testing.T, from, to any) {
	t.Helper()
	b, err := json.Marshal(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, to); err != nil {
		t.Fatal(err)
	}
}

func env(c corev1.Container) map[string]string {
	out := map[string]string{}
	for _, e := range c.Env {
		out[e.Name] = e.Value
	}
	return out
}

func TestControllerChartWithTheStackValues(t *testing.T) {
	cases := []struct {
		name     string
		settings func() karpenter.ControllerSettings
		replicas int32
		gates    string
	}{
		{"irsa", func() karpenter.ControllerSettings { return controllerSettings(config.IdentityIRSA, nil) }, 2, "NodeOverlay=false"},
		{"pod identity, one replica", func() karpenter.ControllerSettings {
			s := controllerSettings(config.IdentityPodIdentity, nil)
			s.Karpenter.Replicas, s.Karpenter.Namespace = 1, "karpenter"
			return s
		}, 1, "NodeOverlay=false"},
		{"node overlay gate", func() karpenter.ControllerSettings {
			s := controllerSettings(config.IdentityIRSA, nil)
			s.FeatureGates = map[string]bool{wellknown.FeatureGateNodeOverlay: true}
			return s
		}, 2, "NodeOverlay=true"},
		{"node repair and reboot", func() karpenter.ControllerSettings {
			s := controllerSettings(config.IdentityIRSA, nil)
			s.FeatureGates = map[string]bool{wellknown.FeatureGateNodeRepair: true}
			s.AWSFeatureGates = map[string]bool{wellknown.AWSFeatureGateRebootRepair: true}
			return s
		}, 2, "NodeRepair=true"},
		// The chart derives its selectors from its name: values that
		// hard-coded them would stop matching the pods here.
		{"name override", func() karpenter.ControllerSettings {
			return controllerSettings(config.IdentityIRSA, map[string]any{"nameOverride": "kptr"})
		}, 2, "NodeOverlay=false"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.settings()
			deployment, sa, objects := renderController(t, s)
			pod := deployment.Spec.Template

			// Identity: the service account the IRSA trust and the pod
			// identity association name, annotated for IRSA only.
			if sa.Name != wellknown.KarpenterServiceAccount || sa.Namespace != s.Karpenter.Namespace || pod.Spec.ServiceAccountName != sa.Name {
				t.Errorf("service account %s/%s, pods use %s", sa.Namespace, sa.Name, pod.Spec.ServiceAccountName)
			}
			role, annotated := sa.Annotations[wellknown.ServiceAccountRoleAnnotation]
			if s.Karpenter.Identity == config.IdentityIRSA && role != s.RoleARN {
				t.Errorf("role annotation = %q, want %q", role, s.RoleARN)
			}
			if s.Karpenter.Identity == config.IdentityPodIdentity && annotated {
				t.Errorf("service account annotated under Pod Identity: %v", sa.Annotations)
			}

			// Settings reach the controller's environment.
			c := pod.Spec.Containers[0]
			e := env(c)
			for name, want := range map[string]string{"CLUSTER_NAME": s.ClusterName, "CLUSTER_ENDPOINT": s.ClusterEndpoint, "INTERRUPTION_QUEUE": s.QueueName} {
				if e[name] != want {
					t.Errorf("%s = %q, want %q", name, e[name], want)
				}
			}
			if !strings.Contains(e["FEATURE_GATES"], tc.gates) {
				t.Errorf("FEATURE_GATES = %q, want %s", e["FEATURE_GATES"], tc.gates)
			}
			if want := fmt.Sprintf("RebootForRepair=%v", s.AWSFeatureGates[wellknown.AWSFeatureGateRebootRepair]); !strings.Contains(e["AWS_FEATURE_GATES"], want) {
				t.Errorf("AWS_FEATURE_GATES = %q, want %s", e["AWS_FEATURE_GATES"], want)
			}
			if r := c.Resources; !reflect.DeepEqual(r.Requests, r.Limits) || r.Limits.Cpu().String() != s.Karpenter.CPU || r.Limits.Memory().String() != s.Karpenter.Memory {
				t.Errorf("resources = %v", r)
			}
			if deployment.Annotations[wellknown.OwnerAnnotation] != s.Owner {
				t.Errorf("Deployment annotations = %v, want the owner %q", deployment.Annotations, s.Owner)
			}
			if *deployment.Spec.Replicas != tc.replicas || pod.Spec.PriorityClassName != "system-cluster-critical" {
				t.Errorf("replicas %d, priority class %q", *deployment.Spec.Replicas, pod.Spec.PriorityClassName)
			}

			// Scheduling: never on a node Karpenter launched; one pod per
			// host and spread over zones, with selectors that match the pods.
			terms := pod.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution
			karpenterNode := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{wellknown.LabelNodePool: "inference", "kubernetes.io/os": "linux"}}}
			systemNode := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"eks.amazonaws.com/nodegroup": "system", "kubernetes.io/os": "linux"}}}
			for node, want := range map[*corev1.Node]bool{karpenterNode: false, systemNode: true} {
				if got, err := nodeaffinity.NewLazyErrorNodeSelector(terms).Match(node); err != nil || got != want {
					t.Errorf("controller schedulable on node %v: %v (err %v), want %v", node.Labels, got, err, want)
				}
			}
			podLabels := labels.Set(pod.Labels)
			anti := pod.Spec.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution
			if len(anti) != 1 || anti[0].TopologyKey != "kubernetes.io/hostname" || !selects(t, anti[0].LabelSelector, podLabels) {
				t.Errorf("anti-affinity %v does not keep the pods %v apart per host", anti, podLabels)
			}
			spread := pod.Spec.TopologySpreadConstraints
			if len(spread) != 1 || spread[0].TopologyKey != "topology.kubernetes.io/zone" || !selects(t, spread[0].LabelSelector, podLabels) {
				t.Errorf("spread %v does not spread the pods %v over zones", spread, podLabels)
			}

			// The cluster's version picks current APIs (policy/v1, not v1beta1).
			for _, obj := range objects {
				if obj["kind"] == "PodDisruptionBudget" && obj["apiVersion"] != "policy/v1" {
					t.Errorf("PodDisruptionBudget is %v", obj["apiVersion"])
				}
			}
		})
	}
}

func selects(t *testing.T, selector *metav1.LabelSelector, set labels.Set) bool {
	t.Helper()
	sel, err := metav1.LabelSelectorAsSelector(selector)
	if err != nil {
		t.Fatal(err)
	}
	return !sel.Empty() && sel.Matches(set)
}

// The CRD release installs exactly the CRDs the objects are proven against.
func TestCRDChartInstallsTheCRDsTheSchemaCheckUses(t *testing.T) {
	dir, err := charts.KarpenterChart("karpenter-crd")
	if err != nil {
		t.Fatal(err)
	}
	objects, err := charts.Render(dir, charts.Release{Name: karpenter.ReleaseName + "-crd", Namespace: "kube-system", Kubernetes: "1.35"},
		map[string]any{"additionalAnnotations": karpenter.OwnerAnnotations("karpenter-gpu/prod")})
	if err != nil {
		t.Fatal(err)
	}
	installed := map[string]any{}
	for _, obj := range objects {
		if obj["kind"] == "CustomResourceDefinition" {
			meta := obj["metadata"].(map[string]any)
			installed[meta["name"].(string)] = obj["spec"]
			// The stack tells its own CRDs from another install's by this.
			if meta["annotations"].(map[string]any)[wellknown.OwnerAnnotation] != "karpenter-gpu/prod" {
				t.Errorf("CRD %s annotations = %v", meta["name"], meta["annotations"])
			}
		}
	}
	for _, raw := range crdschema.KarpenterCRDs {
		var crd map[string]any
		if err := yaml.Unmarshal(raw, &crd); err != nil {
			t.Fatal(err)
		}
		name := crd["metadata"].(map[string]any)["name"].(string)
		spec, ok := installed[name]
		if !ok {
			t.Errorf("the CRD chart does not install %s", name)
			continue
		}
		if !reflect.DeepEqual(spec, crd["spec"]) {
			t.Errorf("the CRD chart's %s differs from the one the schema check uses", name)
		}
	}
}
