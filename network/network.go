// Package network marks the subnets and security groups Karpenter may
// launch GPU nodes into.
package network

import (
	"maps"
	"slices"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"karpenter-gpu/wellknown"
)

// DiscoveryTagsArgs names what to tag. Keys are stable logical names (the
// resource ID where it is known when the program runs).
type DiscoveryTagsArgs struct {
	ClusterName    string
	Subnets        map[string]pulumi.StringInput
	SecurityGroups map[string]pulumi.StringInput
}

// DiscoveryTags holds one tag resource per subnet and security group.
type DiscoveryTags struct {
	pulumi.ResourceState
	// Value is the tag value the EC2NodeClass selector terms match.
	Value string
	Tags  []pulumi.Resource
}

// NewDiscoveryTags adds karpenter.sh/discovery=<cluster> to each resource.
// Each tag is its own resource: other tags are never touched, and destroy
// removes only this one.
func NewDiscoveryTags(ctx *pulumi.Context, name string, args *DiscoveryTagsArgs, opts ...pulumi.ResourceOption) (*DiscoveryTags, error) {
	d := &DiscoveryTags{Value: args.ClusterName}
	if err := ctx.RegisterComponentResource("karpenter-gpu:network:DiscoveryTags", name, d, opts...); err != nil {
		return nil, err
	}
	for _, group := range []map[string]pulumi.StringInput{args.Subnets, args.SecurityGroups} {
		for _, key := range slices.Sorted(maps.Keys(group)) {
			tag, err := ec2.NewTag(ctx, name+"-"+key, &ec2.TagArgs{
				ResourceId: group[key],
				Key:        pulumi.String(wellknown.DiscoveryTagKey),
				Value:      pulumi.String(args.ClusterName),
			}, pulumi.Parent(d))
			if err != nil {
				return nil, err
			}
			d.Tags = append(d.Tags, tag)
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
