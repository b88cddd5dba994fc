package network

import (
	"fmt"
	"sort"
	"strings"

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

// CheckOneZone refuses subnets that span more than one availability zone;
// key names the configuration they come from.
func CheckOneZone(ctx *pulumi.Context, key string, ids []string) error {
	zones := map[string][]string{}
	for _, id := range ids {
		s, err := ec2.LookupSubnet(ctx, &ec2.LookupSubnetArgs{Id: &id})
		if err != nil {
			return fmt.Errorf("%s: looking up subnet %s: %w", key, id, err)
		}
		zones[s.AvailabilityZone] = append(zones[s.AvailabilityZone], id)
	}
	if len(zones) <= 1 {
		return nil
	}
	var parts []string
	for zone, subnets := range zones {
		parts = append(parts, zone+": "+strings.Join(subnets, ", "))
	}
	sort.Strings(parts)
	return fmt.Errorf("%s: subnets in %d availability zones (%s); an EFA class needs one zone", key, len(zones), strings.Join(parts, "; "))
}
