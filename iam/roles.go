package iam

import (
	"fmt"
	"strings"

	awseks "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"karpenter-gpu/config"
	"karpenter-gpu/wellknown"
)

// NodeManagedPolicies are the AWS managed policies every Karpenter node needs.
var NodeManagedPolicies = []string{
	"AmazonEKSWorkerNodePolicy",
	"AmazonEKS_CNI_Policy",
	"AmazonEC2ContainerRegistryPullOnly",
	"AmazonSSMManagedInstanceCore",
}

// NodeRoleArgs configures the role GPU nodes run as.
type NodeRoleArgs struct {
	Partition           string
	DNSSuffix           string // of the partition, for the EC2 service principal
	ExtraPolicyARNs     []string
	PermissionsBoundary string
	Tags                map[string]string
}

// NodeRole is the IAM role of the instances Karpenter launches.
type NodeRole struct {
	pulumi.ResourceState
	Role *iam.Role
	Name pulumi.StringOutput
	ARN  pulumi.StringOutput
	// Attachments complete the role; nodes cannot join before they exist.
	Attachments []pulumi.Resource
}

// NewNodeRole creates the node role with its managed policies.
func NewNodeRole(ctx *pulumi.Context, name string, args *NodeRoleArgs, opts ...pulumi.ResourceOption) (*NodeRole, error) {
	r := &NodeRole{}
	if err := ctx.RegisterComponentResource("karpenter-gpu:iam:NodeRole", name, r, opts...); err != nil {
		return nil, err
	}
	trust, err := NodeTrust(args.DNSSuffix).JSON()
	if err != nil {
		return nil, err
	}
	roleArgs := &iam.RoleArgs{
		Description:      pulumi.String("Nodes launched by Karpenter"),
		AssumeRolePolicy: pulumi.String(trust),
		Tags:             pulumi.ToStringMap(args.Tags),
	}
	if args.PermissionsBoundary != "" {
		roleArgs.PermissionsBoundary = pulumi.String(args.PermissionsBoundary)
	}
	r.Role, err = iam.NewRole(ctx, name, roleArgs, pulumi.Parent(r))
	if err != nil {
		return nil, err
	}
	policies := make([]string, 0, len(NodeManagedPolicies)+len(args.ExtraPolicyARNs))
	for _, p := range NodeManagedPolicies {
		policies = append(policies, fmt.Sprintf("arn:%s:iam::aws:policy/%s", args.Partition, p))
	}
	policies = append(policies, args.ExtraPolicyARNs...)
	for _, arn := range policies {
		a, err := iam.NewRolePolicyAttachment(ctx, name+"-"+lastSegment(arn), &iam.RolePolicyAttachmentArgs{
			Role:      r.Role.Name,
			PolicyArn: pulumi.String(arn),
		}, pulumi.Parent(r))
		if err != nil {
			return nil, err
		}
		r.Attachments = append(r.Attachments, a)
	}
	r.Name, r.ARN = r.Role.Name, r.Role.Arn
	return r, ctx.RegisterResourceOutputs(r, pulumi.Map{"name": r.Name, "arn": r.ARN})
}

// lastSegment is a policy ARN's name: its part after the last '/'.
func lastSegment(arn string) string {
	return arn[strings.LastIndex(arn, "/")+1:]
}

// ControllerRoleArgs configures the Karpenter controller's identity.
type ControllerRoleArgs struct {
	Identity config.Identity
	Scope    ControllerScope // NodeRoleARN and QueueARN are taken from the inputs below
	// IRSA: the cluster's issuer and IAM OIDC provider.
	OIDCIssuerURL   pulumi.StringInput
	OIDCProviderARN pulumi.StringInput
	Namespace       string
	NodeRoleARN     pulumi.StringInput
	QueueARN        pulumi.StringInput
	Tags            map[string]string
	// After are resources that must exist first, such as a created cluster.
	After []pulumi.Resource
}

// ControllerRole is the IAM role of the Karpenter controller.
type ControllerRole struct {
	pulumi.ResourceState
	ARN pulumi.StringOutput
	// Grants are the policy attachments and the pod identity association: the
	// controller must start after them and stop before they go.
	Grants []pulumi.Resource
}

