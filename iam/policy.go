// Package iam builds the node role, the Karpenter controller role with its
// scoped permissions, and the trust documents that bind them.
package iam

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Document is an IAM policy document. Built as Go values (not through the
// GetPolicyDocument invoke) so that tests and the offline render see the very
// JSON that IAM receives.
type Document struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is one IAM policy statement.
type Statement struct {
	Sid       string                    `json:"Sid,omitempty"`
	Effect    string                    `json:"Effect"`
	Principal any                       `json:"Principal,omitempty"`
	Action    []string                  `json:"Action"`
	Resource  []string                  `json:"Resource,omitempty"`
	Condition map[string]map[string]any `json:"Condition,omitempty"`
}

func document(statements ...Statement) Document {
	return Document{Version: "2012-10-17", Statement: statements}
}

// JSON renders the document as IAM stores it.
func (d Document) JSON() (string, error) {
	b, err := json.Marshal(d)
	return string(b), err
}

// NodeTrust lets EC2 instances assume the node role.
//
// The EC2 service principal follows the partition's DNS suffix
// (ec2.amazonaws.com, ec2.amazonaws.com.cn in China).
func NodeTrust(dnsSuffix string) Document {
	return document(Statement{
		Effect:    "Allow",
		Principal: map[string]any{"Service": "ec2." + dnsSuffix},
		Action:    []string{"sts:AssumeRole"},
	})
}

// IRSATrust lets exactly one service account assume a role through the
// cluster's OIDC provider.
func IRSATrust(oidcProviderARN, issuerURL, namespace, serviceAccount string) Document {
	issuer := strings.TrimPrefix(issuerURL, "https://")
	return document(Statement{
		Effect:    "Allow",
		Principal: map[string]any{"Federated": oidcProviderARN},
		Action:    []string{"sts:AssumeRoleWithWebIdentity"},
		Condition: map[string]map[string]any{"StringEquals": {
			issuer + ":aud": "sts.amazonaws.com",
			issuer + ":sub": fmt.Sprintf("system:serviceaccount:%s:%s", namespace, serviceAccount),
		}},
	})
}

// PodIdentityTrust lets the EKS Pod Identity agent assume a role; which
// service account gets it is decided by the pod identity association.
func PodIdentityTrust() Document {
	return document(Statement{
		Effect:    "Allow",
		Principal: map[string]any{"Service": "pods.eks.amazonaws.com"},
		Action:    []string{"sts:AssumeRole", "sts:TagSession"},
	})
}

// ControllerScope is what the controller's permissions are scoped to.
type ControllerScope struct {
	Partition   string
	Region      string
	AccountID   string
	ClusterName string
	ClusterARN  string
	NodeRoleARN string
	QueueARN    string
	// RebootForRepair grants ec2:RebootInstances for Karpenter's
	// rebootForRepair gate, scoped like termination.
	RebootForRepair bool
}

// ControllerPolicy is one managed policy of the controller role.
type ControllerPolicy struct {
	Name     string // stable short name, part of the resource name
	Document Document
}

// MaxManagedPolicyChars is IAM's limit on one managed policy document,
// counted without white space.
const MaxManagedPolicyChars = 6144

// ControllerPolicies returns Karpenter's controller permissions split by
// concern, as in Karpenter's own CloudFormation template, so that no document
// reaches IAM's size limit even for the longest cluster names.
func ControllerPolicies(s ControllerScope) []ControllerPolicy {
	ec2ARN := func(kind string) string {
		return fmt.Sprintf("arn:%s:ec2:%s:*:%s/*", s.Partition, s.Region, kind)
	}
	owned := "aws:ResourceTag/kubernetes.io/cluster/" + s.ClusterName
	requestOwned := "aws:RequestTag/kubernetes.io/cluster/" + s.ClusterName
	const (
		resourceNodePool  = "aws:ResourceTag/karpenter.sh/nodepool"
		requestNodePool   = "aws:RequestTag/karpenter.sh/nodepool"
		requestCluster    = "aws:RequestTag/eks:eks-cluster-name"
		resourceRegion    = "aws:ResourceTag/topology.kubernetes.io/region"
		requestRegion     = "aws:RequestTag/topology.kubernetes.io/region"
		resourceNodeClass = "aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass"
		requestNodeClass  = "aws:RequestTag/karpenter.k8s.aws/ec2nodeclass"
	)
	// Instances and launch templates this cluster's Karpenter launched.
	launchedByKarpenter := func() map[string]map[string]any {
		return map[string]map[string]any{
			"StringEquals": {owned: "owned"},
			"StringLike":   {resourceNodePool: "*"},
		}
	}
	launched := []string{
		ec2ARN("fleet"), ec2ARN("instance"), ec2ARN("volume"),
		ec2ARN("network-interface"), ec2ARN("launch-template"), ec2ARN("spot-instances-request"),
	}
	instanceProfiles := fmt.Sprintf("arn:%s:iam::%s:instance-profile/*", s.Partition, s.AccountID)

	nodeLifecycle := document(
		Statement{
			Sid:    "AllowScopedEC2InstanceAccessActions",
			Effect: "Allow",
			Action: []string{"ec2:RunInstances", "ec2:CreateFleet"},
			Resource: []string{
				fmt.Sprintf("arn:%s:ec2:%s::image/*", s.Partition, s.Region),
				fmt.Sprintf("arn:%s:ec2:%s::snapshot/*", s.Partition, s.Region),
				ec2ARN("security-group"), ec2ARN("subnet"),
				ec2ARN("capacity-reservation"), ec2ARN("placement-group"),
			},
		},
		Statement{
			Sid:       "AllowScopedEC2LaunchTemplateAccessActions",
			Effect:    "Allow",
			Action:    []string{"ec2:RunInstances", "ec2:CreateFleet"},
			Resource:  []string{ec2ARN("launch-template")},
			Condition: launchedByKarpenter(),
		},
		Statement{
			Sid:      "AllowScopedEC2InstanceActionsWithTags",
			Effect:   "Allow",
			Action:   []string{"ec2:RunInstances", "ec2:CreateFleet", "ec2:CreateLaunchTemplate"},
			Resource: launched,
			Condition: map[string]map[string]any{
				"StringEquals": {requestOwned: "owned", requestCluster: s.ClusterName},
				"StringLike":   {requestNodePool: "*"},
			},
		},
		Statement{
			Sid:      "AllowScopedResourceCreationTagging",
			Effect:   "Allow",
			Action:   []string{"ec2:CreateTags"},
			Resource: launched,
			Condition: map[string]map[string]any{
				"StringEquals": {
					requestOwned:       "owned",
					requestCluster:     s.ClusterName,
					"ec2:CreateAction": []string{"RunInstances", "CreateFleet", "CreateLaunchTemplate"},
				},
				"StringLike": {requestNodePool: "*"},
			},
		},
		Statement{
			Sid:      "AllowScopedResourceTagging",
			Effect:   "Allow",
			Action:   []string{"ec2:CreateTags"},
			Resource: []string{ec2ARN("instance")},
			Condition: map[string]map[string]any{
				"StringEquals":              {owned: "owned"},
				"StringLike":                {resourceNodePool: "*"},
				"StringEqualsIfExists":      {requestCluster: s.ClusterName},
				"ForAllValues:StringEquals": {"aws:TagKeys": []string{"eks:eks-cluster-name", "karpenter.sh/nodeclaim", "Name"}},
			},
		},
		Statement{
			Sid:       "AllowScopedDeletion",
			Effect:    "Allow",
			Action:    []string{"ec2:TerminateInstances", "ec2:DeleteLaunchTemplate"},
			Resource:  []string{ec2ARN("instance"), ec2ARN("launch-template")},
			Condition: launchedByKarpenter(),
		},
	)

	if s.RebootForRepair {
		nodeLifecycle.Statement = append(nodeLifecycle.Statement, Statement{
			Sid:       "AllowScopedInstanceReboot",
			Effect:    "Allow",
			Action:    []string{"ec2:RebootInstances"},
			Resource:  []string{ec2ARN("instance")},
			Condition: launchedByKarpenter(),
		})
	}

	iamIntegration := document(
		Statement{
			Sid:       "AllowPassingInstanceRole",
			Effect:    "Allow",
			Action:    []string{"iam:PassRole"},
			Resource:  []string{s.NodeRoleARN},
			Condition: map[string]map[string]any{"StringEquals": {"iam:PassedToService": []string{"ec2.amazonaws.com", "ec2.amazonaws.com.cn"}}},
		},
		Statement{
			Sid:      "AllowScopedInstanceProfileCreationActions",
			Effect:   "Allow",
			Action:   []string{"iam:CreateInstanceProfile"},
			Resource: []string{instanceProfiles},
			Condition: map[string]map[string]any{
				"StringEquals": {requestOwned: "owned", requestCluster: s.ClusterName, requestRegion: s.Region},
				"StringLike":   {requestNodeClass: "*"},
			},
		},
		Statement{
			Sid:      "AllowScopedInstanceProfileTagActions",
			Effect:   "Allow",
			Action:   []string{"iam:TagInstanceProfile"},
			Resource: []string{instanceProfiles},
			Condition: map[string]map[string]any{
				"StringEquals": {
					owned: "owned", resourceRegion: s.Region,
					requestOwned: "owned", requestCluster: s.ClusterName, requestRegion: s.Region,
				},
				"StringLike": {resourceNodeClass: "*", requestNodeClass: "*"},
			},
		},
		Statement{
			Sid:      "AllowScopedInstanceProfileActions",
			Effect:   "Allow",
			Action:   []string{"iam:AddRoleToInstanceProfile", "iam:RemoveRoleFromInstanceProfile", "iam:DeleteInstanceProfile"},
			Resource: []string{instanceProfiles},
			Condition: map[string]map[string]any{
				"StringEquals": {owned: "owned", resourceRegion: s.Region},
				"StringLike":   {resourceNodeClass: "*"},
			},
		},
		Statement{
			Sid:      "AllowInstanceProfileReadActions",
			Effect:   "Allow",
			Action:   []string{"iam:GetInstanceProfile"},
			Resource: []string{instanceProfiles},
		},
		Statement{
			Sid:      "AllowUnscopedInstanceProfileListAction",
			Effect:   "Allow",
			Action:   []string{"iam:ListInstanceProfiles"},
			Resource: []string{"*"},
		},
	)

	eksIntegration := document(Statement{
		Sid:      "AllowAPIServerEndpointDiscovery",
		Effect:   "Allow",
		Action:   []string{"eks:DescribeCluster"},
		Resource: []string{s.ClusterARN},
	})

	interruption := document(Statement{
		Sid:      "AllowInterruptionQueueActions",
		Effect:   "Allow",
		Action:   []string{"sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"},
		Resource: []string{s.QueueARN},
	})

	resourceDiscovery := document(
		Statement{
			Sid:    "AllowRegionalReadActions",
			Effect: "Allow",
			Action: []string{
				"ec2:DescribeCapacityReservations", "ec2:DescribeImages", "ec2:DescribeInstances",
				"ec2:DescribeInstanceStatus", "ec2:DescribeInstanceTypeOfferings", "ec2:DescribeInstanceTypes",
				"ec2:DescribeLaunchTemplates", "ec2:DescribePlacementGroups", "ec2:DescribeSecurityGroups",
				"ec2:DescribeSpotPriceHistory", "ec2:DescribeSubnets",
			},
			Resource:  []string{"*"},
			Condition: map[string]map[string]any{"StringEquals": {"aws:RequestedRegion": s.Region}},
		},
		Statement{
			Sid:      "AllowSSMReadActions",
			Effect:   "Allow",
			Action:   []string{"ssm:GetParameter"},
			Resource: []string{fmt.Sprintf("arn:%s:ssm:%s::parameter/aws/service/*", s.Partition, s.Region)},
		},
		Statement{
			Sid:      "AllowPricingReadActions",
			Effect:   "Allow",
			Action:   []string{"pricing:GetProducts"},
			Resource: []string{"*"},
		},
		Statement{
			Sid:       "AllowZonalShiftReadActions",
			Effect:    "Allow",
			Action:    []string{"arc-zonal-shift:GetManagedResource"},
			Resource:  []string{"*"},
			Condition: map[string]map[string]any{"StringEquals": {"arc-zonal-shift:ResourceIdentifier": s.ClusterARN}},
		},
	)

	return []ControllerPolicy{
		{Name: "node-lifecycle", Document: nodeLifecycle},
		{Name: "iam-integration", Document: iamIntegration},
		{Name: "eks-integration", Document: eksIntegration},
		{Name: "interruption", Document: interruption},
		{Name: "resource-discovery", Document: resourceDiscovery},
	}
}
