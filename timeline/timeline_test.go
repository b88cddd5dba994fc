package timeline_test

import (
	"context"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"

	"karpenter-gpu/timeline"
)

var files = []string{"testdata/pods.json", "testdata/nodes.json", "testdata/nodeclaims.json", "testdata/events.json"}

func recorded(t *testing.T) timeline.Objects {
	t.Helper()
	var o timeline.Objects
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := o.Add(raw); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	return o
}

func TestTimelineOfARecordedCluster(t *testing.T) {
	got := timeline.Build(recorded(t))
	want := []timeline.Record{
		// On a node group Karpenter did not launch: no NodeClaim phases.
		{Pod: "lab/notebook", Node: "ip-10-0-3-5.us-west-2.compute.internal", InstanceType: "g5.xlarge",
			Seconds: map[string]float64{"scheduled": 1, "started": 72}},
		// A cold launch, spot, all the way to a running container.
		{Pod: "serving/llm-0", Node: "ip-10-0-1-17.us-west-2.compute.internal", NodeClaim: "inference-x7k2p",
			InstanceType: "g6.xlarge", CapacityType: "spot", Pool: "inference",
			Seconds: map[string]float64{"nodeClaimCreated": 2, "launched": 8, "registered": 75, "initialized": 168, "scheduled": 170, "started": 290}},
		// Still pending: its NodeClaim (found through Karpenter's Nominated
		// event) launched but has not registered.
		{Pod: "research/train-0", NodeClaim: "training-9qz4m", InstanceType: "p5.48xlarge", CapacityType: "reserved", Pool: "training",
			Seconds: map[string]float64{"nodeClaimCreated": 3, "launched": 21}},
	}
	if !reflect.DeepEqual(got, want) {
		a, _ := json.MarshalIndent(got, "", " ")
		t.Errorf("got %s", a)
	}
}

func TestTable(t *testing.T) {
	var b strings.Builder
	if err := timeline.WriteTable(&b, timeline.Build(recorded(t))); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "POD") {
		t.Fatalf("table:\n%s", b.String())
	}
	if f := strings.Fields(lines[2]); !reflect.DeepEqual(f, []string{"serving/llm-0", "inference", "g6.xlarge", "spot", "2s", "8s", "75s", "168s", "170s", "290s"}) {
		t.Errorf("row = %v", f)
	}
	if f := strings.Fields(lines[3]); !reflect.DeepEqual(f[5:], []string{"21s", "-", "-", "-", "-"}) {
		t.Errorf("pending row = %v", f)
	}
}

// Reading a live cluster goes through the same objects.
func TestReadFromACluster(t *testing.T) {
	var objects []runtime.Object
	for _, f := range files {
		raw, _ := os.ReadFile(f)
		var list struct{ Items []map[string]any }
		if err := json.Unmarshal(raw, &list); err != nil {
			t.Fatal(err)
		}
		for _, item := range list.Items {
			objects = append(objects, &unstructured.Unstructured{Object: item})
		}
	}
	client := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		{Version: "v1", Resource: "pods"}: "PodList", {Version: "v1", Resource: "nodes"}: "NodeList",
		{Group: "karpenter.sh", Version: "v1", Resource: "nodeclaims"}: "NodeClaimList", {Version: "v1", Resource: "events"}: "EventList",
	}, objects...)
	o, err := timeline.Read(context.Background(), client)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := timeline.Build(o), timeline.Build(recorded(t)); !reflect.DeepEqual(got, want) {
		t.Errorf("live %v\nfiles %v", got, want)
	}
}
