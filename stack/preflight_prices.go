// Preflight: what the pools' instance types cost in the stack's region.

package stack

import (
	"fmt"
	"slices"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"karpenter-gpu/catalog"
	"karpenter-gpu/offerings"
)

// readPrices reads the region's on-demand prices of the types the pools
// may launch and EC2 sells on demand (those the pinned table prices).
// Where they cannot be read the pinned us-east-1 prices stand and preview
// says so: a price is worth a warning, not a failed preview.
func (p *preflight) readPrices(ctx *pulumi.Context) error {
	p.prices = catalog.PinnedPrices()
	var names []string
	for _, types := range p.instanceTypes {
		for _, t := range types {
			if _, sold := catalog.OnDemandHourlyUSD[t.Name]; sold && !slices.Contains(names, t.Name) {
				names = append(names, t.Name)
			}
		}
	}
	if len(names) == 0 {
		return nil
	}
	slices.Sort(names)
	region := p.region(ctx)
	partition, err := p.partition(ctx)
	if err != nil {
		return err
	}
	profile, _ := ctx.GetConfig("aws:profile")
	provider, err := offerings.NewPriceListProvider(ctx, "price-list", offerings.PriceListProviderArgs{Partition: partition, Profile: profile})
	if err != nil {
		return err
	}
	pinned := fmt.Sprintf("plan.md and gpuPools[].hourlyCostCeiling use %s, which differ from %s's", catalog.PricesPinned, region)
	if provider == nil {
		p.warnings = append(p.warnings, fmt.Sprintf("the AWS Price List API has no USD prices for partition %s: %s", partition, pinned))
		return nil
	}
	prices, err := offerings.OnDemandPrices(ctx, provider, region, names)
	if err != nil {
		p.warnings = append(p.warnings, fmt.Sprintf("%v: %s; allow pricing:GetProducts to the credentials that run preview", err, pinned))
		return nil
	}
	p.prices = prices
	return nil
}

// partition is the stack's AWS partition.
func (p *preflight) partition(ctx *pulumi.Context) (string, error) {
	if p.facts != nil {
		return p.facts.Partition, nil
	}
	res, err := aws.GetPartition(ctx, nil)
	if err != nil {
		return "", fmt.Errorf("reading the AWS partition: %w", err)
	}
	return res.Partition, nil
}
