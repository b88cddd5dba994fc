package network

import (
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// EFASecurityGroupArgs places the EFA security group.
type EFASecurityGroupArgs struct {
	VpcID       string
	ClusterName string
	Tags        map[string]string
}

// NewEFASecurityGroup creates the security group EFA needs: EFA traffic
// flows only between interfaces of one security group that allows all
// traffic to and from itself. EFA node classes select it by ID, beside the
// cluster's security groups, which carry all other traffic.
func NewEFASecurityGroup(ctx *pulumi.Context, name string, args *EFASecurityGroupArgs, opts ...pulumi.ResourceOption) (*ec2.SecurityGroup, error) {
	self := func() ec2.SecurityGroupIngressArgs {
		return ec2.SecurityGroupIngressArgs{Protocol: pulumi.String("-1"), FromPort: pulumi.Int(0), ToPort: pulumi.Int(0), Self: pulumi.Bool(true)}
	}
	in := self()
	return ec2.NewSecurityGroup(ctx, name, &ec2.SecurityGroupArgs{
		Description: pulumi.String("EFA traffic between GPU nodes of cluster " + args.ClusterName),
		VpcId:       pulumi.String(args.VpcID),
		Ingress:     ec2.SecurityGroupIngressArray{in},
		Egress: ec2.SecurityGroupEgressArray{ec2.SecurityGroupEgressArgs{
			Protocol: in.Protocol, FromPort: in.FromPort, ToPort: in.ToPort, Self: in.Self,
		}},
		Tags: pulumi.ToStringMap(args.Tags),
	}, opts...)
}
