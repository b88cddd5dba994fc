package tests

import (
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"karpenter-gpu/internal/fakecloud"
	"karpenter-gpu/karpenter"
)

func TestInterruptionQueue(t *testing.T) {
	t.Parallel()
	cloud := fakecloud.New(fakecloud.Example("ml-prod"), "karpenter-gpu", "test")
	err := cloud.Run(nil, func(ctx *pulumi.Context) error {
		_, err := karpenter.NewInterruptionQueue(ctx, "interruption", &karpenter.InterruptionQueueArgs{Tags: map[string]string{"team": "ml"}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var rules, targets int
	var ruleARNs []any
	var allowed map[string]any
	patterns := map[string]bool{}
	for _, r := range cloud.Resources() {
		switch r.Type {
		case "aws:sqs/queue:Queue":
			if r.Inputs["messageRetentionSeconds"] != float64(300) || r.Inputs["sqsManagedSseEnabled"] != true {
				t.Errorf("queue = %v", r.Inputs)
			}
			if !maps.Equal(r.Inputs["tags"].(map[string]any), map[string]any{"team": "ml"}) {
				t.Errorf("queue tags = %v", r.Inputs["tags"])
			}
		case "aws:sqs/queuePolicy:QueuePolicy":
			var doc struct {
				Statement []struct {
					Effect    string
					Principal any
					Action    []string
					Resource  []string
					Condition map[string]map[string]any
				}
			}
			if err := json.Unmarshal([]byte(r.Inputs["policy"].(string)), &doc); err != nil {
				t.Fatal(err)
			}
			allow, deny := doc.Statement[0], doc.Statement[1]
			if allow.Effect != "Allow" || !reflect.DeepEqual(allow.Action, []string{"sqs:SendMessage"}) ||
				!reflect.DeepEqual(allow.Principal, map[string]any{"Service": "events.amazonaws.com"}) ||
				!strings.HasPrefix(allow.Resource[0], "arn:aws:sqs:us-west-2:123456789012:interruption-") {
				t.Errorf("allow statement = %+v", allow)
			}
			allowed = allow.Condition["ArnEquals"]
			if deny.Effect != "Deny" || deny.Principal != "*" || !reflect.DeepEqual(deny.Action, []string{"sqs:*"}) ||
				deny.Condition["Bool"]["aws:SecureTransport"] != false {
				t.Errorf("deny statement = %+v", deny)
			}
		case "aws:cloudwatch/eventRule:EventRule":
			rules++
			ruleARNs = append(ruleARNs, "arn:aws:events:us-west-2:123456789012:rule/"+r.Name+"-")
			patterns[r.Inputs["eventPattern"].(string)] = true
		case "aws:cloudwatch/eventTarget:EventTarget":
			targets++
			if !strings.HasPrefix(r.Inputs["arn"].(string), "arn:aws:sqs:") {
				t.Errorf("target %s does not point at the queue: %v", r.Name, r.Inputs["arn"])
			}
		}
	}
	want := []string{
		`{"detail-type":["AWS Health Event"],"source":["aws.health"]}`,
		`{"detail-type":["EC2 Spot Instance Interruption Warning"],"source":["aws.ec2"]}`,
		`{"detail-type":["EC2 Instance Rebalance Recommendation"],"source":["aws.ec2"]}`,
		`{"detail-type":["EC2 Instance State-change Notification"],"source":["aws.ec2"]}`,
		`{"detail-type":["EC2 Capacity Reservation Instance Interruption Warning"],"source":["aws.ec2"]}`,
	}
	for _, p := range want {
		if !patterns[p] {
			t.Errorf("no rule with pattern %s (have %v)", p, patterns)
		}
	}
	if rules != 5 || targets != 5 {
		t.Errorf("%d rules, %d targets; want 5 each", rules, targets)
	}
	// Only the stack's own rules may deliver.
	if got := allowed["aws:SourceArn"]; len(ruleARNs) != 5 || !sameElements(got, ruleARNs) {
		t.Errorf("queue accepts messages from %v, want exactly the rules %v", got, ruleARNs)
	}
}

// sameElements: every ARN in got starts with one of the prefixes in want,
// one for one.
func sameElements(got any, want []any) bool {
	list, ok := got.([]any)
	if !ok || len(list) != len(want) {
		return false
	}
	for _, prefix := range want {
		if !slices.ContainsFunc(list, func(arn any) bool { return strings.HasPrefix(arn.(string), prefix.(string)) }) {
			return false
		}
	}
	return true
}
