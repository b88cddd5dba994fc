// Package karpenter installs Karpenter: its interruption queue, its Helm
// releases and the EC2NodeClass that GPU NodePools launch from.
package karpenter

import (
	"encoding/json"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/sqs"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"karpenter-gpu/iam"
)

// InterruptionEvent is an EC2 or AWS Health event Karpenter reacts to
// before AWS takes the instance away.
type InterruptionEvent struct {
	Name       string // stable short name, part of the rule's resource name
	Source     string
	DetailType string
}

// InterruptionEvents are the events Karpenter's interruption handling reads.
var InterruptionEvents = []InterruptionEvent{
	{Name: "health", Source: "aws.health", DetailType: "AWS Health Event"},
	{Name: "spot-interruption", Source: "aws.ec2", DetailType: "EC2 Spot Instance Interruption Warning"},
	{Name: "rebalance", Source: "aws.ec2", DetailType: "EC2 Instance Rebalance Recommendation"},
	{Name: "instance-state-change", Source: "aws.ec2", DetailType: "EC2 Instance State-change Notification"},
	{Name: "capacity-reservation-interruption", Source: "aws.ec2", DetailType: "EC2 Capacity Reservation Instance Interruption Warning"},
}

// Pattern is the EventBridge event pattern that matches the event.
func (e InterruptionEvent) Pattern() (string, error) {
	b, err := json.Marshal(map[string][]string{"source": {e.Source}, "detail-type": {e.DetailType}})
	return string(b), err
}

// QueueRetentionSeconds drops messages the controller could not act on in
// time: a stale interruption warning is worse than none.
const QueueRetentionSeconds = 300

// QueuePolicy lets only the stack's own EventBridge rules deliver to the
// queue, so that nothing else can feed Karpenter fake interruptions, and
// refuses any access without TLS.
func QueuePolicy(queueARN string, ruleARNs []string) iam.Document {
	return iam.Document{
		Version: "2012-10-17",
		Statement: []iam.Statement{
			{
				Sid:       "AllowEventDelivery",
				Effect:    "Allow",
				Principal: map[string]any{"Service": "events.amazonaws.com"},
				Action:    []string{"sqs:SendMessage"},
				Resource:  []string{queueARN},
				Condition: map[string]map[string]any{"ArnEquals": {"aws:SourceArn": ruleARNs}},
			},
			{
				Sid:       "DenyHTTP",
				Effect:    "Deny",
				Principal: "*",
				Action:    []string{"sqs:*"},
				Resource:  []string{queueARN},
				Condition: map[string]map[string]any{"Bool": {"aws:SecureTransport": false}},
			},
		},
	}
}

// InterruptionQueueArgs configures the interruption queue.
type InterruptionQueueArgs struct {
	Tags map[string]string
}

// InterruptionQueue is the SQS queue and the EventBridge rules feeding it.
type InterruptionQueue struct {
	pulumi.ResourceState
	Name pulumi.StringOutput
	ARN  pulumi.StringOutput
	URL  pulumi.StringOutput
}

// NewInterruptionQueue creates the queue, its policy and one rule per event.
func NewInterruptionQueue(ctx *pulumi.Context, name string, args *InterruptionQueueArgs, opts ...pulumi.ResourceOption) (*InterruptionQueue, error) {
	q := &InterruptionQueue{}
	if err := ctx.RegisterComponentResource("karpenter-gpu:karpenter:InterruptionQueue", name, q, opts...); err != nil {
		return nil, err
	}
	tags := pulumi.ToStringMap(args.Tags)
	queue, err := sqs.NewQueue(ctx, name, &sqs.QueueArgs{
		MessageRetentionSeconds: pulumi.Int(QueueRetentionSeconds),
		SqsManagedSseEnabled:    pulumi.Bool(true),
		Tags:                    tags,
	}, pulumi.Parent(q))
	if err != nil {
		return nil, err
	}
	arns := []any{queue.Arn}
	for _, event := range InterruptionEvents {
		pattern, err := event.Pattern()
		if err != nil {
			return nil, err
		}
		rule, err := cloudwatch.NewEventRule(ctx, name+"-"+event.Name, &cloudwatch.EventRuleArgs{
			Description:  pulumi.String("Karpenter interruption handling: " + event.DetailType),
			EventPattern: pulumi.String(pattern),
			Tags:         tags,
		}, pulumi.Parent(q))
		if err != nil {
			return nil, err
		}
		if _, err := cloudwatch.NewEventTarget(ctx, name+"-"+event.Name, &cloudwatch.EventTargetArgs{
			Rule: rule.Name,
			Arn:  queue.Arn,
		}, pulumi.Parent(q)); err != nil {
			return nil, err
		}
		arns = append(arns, rule.Arn)
	}
	policy := pulumi.All(arns...).ApplyT(func(v []any) (string, error) {
		rules := make([]string, len(v)-1)
		for i, arn := range v[1:] {
			rules[i] = arn.(string)
		}
		return QueuePolicy(v[0].(string), rules).JSON()
	}).(pulumi.StringOutput)
	if _, err := sqs.NewQueuePolicy(ctx, name, &sqs.QueuePolicyArgs{QueueUrl: queue.Url, Policy: policy}, pulumi.Parent(q)); err != nil {
		return nil, err
	}
	q.Name, q.ARN, q.URL = queue.Name, queue.Arn, queue.Url
	return q, ctx.RegisterResourceOutputs(q, pulumi.Map{"name": q.Name, "arn": q.ARN, "url": q.URL})
}
