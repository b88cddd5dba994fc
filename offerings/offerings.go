// Package offerings asks EC2 what the catalogue and the configuration
// cannot know: which instance types the cluster's zones offer, what EC2
// itself says of their GPUs, and where the capacity reservations and
// placement groups the node classes name are.
package offerings

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"karpenter-gpu/catalog"
)

// InZones asks EC2 in which of zones it offers each of types; a type
// offered in none of them is absent from the answer.
func InZones(ctx *pulumi.Context, types, zones []string) (map[string][]string, error) {
	out := map[string][]string{}
	if len(types) == 0 || len(zones) == 0 {
		return out, nil
	}
	res, err := ec2.GetInstanceTypeOfferings(ctx, &ec2.GetInstanceTypeOfferingsArgs{
		LocationType: pulumi.StringRef("availability-zone"),
		Filters: []ec2.GetInstanceTypeOfferingsFilter{
			{Name: "instance-type", Values: types},
			{Name: "location", Values: zones},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("asking EC2 which zones of %s offer %s: %w", strings.Join(zones, ", "), catalog.Abbreviate(types), err)
	}
	if len(res.Locations) != len(res.InstanceTypes) {
		return nil, fmt.Errorf("EC2's instance type offerings list %d types for %d locations", len(res.InstanceTypes), len(res.Locations))
	}
	for i, t := range res.InstanceTypes {
		if !slices.Contains(out[t], res.Locations[i]) {
			out[t] = append(out[t], res.Locations[i])
		}
	}
	for t := range out {
		slices.Sort(out[t])
	}
	return out, nil
}

// GPUs is what EC2 says of an instance type's GPUs, in the values of
// Karpenter's instance-gpu-* labels.
type GPUs struct {
	// Kinds is how many GPU models EC2 lists: Karpenter sets GPU labels
	// only on a type with exactly one.
	Kinds    int
	Name     string
	Count    int
	MemoryMi int
}

// Network is what EC2 says of an instance type's network cards and EFA:
// what Karpenter's compatibility check reads to drop a type that cannot
// take a node class's network interfaces.
type Network struct {
	Cards        int
	EFASupported bool
	// EFAInterfaces is the most EFA interfaces the type takes.
	EFAInterfaces int
}

// Fits says why the type cannot take a node class that attaches EFA
// interfaces on cards network cards (one EFA-only interface on each), or
// "" when it can.
func (n Network) Fits(cards int) string {
	switch {
	case n.Cards < cards:
		return fmt.Sprintf("%d network card(s)", n.Cards)
	case !n.EFASupported:
		return "no EFA"
	case n.EFAInterfaces < cards:
		return fmt.Sprintf("at most %d EFA interface(s)", n.EFAInterfaces)
	}
	return ""
}

// Describe asks EC2 for an instance type's GPUs and network.
func Describe(ctx *pulumi.Context, instanceType string) (GPUs, Network, error) {
	res, err := ec2.GetInstanceType(ctx, &ec2.GetInstanceTypeArgs{InstanceType: instanceType})
	if err != nil {
		return GPUs{}, Network{}, fmt.Errorf("asking EC2 for the GPUs of %s: %w", instanceType, err)
	}
	g := GPUs{Kinds: len(res.Gpuses)}
	if g.Kinds == 1 {
		gpu := res.Gpuses[0]
		g.Name, g.Count, g.MemoryMi = LabelValue(gpu.Name), gpu.Count, gpu.MemorySize
	}
	return g, Network{Cards: res.MaximumNetworkCards, EFASupported: res.EfaSupported, EFAInterfaces: res.EfaMaximumInterfaces}, nil
}

// LabelValue is the label value Karpenter makes of an EC2 name: lower
// case, spaces turned into dashes ("RTX PRO 6000" is rtx-pro-6000).
func LabelValue(ec2Name string) string {
	return strings.ToLower(strings.ReplaceAll(ec2Name, " ", "-"))
}

// Disagreements name each GPU fact in which EC2 and the catalogue row
// differ, with both values.
func (g GPUs) Disagreements(t catalog.InstanceType) []string {
	if g.Kinds != 1 {
		return []string{fmt.Sprintf("EC2 lists %d GPU models, so Karpenter sets no instance-gpu labels on it; the catalogue has %d × %s", g.Kinds, t.GPUCount, t.GPUName)}
	}
	var out []string
	for _, f := range []struct {
		label          string
		ec2, catalogue any
	}{
		{"instance-gpu-name", g.Name, t.GPUName},
		{"instance-gpu-count", g.Count, t.GPUCount},
		{"instance-gpu-memory", g.MemoryMi, t.GPUMemoryMi},
	} {
		if f.ec2 != f.catalogue {
			out = append(out, fmt.Sprintf("%s: EC2 says %v, the catalogue %v", f.label, f.ec2, f.catalogue))
		}
	}
	return out
}
