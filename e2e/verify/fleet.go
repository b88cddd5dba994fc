package verify

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
)

// Call is one AWS call the Karpenter controller made (a line of the calls
// file e2e/controller writes): the IAM action, the SDK input and the error
// it got.
type Call struct {
	Action string          `json:"action"`
	Input  json.RawMessage `json:"input"`
	Output json.RawMessage `json:"output,omitempty"`
	Error  string          `json:"error,omitempty"`
}

// ReadCalls reads the calls file.
func ReadCalls(path string) ([]Call, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var calls []Call
	scan := bufio.NewScanner(f)
	scan.Buffer(make([]byte, 1<<20), 64<<20)
	for scan.Scan() {
		var c Call
		if err := json.Unmarshal(scan.Bytes(), &c); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		calls = append(calls, c)
	}
	return calls, scan.Err()
}

// Fleet is what one CreateFleet request asked EC2 for: the pool it
// launches for (its karpenter.sh/nodepool tag), the capacity type, and
// the instance types and zones it offered, in Karpenter's order.
type Fleet struct {
	Pool         string
	CapacityType string
	Offered      []string // instance types, each once
	Zones        []string
}

// createFleetInput is the part of the SDK's CreateFleetInput read here.
type createFleetInput struct {
	DryRun                *bool
	LaunchTemplateConfigs []struct {
		Overrides []struct {
			InstanceType     string
			AvailabilityZone *string
		}
	}
	TargetCapacitySpecification struct {
		DefaultTargetCapacityType string
	}
	TagSpecifications []struct {
		ResourceType string
		Tags         []struct{ Key, Value *string }
	}
}

// Fleets are the launches among the calls (dry runs left out).
func Fleets(calls []Call) ([]Fleet, error) {
	var out []Fleet
	for _, c := range calls {
		if c.Action != "ec2:CreateFleet" {
			continue
		}
		var in createFleetInput
		if err := json.Unmarshal(c.Input, &in); err != nil {
			return nil, fmt.Errorf("CreateFleet input: %w", err)
		}
		if in.DryRun != nil && *in.DryRun {
			continue
		}
		f := Fleet{CapacityType: in.TargetCapacitySpecification.DefaultTargetCapacityType}
		for _, spec := range in.TagSpecifications {
			for _, t := range spec.Tags {
				if t.Key != nil && t.Value != nil && *t.Key == "karpenter.sh/nodepool" {
					f.Pool = *t.Value
				}
			}
		}
		for _, ltc := range in.LaunchTemplateConfigs {
			for _, o := range ltc.Overrides {
				if !slices.Contains(f.Offered, o.InstanceType) {
					f.Offered = append(f.Offered, o.InstanceType)
				}
				if o.AvailabilityZone != nil && !slices.Contains(f.Zones, *o.AvailabilityZone) {
					f.Zones = append(f.Zones, *o.AvailabilityZone)
				}
			}
		}
		out = append(out, f)
	}
	return out, nil
}

// PoolPlan is what the stack's gpuPools output says of one pool.
type PoolPlan struct {
	InstanceTypes []string `json:"instanceTypes"`
	CapacityTypes []string `json:"capacityTypes"`
}

// FleetsWithinPlan fails naming each launch that offered EC2 an instance
// type the pool's plan does not list, or a capacity type the pool does not
// allow, or that launched for a pool the stack does not declare.
func FleetsWithinPlan(fleets []Fleet, plans map[string]PoolPlan) error {
	var problems []string
	for _, f := range fleets {
		plan, ok := plans[f.Pool]
		if !ok {
			problems = append(problems, fmt.Sprintf("a launch for pool %q, which the stack does not declare", f.Pool))
			continue
		}
		var outside []string
		for _, t := range f.Offered {
			if !slices.Contains(plan.InstanceTypes, t) {
				outside = append(outside, t)
			}
		}
		if len(outside) > 0 {
			sort.Strings(outside)
			problems = append(problems, fmt.Sprintf("pool %s: Karpenter offered EC2 %s, which plan.md does not list (it lists %s)",
				f.Pool, strings.Join(outside, ", "), strings.Join(plan.InstanceTypes, ", ")))
		}
		if !slices.Contains(plan.CapacityTypes, f.CapacityType) {
			problems = append(problems, fmt.Sprintf("pool %s: a %s launch, the pool allows %s", f.Pool, f.CapacityType, strings.Join(plan.CapacityTypes, ", ")))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "\n  "))
	}
	return nil
}
