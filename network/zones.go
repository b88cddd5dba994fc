package network

import (
	"fmt"
	"sort"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// SubnetZones reads the availability zone of each subnet, by subnet ID.
func SubnetZones(ctx *pulumi.Context, ids []string) (map[string]string, error) {
	zones := map[string]string{}
	for _, id := range ids {
		if _, read := zones[id]; read {
			continue
		}
		s, err := ec2.LookupSubnet(ctx, &ec2.LookupSubnetArgs{Id: &id})
		if err != nil {
			return nil, &LookupError{Kind: "subnet", ID: id, Err: err}
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
