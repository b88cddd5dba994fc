package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// faults are what AWS does to the account's instances, as the controller
// meets it: interruption messages on the queue, failed status checks, and
// instances EC2 reclaims.
type faults struct {
	messages []QueueMessage
	impaired []ImpairedInstance
	reclaims []Reclaim
}

// spotReclaim is how long EC2 gives a spot instance after its
// interruption notice.
const spotReclaim = 2 * time.Minute

// interruptSpot puts EC2's spot interruption warning for the instance on
// the stack's interruption queue, as its EventBridge rule delivers it, and
// has EC2 reclaim the instance two minutes later.
func (r *run) interruptSpot(instanceID string, now time.Time) error {
	r.active.Lock()
	defer r.active.Unlock()
	cl := r.active.cluster
	body, err := json.Marshal(map[string]any{
		"version": "0", "id": "e2e-spot-" + instanceID, "detail-type": "EC2 Spot Instance Interruption Warning", "source": "aws.ec2",
		"account": cl.AccountID, "time": now.UTC().Format(time.RFC3339), "region": cl.Region,
		"resources": []string{fmt.Sprintf("arn:%s:ec2:%s:%s:instance/%s", cl.Partition, cl.Region, cl.AccountID, instanceID)},
		"detail":    map[string]string{"instance-id": instanceID, "instance-action": "terminate"},
	})
	if err != nil {
		return err
	}
	r.active.faults.messages = append(r.active.faults.messages, QueueMessage{ID: "e2e-spot-" + instanceID, Body: string(body)})
	r.active.faults.reclaims = append(r.active.faults.reclaims, Reclaim{InstanceID: instanceID, At: now.Add(spotReclaim)})
	return nil
}

// impair makes the instance's status check (instance or system) fail from
// since on.
func (r *run) impair(instanceID, check string, since time.Time) {
	r.active.Lock()
	defer r.active.Unlock()
	r.active.faults.impaired = append(r.active.faults.impaired, ImpairedInstance{InstanceID: instanceID, Check: check, Since: since})
}

// instanceID is the EC2 instance of a NodeClaim (providerID
// aws:///ZONE/ID), with the claim's node.
func (r *run) instanceID(ctx context.Context, claim string) (id, node string, err error) {
	c, err := r.dyn.Resource(nodeClaimResource).Get(ctx, claim, metav1.GetOptions{})
	if err != nil {
		return "", "", err
	}
	provider := fmt.Sprint(asMap(c.Object["status"])["providerID"])
	node = fmt.Sprint(asMap(c.Object["status"])["nodeName"])
	// Karpenter's fake EC2 names instances its own way, not i-….
	if i := strings.LastIndex(provider, "/"); i >= 0 && i+1 < len(provider) {
		return provider[i+1:], node, nil
	}
	return "", "", fmt.Errorf("NodeClaim %s has no instance yet (providerID %q)", claim, provider)
}

// acceleratedHardwareReady is the node condition the node monitoring agent
// sets from the GPUs' health (DCGM, XID errors).
const acceleratedHardwareReady corev1.NodeConditionType = "AcceleratedHardwareReady"

// gpuFault sets on the node the condition the node monitoring agent sets
// for a GPU fault: AcceleratedHardwareReady False, with the XID in the
// reason, as the agent writes it.
func (r *run) gpuFault(ctx context.Context, node, reason string) error {
	n, err := r.client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		return err
	}
	now := metav1.Now()
	conditions := slices.DeleteFunc(n.Status.Conditions, func(c corev1.NodeCondition) bool { return c.Type == acceleratedHardwareReady })
	conditions = append(conditions, corev1.NodeCondition{Type: acceleratedHardwareReady, Status: corev1.ConditionFalse, Reason: reason,
		Message: "GPU fault reported by the node monitoring agent (set by the e2e run)", LastHeartbeatTime: now, LastTransitionTime: now})
	patch, err := json.Marshal(map[string]any{"status": map[string]any{"conditions": conditions}})
	if err != nil {
		return err
	}
	_, err = r.client.CoreV1().Nodes().Patch(ctx, node, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
	return err
}
