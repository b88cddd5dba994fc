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

// SubnetZones reads the availability zone of each subnet, by subnet ID.
func SubnetZones(ctx *pulumi.Context, ids []string) (map[string]string, error) {
	zones := map[string]string{}
	for _, id := range ids {
		if _, read := zones[id]; read {
			continue
		}
		s, err := ec2.LookupSubnet(ctx, &ec2.LookupSubnetArgs{Id: &id})
		if err != nil {
			return nil, fmt.Errorf("looking up subnet %s: %w", id, err)
		}
		zones[id] = s.AvailabilityZone
	}
	return zones, nil
}

// CheckOneZone refuses subnets that span more than one availability zone;
// key names the configuration they come from, zones are SubnetZones'.
func CheckOneZone(key string, ids []string, zones map[string]string) error {
	byZone := map[string][]string{}
	for _, id := range ids {
		byZone[zones[id]] = append(byZone[zones[id]], id)
	}
	if len(byZone) <= 1 {
		return nil
	}
	var parts []string
	for zone, subnets := range byZone {
		parts = append(parts, zone+": "+strings.Join(subnets, ", "))
	}
	sort.Strings(parts)
	return fmt.Errorf("%s: subnets in %d availability zones (%s); an EFA class needs one zone", key, len(byZone), strings.Join(parts, "; "))
}
