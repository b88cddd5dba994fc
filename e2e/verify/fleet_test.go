package verify

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Two calls as e2e/controller records them: Karpenter's dry run when it
// validates a node class, and a spot launch for the inference pool.
const callsFile = `{"action":"ec2:CreateFleet","input":{"DryRun":true,"LaunchTemplateConfigs":[{"Overrides":[{"InstanceType":"m5.large"}]}],"TargetCapacitySpecification":{"DefaultTargetCapacityType":"on-demand"}}}
{"action":"ec2:CreateFleet","input":{"LaunchTemplateConfigs":[{"LaunchTemplateSpecification":{"LaunchTemplateName":"karpenter.k8s.aws/123"},"Overrides":[{"InstanceType":"g4dn.xlarge","AvailabilityZone":"us-west-2a"},{"InstanceType":"g4dn.xlarge","AvailabilityZone":"us-west-2b"},{"InstanceType":"g6.xlarge","AvailabilityZone":"us-west-2a"}]}],"TargetCapacitySpecification":{"DefaultTargetCapacityType":"spot","TotalTargetCapacity":1},"TagSpecifications":[{"ResourceType":"instance","Tags":[{"Key":"karpenter.sh/nodepool","Value":"inference"}]}]}}
{"action":"ec2:DescribeSubnets","input":{}}
`

func TestFleetsReadLaunchesNotDryRuns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "calls.jsonl")
	if err := os.WriteFile(path, []byte(callsFile), 0o644); err != nil {
		t.Fatal(err)
	}
	calls, err := ReadCalls(path)
	if err != nil {
		t.Fatal(err)
	}
	fleets, err := Fleets(calls)
	if err != nil {
		t.Fatal(err)
	}
	if len(fleets) != 1 {
		t.Fatalf("fleets %+v, want the one launch", fleets)
	}
	f := fleets[0]
	if f.Pool != "inference" || f.CapacityType != "spot" || strings.Join(f.Offered, ",") != "g4dn.xlarge,g6.xlarge" || strings.Join(f.Zones, ",") != "us-west-2a,us-west-2b" {
		t.Errorf("fleet %+v", f)
	}
}

func TestFleetsWithinPlan(t *testing.T) {
	launch := Fleet{Pool: "inference", CapacityType: "spot", Offered: []string{"g4dn.xlarge", "g6.xlarge"}}
	for _, c := range []struct {
		name  string
		plans map[string]PoolPlan
		fails string
	}{
		{name: "as planned", plans: map[string]PoolPlan{"inference": {InstanceTypes: []string{"g4dn.xlarge", "g5.xlarge", "g6.xlarge"}, CapacityTypes: []string{"spot"}}}},
		{name: "a type plan.md leaves out", plans: map[string]PoolPlan{"inference": {InstanceTypes: []string{"g4dn.xlarge"}, CapacityTypes: []string{"spot"}}},
			fails: "offered EC2 g6.xlarge, which plan.md does not list"},
		{name: "a capacity type the pool does not allow", plans: map[string]PoolPlan{"inference": {InstanceTypes: []string{"g4dn.xlarge", "g6.xlarge"}, CapacityTypes: []string{"on-demand"}}},
			fails: "a spot launch, the pool allows on-demand"},
		{name: "a pool the stack does not declare", plans: map[string]PoolPlan{"training": {}}, fails: `pool "inference", which the stack does not declare`},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := FleetsWithinPlan([]Fleet{launch}, c.plans)
			switch {
			case c.fails == "" && err != nil:
				t.Fatal(err)
			case c.fails != "" && (err == nil || !strings.Contains(err.Error(), c.fails)):
				t.Fatalf("error %v, want one saying %q", err, c.fails)
			}
		})
	}
}
