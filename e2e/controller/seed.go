package main

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// Seed is the AWS account the controller meets, written by the harness from
// the stack's state and the fake cluster (e2e/harness/seed.go writes the
// same JSON). The EC2 shapes are the SDK's own, so both sides agree on them
// without a schema of ours.
type Seed struct {
	Region            string `json:"region"`
	Account           string `json:"account"`
	Partition         string `json:"partition"`
	ClusterName       string `json:"clusterName"`
	ClusterEndpoint   string `json:"clusterEndpoint"`
	KubernetesVersion string `json:"kubernetesVersion"`
	ServiceCIDR       string `json:"serviceCIDR"`
	// Roles are the IAM roles that exist; an EC2NodeClass naming another
	// one fails as on AWS.
	Roles []string `json:"roles"`
	// SSMParameters answer GetParameter; any other name is not found.
	SSMParameters map[string]string `json:"ssmParameters"`

	Subnets              []ec2types.Subnet               `json:"subnets"`
	SecurityGroups       []ec2types.SecurityGroup        `json:"securityGroups"`
	Images               []ec2types.Image                `json:"images"`
	InstanceTypes        []ec2types.InstanceTypeInfo     `json:"instanceTypes"`
	Offerings            []ec2types.InstanceTypeOffering `json:"offerings"`
	CapacityReservations []ec2types.CapacityReservation  `json:"capacityReservations"`
	PlacementGroups      []ec2types.PlacementGroup       `json:"placementGroups"`
	// InsufficientCapacity are the pools EC2 has no capacity in: a
	// CreateFleet override for one of them fails with
	// InsufficientInstanceCapacity.
	InsufficientCapacity []CapacityPool `json:"insufficientCapacity"`
	// QueueMessages are on the interruption queue: EventBridge events as
	// SQS delivers them, each received until the controller deletes it.
	QueueMessages []QueueMessage `json:"queueMessages"`
	// ImpairedInstances fail their EC2 status checks, as
	// DescribeInstanceStatus reports them.
	ImpairedInstances []ImpairedInstance `json:"impairedInstances"`
	// Reclaims are instances EC2 terminates at a time of its own (a spot
	// instance two minutes after its interruption notice).
	Reclaims []Reclaim `json:"reclaims"`
	// Prices are not seeded: the pricing API and the spot price history
	// fail, as in an isolated account, and Karpenter falls back to the
	// price table it ships for the region.
}

// CapacityPool is an instance type in a zone, bought as a capacity type.
type CapacityPool struct {
	CapacityType string `json:"capacityType"`
	InstanceType string `json:"instanceType"`
	Zone         string `json:"zone"`
}

// QueueMessage is one message of the interruption queue.
type QueueMessage struct {
	ID   string `json:"id"`
	Body string `json:"body"`
}

// ImpairedInstance is an instance whose instance or system status check
// fails, since a time.
type ImpairedInstance struct {
	InstanceID string    `json:"instanceId"`
	Check      string    `json:"check"` // "instance" or "system"
	Since      time.Time `json:"since"`
}

// Reclaim is an instance EC2 terminates at a time.
type Reclaim struct {
	InstanceID string    `json:"instanceId"`
	At         time.Time `json:"at"`
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