// NewControllerRole creates the controller role, its trust, its managed
// policies and, with Pod Identity, the association to its service account.
func NewControllerRole(ctx *pulumi.Context, name string, args *ControllerRoleArgs, opts ...pulumi.ResourceOption) (*ControllerRole, error) {
	r := &ControllerRole{}
	if err := ctx.RegisterComponentResource("karpenter-gpu:iam:ControllerRole", name, r, opts...); err != nil {
		return nil, err
	}
	var trust pulumi.StringInput
	switch args.Identity {
	case config.IdentityPodIdentity:
		doc, err := PodIdentityTrust().JSON()
		if err != nil {
			return nil, err
		}
		trust = pulumi.String(doc)
	default:
		trust = pulumi.All(args.OIDCProviderARN, args.OIDCIssuerURL).ApplyT(func(v []any) (string, error) {
			return IRSATrust(v[0].(string), v[1].(string), args.Namespace, wellknown.KarpenterServiceAccount).JSON()
		}).(pulumi.StringOutput)
	}
	role, err := iam.NewRole(ctx, name, &iam.RoleArgs{
		Description:      pulumi.String("Karpenter controller for cluster " + args.Scope.ClusterName),
		AssumeRolePolicy: trust,
		Tags:             pulumi.ToStringMap(args.Tags),
	}, pulumi.Parent(r))
	if err != nil {
		return nil, err
	}
	for i, p := range ControllerPolicies(args.Scope) {
		doc := pulumi.All(args.NodeRoleARN, args.QueueARN).ApplyT(func(v []any) (string, error) {
			scope := args.Scope
			scope.NodeRoleARN, scope.QueueARN = v[0].(string), v[1].(string)
			return ControllerPolicies(scope)[i].Document.JSON()
		}).(pulumi.StringOutput)
		policy, err := iam.NewPolicy(ctx, name+"-"+p.Name, &iam.PolicyArgs{
			Description: pulumi.String(fmt.Sprintf("Karpenter controller (%s) for cluster %s", p.Name, args.Scope.ClusterName)),
			Policy:      doc,
			Tags:        pulumi.ToStringMap(args.Tags),
		}, pulumi.Parent(r))
		if err != nil {
			return nil, err
		}
		a, err := iam.NewRolePolicyAttachment(ctx, name+"-"+p.Name, &iam.RolePolicyAttachmentArgs{
			Role:      role.Name,
			PolicyArn: policy.Arn,
		}, pulumi.Parent(r))
		if err != nil {
			return nil, err
		}
		r.Grants = append(r.Grants, a)
	}
	if args.Identity == config.IdentityPodIdentity {
		assoc, err := awseks.NewPodIdentityAssociation(ctx, name, &awseks.PodIdentityAssociationArgs{
			ClusterName:    pulumi.String(args.Scope.ClusterName),
			Namespace:      pulumi.String(args.Namespace),
			ServiceAccount: pulumi.String(wellknown.KarpenterServiceAccount),
			RoleArn:        role.Arn,
			Tags:           pulumi.ToStringMap(args.Tags),
		}, pulumi.Parent(r), pulumi.DependsOn(args.After))
		if err != nil {
			return nil, err
		}
		r.Grants = append(r.Grants, assoc)
	}
	r.ARN = role.Arn
	return r, ctx.RegisterResourceOutputs(r, pulumi.Map{"arn": r.ARN})
}

// OIDCProviderArgs describes the IAM OIDC provider for a cluster's issuer.
type OIDCProviderArgs struct {
	IssuerURL pulumi.StringInput
	Tags      map[string]string
}

// NewOIDCProvider registers the cluster's service account issuer with IAM, for
// clusters that have none yet. IAM no longer checks thumbprints for EKS issuers.
func NewOIDCProvider(ctx *pulumi.Context, name string, args *OIDCProviderArgs, opts ...pulumi.ResourceOption) (*iam.OpenIdConnectProvider, error) {
	return iam.NewOpenIdConnectProvider(ctx, name, &iam.OpenIdConnectProviderArgs{
		Url:           args.IssuerURL,
		ClientIdLists: pulumi.ToStringArray([]string{"sts.amazonaws.com"}),
		Tags:          pulumi.ToStringMap(args.Tags),
	}, opts...)
}
