// Preflight: the subnets and security groups of GPU nodes, and the zones
// of each node class.

package stack

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"karpenter-gpu/cluster"
	"karpenter-gpu/config"
	"karpenter-gpu/network"
)

// chooseNetwork picks the subnets and security groups of GPU nodes and,
// when they are found by tag, which of them this stack tags.
func (p *preflight) chooseNetwork(ctx *pulumi.Context, cfg *config.Stack) error {
	switch {
	case len(cfg.Discovery.SubnetIDs) > 0:
		p.subnets = cfg.Discovery.SubnetIDs
	case cfg.Cluster.Create:
		p.subnets = cfg.Cluster.SubnetIDs
	default:
		private, err := cluster.PrivateSubnets(ctx, p.facts.SubnetIDs)
		if err != nil {
			return err
		}
		p.subnets = private
	}
	switch {
	case len(cfg.Discovery.SecurityGroupIDs) > 0:
		p.securityGroups = cfg.Discovery.SecurityGroupIDs
	case p.facts != nil && p.facts.ClusterSecurityGroupID != "":
		p.securityGroups = []string{p.facts.ClusterSecurityGroupID}
	}
	if cfg.Discovery.Mode == config.DiscoveryIDs {
		return nil
	}
	subnets, err := network.ReadSubnets(ctx, p.subnets)
	if err != nil {
		return namedLookup(cfg, err)
	}
	groups, err := network.ReadSecurityGroups(ctx, p.securityGroups)
	if err != nil {
		return namedLookup(cfg, err)
	}
	if p.taggedSubnets, err = network.Owned(cfg.ClusterName, owner(ctx), subnets); err != nil {
		return err
	}
	p.taggedSecurityGroups, err = network.Owned(cfg.ClusterName, owner(ctx), groups)
	return err
}

// readClassZones reads the zones of each node class's subnets (its own
// subnetIds, or the stack's discovered subnets) and refuses an EFA class
// whose subnets span several.
func (p *preflight) readClassZones(ctx *pulumi.Context, cfg *config.Stack) error {
	ids := slices.Clone(p.subnets)
	for _, nc := range cfg.NodeClasses {
		ids = append(ids, nc.SubnetIDs...)
	}
	zoneOf, err := network.SubnetZones(ctx, ids)
	if err != nil {
		return namedLookup(cfg, err)
	}
	p.classZones = map[string][]string{}
	for _, nc := range cfg.NodeClasses {
		subnets := p.subnets
		if len(nc.SubnetIDs) > 0 {
			subnets = nc.SubnetIDs
		}
		if nc.EFA.Enabled() {
			if err := network.CheckOneZone(fmt.Sprintf("%s:nodeClasses[%s].subnetIds", config.Namespace, nc.Name), subnets, zoneOf); err != nil {
				return err
			}
		}
		var zones []string
		for _, id := range subnets {
			zones = append(zones, zoneOf[id])
		}
		p.classZones[nc.Name] = distinct(zones)
	}
	return nil
}

// namedLookup names the configuration key, or the cluster fact, that gave
// the subnet or security group EC2 did not find.
func namedLookup(cfg *config.Stack, err error) error {
	var lookup *network.LookupError
	if !errors.As(err, &lookup) {
		return err
	}
	from := "the cluster's own (eks:DescribeCluster resourcesVpcConfig)"
	for _, nc := range cfg.NodeClasses {
		if i := slices.Index(nc.SubnetIDs, lookup.ID); i >= 0 {
			from = fmt.Sprintf("%s:nodeClasses[%s].subnetIds[%d]", config.Namespace, nc.Name, i)
		}
	}
	for key, ids := range map[string][]string{
		"discovery.subnetIds": cfg.Discovery.SubnetIDs, "discovery.securityGroupIds": cfg.Discovery.SecurityGroupIDs,
		"cluster.subnetIds": cfg.Cluster.SubnetIDs,
	} {
		if i := slices.Index(ids, lookup.ID); i >= 0 {
			from = fmt.Sprintf("%s:%s[%d]", config.Namespace, key, i)
		}
	}
	return fmt.Errorf("%s: %q: reading this %s failed (%v); give the ID of one in the cluster's VPC in this region (aws ec2 describe-%ss --filters Name=vpc-id,Values=VPC_ID)",
		from, lookup.ID, lookup.Kind, lookup.Err, strings.ReplaceAll(lookup.Kind, " ", "-"))
}
