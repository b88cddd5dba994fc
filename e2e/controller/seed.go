package main

import (
	"encoding/json"
	"fmt"
	"os"

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
