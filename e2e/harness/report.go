package main

import (
	"context"
	"encoding/json"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"karpenter-gpu/e2e/verify"
	"karpenter-gpu/wellknown"
)

// Report is what -report writes: per scenario and pool what Karpenter
// offered EC2 and launched, how long each phase of a launch took (these
// measure Karpenter's own loop and batching here, not AWS boot times), and
// the AWS calls the controller made with their IAM verdicts.
type Report struct {
	Karpenter string           `json:"karpenter"`
	Scenarios []ScenarioReport `json:"scenarios"`
	Launches  []verify.Fleet   `json:"launches"`
	// IAM counts the requests each action was judged allowed for (a denial
	// fails the run and names itself).
	IAM            map[string]int `json:"iamAllowed"`
	InstancesLeft  int            `json:"instancesLeft"`
	ObjectsLeft    int            `json:"objectsLeft"`
	SecondsInTotal int            `json:"secondsInTotal"`
}

// ScenarioReport is one scenario on one pool.
type ScenarioReport struct {
	Scenario string `json:"scenario"`
	Pool     string `json:"pool"`
	// FromPod: seconds from the pending pod's creation to each phase of
	// the NodeClaim Karpenter made for it, and to the pod running.
	FromPod map[string]int `json:"secondsFromPodCreated,omitempty"`
	// Launched: the instance type, zone and capacity type of that node.
	Launched map[string]string `json:"launched,omitempty"`
	Figures  map[string]any    `json:"figures,omitempty"`
	// AddonPods: the EKS add-ons' DaemonSets that run a pod on that node.
	AddonPods []string `json:"addonPods,omitempty"`
}

// fromZeroReport times the launch that served a pod: the NodeClaim of
// the pod's node, from the pod's creation to Launched, Registered and
// Initialized, and to the pod running.
func (r *run) fromZeroReport(ctx context.Context, scenario string, pod *corev1.Pod) (ScenarioReport, error) {
	rep := ScenarioReport{Scenario: scenario, FromPod: map[string]int{}}
	node, err := r.client.CoreV1().Nodes().Get(ctx, pod.Spec.NodeName, metav1.GetOptions{})
	if err != nil {
		return rep, err
	}
	rep.Pool = node.Labels[wellknown.LabelNodePool]
	rep.Launched = map[string]string{
		"instanceType": node.Labels[wellknown.LabelInstanceType], "zone": node.Labels[corev1.LabelTopologyZone],
		"capacityType": node.Labels[wellknown.LabelCapacityType],
	}
	claim, err := r.dyn.Resource(nodeClaimResource).Get(ctx, pod.Spec.NodeName, metav1.GetOptions{})
	if err != nil {
		return rep, err
	}
	created := pod.CreationTimestamp.Time
	conditions, _, _ := unstructured.NestedSlice(claim.Object, "status", "conditions")
	for _, raw := range conditions {
		c := asMap(raw)
		kind, _ := c["type"].(string)
		if kind != "Launched" && kind != "Registered" && kind != "Initialized" {
			continue
		}
		at, err := time.Parse(time.RFC3339, c["lastTransitionTime"].(string))
		if err == nil {
			rep.FromPod["nodeClaim"+kind] = int(at.Sub(created).Seconds())
		}
	}
	if pod.Status.StartTime != nil {
		rep.FromPod["podRunning"] = int(pod.Status.StartTime.Sub(created).Seconds())
	}
	return rep, nil
}

// writeReport writes the report, if the run was asked for one.
func (r *run) writeReport(res *result, start time.Time) error {
	if r.reportFile == "" {
		return nil
	}
	calls, err := verify.ReadCalls(r.karpenter.callsFile())
	if err != nil {
		return err
	}
	launches, err := verify.Fleets(calls)
	if err != nil {
		return err
	}
	rep := Report{
		Karpenter: r.karpenterVersion, Scenarios: res.scenarios, Launches: launches, IAM: r.iam.allowed,
		InstancesLeft: res.instancesLeft, ObjectsLeft: res.left + res.awsAuthLeft + res.poolsOnlyLeft,
		SecondsInTotal: int(time.Since(start).Seconds()),
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(r.reportFile, append(b, '\n'), 0o644)
}
