// Package network marks the subnets and security groups Karpenter may
// launch GPU nodes into, without taking over a tag the stack did not create.
package network

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"karpenter-gpu/wellknown"
)

// Resource is a subnet or security group with its tags as they are before
// this update.
type Resource struct {
	ID   string
	Tags map[string]string
}

// ReadSubnets looks up the current tags of subnets.
func ReadSubnets(ctx *pulumi.Context, ids []string) ([]Resource, error) {
	return readTags(ids, "subnet", func(id string) (map[string]string, error) {
		s, err := ec2.LookupSubnet(ctx, &ec2.LookupSubnetArgs{Id: &id})
		if err != nil {
			return nil, err
		}
		return s.Tags, nil
	})
}

// ReadSecurityGroups looks up the current tags of security groups.
func ReadSecurityGroups(ctx *pulumi.Context, ids []string) ([]Resource, error) {
	return readTags(ids, "security group", func(id string) (map[string]string, error) {
		sg, err := ec2.LookupSecurityGroup(ctx, &ec2.LookupSecurityGroupArgs{Id: &id})
		if err != nil {
			return nil, err
		}
		return sg.Tags, nil
	})
}

// LookupError is a subnet or security group EC2 did not return; the
// caller knows which configuration key named it.
type LookupError struct {
	Kind, ID string
	Err      error
}

func (e *LookupError) Error() string { return fmt.Sprintf("looking up %s %s: %v", e.Kind, e.ID, e.Err) }
func (e *LookupError) Unwrap() error { return e.Err }

func readTags(ids []string, kind string, lookup func(id string) (map[string]string, error)) ([]Resource, error) {
	out := make([]Resource, 0, len(ids))
	for _, id := range ids {
		tags, err := lookup(id)
		if err != nil {
			return nil, &LookupError{Kind: kind, ID: id, Err: err}
		}
		out = append(out, Resource{ID: id, Tags: tags})
	}
	return out, nil
}

// Owned decides which resources this stack tags. A resource is tagged
// when it has no discovery tag, or when the tag is this stack's (its
// ownership tag names owner). A discovery tag with the cluster's name that
// the stack did not create is left alone, now and on destroy. A discovery
// tag naming another cluster is an error: Karpenter of that cluster
// launches into it.
func Owned(clusterName, owner string, resources []Resource) ([]string, error) {
	var ours []string
	var taken []string
	for _, r := range resources {
		value, tagged := r.Tags[wellknown.DiscoveryTagKey]
		switch {
		case !tagged || r.Tags[wellknown.DiscoveryOwnerTagKey] == owner:
			ours = append(ours, r.ID)
		case value != clusterName:
			taken = append(taken, fmt.Sprintf("%s (%s=%s)", r.ID, wellknown.DiscoveryTagKey, value))
		}
	}
	if len(taken) > 0 {
		return nil, fmt.Errorf("discovery: %s already serve another cluster's Karpenter; leave them out of discovery.subnetIds / discovery.securityGroupIds, or select by ID with discovery.mode: ids", strings.Join(taken, ", "))
	}
	return ours, nil
}

// DiscoveryTagsArgs names what to tag. Keys are stable logical names (the
// resource ID where it is known when the program runs).
type DiscoveryTagsArgs struct {
	ClusterName string
	// Owner identifies this stack in the ownership tag.
	Owner          string
	Subnets        map[string]pulumi.StringInput
	SecurityGroups map[string]pulumi.StringInput
}

// DiscoveryTags holds the tag resources of the subnets and security groups
// this stack tags.
type DiscoveryTags struct {
	pulumi.ResourceState
	// Value is the tag value the EC2NodeClass selector terms match.
	Value string
	Tags  []pulumi.Resource
}

// NewDiscoveryTags adds karpenter.sh/discovery=<cluster>, and an ownership
// tag naming this stack, to each resource. Each tag is its own resource:
// other tags are never touched, and destroy removes only these. The
// ownership tag comes first, so that a discovery tag the stack made never
// exists without it.
func NewDiscoveryTags(ctx *pulumi.Context, name string, args *DiscoveryTagsArgs, opts ...pulumi.ResourceOption) (*DiscoveryTags, error) {
	d := &DiscoveryTags{Value: args.ClusterName}
	if err := ctx.RegisterComponentResource("karpenter-gpu:network:DiscoveryTags", name, d, opts...); err != nil {
		return nil, err
	}
	for _, group := range []map[string]pulumi.StringInput{args.Subnets, args.SecurityGroups} {
		for _, key := range slices.Sorted(maps.Keys(group)) {
			owner, err := ec2.NewTag(ctx, name+"-"+key+"-owner", &ec2.TagArgs{
				ResourceId: group[key],
				Key:        pulumi.String(wellknown.DiscoveryOwnerTagKey),
				Value:      pulumi.String(args.Owner),
			}, pulumi.Parent(d))
			if err != nil {
				return nil, err
			}
			tag, err := ec2.NewTag(ctx, name+"-"+key, &ec2.TagArgs{
				ResourceId: group[key],
				Key:        pulumi.String(wellknown.DiscoveryTagKey),
				Value:      pulumi.String(args.ClusterName),
			}, pulumi.Parent(d), pulumi.DependsOn([]pulumi.Resource{owner}))
			if err != nil {
				return nil, err
			}
			d.Tags = append(d.Tags, owner, tag)
		}
	}
	return d, ctx.RegisterResourceOutputs(d, pulumi.Map{"value": pulumi.String(d.Value)})
}

// IDs turns plain resource IDs into the keyed form of DiscoveryTagsArgs.
func IDs(ids []string) map[string]pulumi.StringInput {
	m := make(map[string]pulumi.StringInput, len(ids))
	for _, id := range ids {
		m[id] = pulumi.String(id)
	}
	return m
}
