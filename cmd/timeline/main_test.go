package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

var recorded = []string{"../../timeline/testdata/pods.json", "../../timeline/testdata/nodes.json", "../../timeline/testdata/nodeclaims.json", "../../timeline/testdata/events.json"}

func TestJSON(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(append([]string{"-json"}, recorded...), &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var records []struct {
		Pod, Node, NodeClaim, InstanceType, CapacityType, Pool string
		Seconds                                                map[string]float64
	}
	if err := json.Unmarshal(stdout.Bytes(), &records); err != nil {
		t.Fatalf("%v:\n%s", err, stdout.String())
	}
	if len(records) != 3 || records[1].Pod != "serving/llm-0" || records[1].Seconds["initialized"] != 168 || records[1].Pool != "inference" {
		t.Errorf("records = %+v", records)
	}
	// Keys as documented; a phase not reached is absent.
	if _, reached := records[2].Seconds["registered"]; reached || !strings.Contains(stdout.String(), `"nodeClaimCreated": 3`) {
		t.Errorf("pending pod = %+v", records[2])
	}
}

func TestBadInput(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"main.go"}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "timeline: main.go:") {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
}
