// Package timeline measures where a GPU pod's wait went: from the pod's
// creation to the NodeClaim Karpenter made for it, the instance launched,
// the node registered and initialized (its GPUs advertised), the pod
// scheduled and its container started. It reads pods, nodes, NodeClaims and
// events, from files saved with `kubectl get … -o json` or from a cluster.
package timeline

import (
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// GPUResource is the extended resource that marks a GPU pod.
const GPUResource = corev1.ResourceName("nvidia.com/gpu")

// Phases in the order a cold GPU pod goes through them.
var Phases = []string{"nodeClaimCreated", "launched", "registered", "initialized", "scheduled", "started"}

// Record is one GPU pod's timeline. Seconds count from the pod's creation;
// a phase not reached is absent, and a negative value happened before the
// pod existed (it landed on a node that was already there).
type Record struct {
	Pod          string             `json:"pod"`
	Node         string             `json:"node,omitempty"`
	NodeClaim    string             `json:"nodeClaim,omitempty"`
	InstanceType string             `json:"instanceType,omitempty"`
	CapacityType string             `json:"capacityType,omitempty"`
	Pool         string             `json:"pool,omitempty"`
	Seconds      map[string]float64 `json:"seconds"`
}

// NodeClaim is the part of a karpenter.sh/v1 NodeClaim the timeline reads.
type NodeClaim struct {
	metav1.ObjectMeta `json:"metadata"`
	Status            struct {
		NodeName   string             `json:"nodeName"`
		Conditions []metav1.Condition `json:"conditions"`
	} `json:"status"`
}

// Objects are what a timeline is built from.
type Objects struct {
	Pods       []corev1.Pod
	Nodes      []corev1.Node
	NodeClaims []NodeClaim
	Events     []corev1.Event
}

// Add decodes a List (or a single object) of pods, nodes, NodeClaims or
// events, as `kubectl get … -o json` prints them, and adds its items.
func (o *Objects) Add(data []byte) error {
	var doc struct {
		Kind  string            `json:"kind"`
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return err
	}
	items := doc.Items
	if !strings.HasSuffix(doc.Kind, "List") {
		items = []json.RawMessage{data}
	}
	for _, raw := range items {
		var head struct{ Kind string }
		if err := json.Unmarshal(raw, &head); err != nil {
			return err
		}
		var err error
		switch head.Kind {
		case "Pod":
			err = decodeInto(raw, &o.Pods)
		case "Node":
			err = decodeInto(raw, &o.Nodes)
		case "NodeClaim":
			err = decodeInto(raw, &o.NodeClaims)
		case "Event":
			err = decodeInto(raw, &o.Events)
		default:
			return fmt.Errorf("%q is not a pod, node, NodeClaim or event", head.Kind)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", head.Kind, err)
		}
	}
	return nil
}

func decodeInto[T any](raw json.RawMessage, list *[]T) error {
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		return err
	}
	*list = append(*list, v)
	return nil
}

// nominated finds the NodeClaim in Karpenter's "Nominated" event of a pod
// ("Pod should schedule on: nodeclaim/gpu-abc12").
var nominated = regexp.MustCompile(`nodeclaim/([a-z0-9.-]+)`)

// Build returns the timeline of every pod that asks for a GPU, in order of
// creation.
func Build(o Objects) []Record {
	nodes := map[string]corev1.Node{}
	for _, n := range o.Nodes {
		nodes[n.Name] = n
	}
	claimsByName, claimsByNode := map[string]NodeClaim{}, map[string]NodeClaim{}
	for _, c := range o.NodeClaims {
		claimsByName[c.Name] = c
		if c.Status.NodeName != "" {
			claimsByNode[c.Status.NodeName] = c
		}
	}
	nominations := map[string]string{}
	for _, e := range o.Events {
		if e.InvolvedObject.Kind == "Pod" && e.Reason == "Nominated" {
			if m := nominated.FindStringSubmatch(e.Message); m != nil {
				nominations[e.InvolvedObject.Namespace+"/"+e.InvolvedObject.Name] = m[1]
			}
		}
	}
	var out []Record
	pods := append([]corev1.Pod(nil), o.Pods...)
	sort.SliceStable(pods, func(i, j int) bool { return pods[i].CreationTimestamp.Before(&pods[j].CreationTimestamp) })
	for _, p := range pods {
		if !wantsGPU(p) {
			continue
		}
		key := p.Namespace + "/" + p.Name
		r := Record{Pod: key, Node: p.Spec.NodeName, Seconds: map[string]float64{}}
		since := func(phase string, t time.Time) {
			if !t.IsZero() {
				r.Seconds[phase] = t.Sub(p.CreationTimestamp.Time).Seconds()
			}
		}
		claim, found := claimsByNode[p.Spec.NodeName]
		if !found {
			claim, found = claimsByName[nominations[key]]
		}
		if found {
			r.NodeClaim = claim.Name
			since("nodeClaimCreated", claim.CreationTimestamp.Time)
			for phase, condition := range map[string]string{"launched": "Launched", "registered": "Registered", "initialized": "Initialized"} {
				for _, c := range claim.Status.Conditions {
					if c.Type == condition && c.Status == metav1.ConditionTrue {
						since(phase, c.LastTransitionTime.Time)
					}
				}
			}
			r.Pool = claim.Labels["karpenter.sh/nodepool"]
			r.InstanceType = claim.Labels[corev1.LabelInstanceTypeStable]
			r.CapacityType = claim.Labels["karpenter.sh/capacity-type"]
		}
		if n, ok := nodes[p.Spec.NodeName]; ok {
			for field, label := range map[*string]string{&r.InstanceType: corev1.LabelInstanceTypeStable, &r.CapacityType: "karpenter.sh/capacity-type", &r.Pool: "karpenter.sh/nodepool"} {
				if v := n.Labels[label]; v != "" {
					*field = v
				}
			}
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionTrue {
				since("scheduled", c.LastTransitionTime.Time)
			}
		}
		var started time.Time
		for _, s := range p.Status.ContainerStatuses {
			if run := s.State.Running; run != nil && (started.IsZero() || run.StartedAt.Time.Before(started)) {
				started = run.StartedAt.Time
			}
			if done := s.State.Terminated; done != nil && !done.StartedAt.IsZero() && (started.IsZero() || done.StartedAt.Time.Before(started)) {
				started = done.StartedAt.Time
			}
		}
		since("started", started)
		out = append(out, r)
	}
	return out
}

func wantsGPU(p corev1.Pod) bool {
	for _, c := range append(append([]corev1.Container(nil), p.Spec.InitContainers...), p.Spec.Containers...) {
		for _, list := range []corev1.ResourceList{c.Resources.Requests, c.Resources.Limits} {
			if q, ok := list[GPUResource]; ok && q.Cmp(resource.MustParse("0")) > 0 {
				return true
			}
		}
	}
	return false
}

// WriteTable prints the records as a table of seconds since pod creation.
func WriteTable(w io.Writer, records []Record) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "POD\tPOOL\tINSTANCE\tCAPACITY\tNODECLAIM\tLAUNCHED\tREGISTERED\tINITIALIZED\tSCHEDULED\tSTARTED")
	for _, r := range records {
		cells := []string{r.Pod, dash(r.Pool), dash(r.InstanceType), dash(r.CapacityType)}
		for _, phase := range Phases {
			cell := "-"
			if s, ok := r.Seconds[phase]; ok {
				cell = fmt.Sprintf("%.0fs", s)
			}
			cells = append(cells, cell)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
