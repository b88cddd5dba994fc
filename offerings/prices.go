package offerings

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/pricing"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"karpenter-gpu/catalog"
)

// PriceListRegion is where the AWS Price List API answers for a
// partition's regions in USD, "" where it does not (China's answers in
// CNY, GovCloud has none).
func PriceListRegion(partition string) string {
	if partition == "aws" {
		return "us-east-1"
	}
	return ""
}

// PriceListProviderArgs configure the AWS provider that reads prices.
type PriceListProviderArgs struct {
	// Partition of the stack's region.
	Partition string
	// Profile is the stack's aws:profile ("" for the environment's
	// credentials): an explicit provider does not read the stack's aws:
	// settings.
	Profile string
}

// NewPriceListProvider is an AWS provider in the Price List API's region,
// nil where the partition has none. It creates nothing in the account.
func NewPriceListProvider(ctx *pulumi.Context, name string, args PriceListProviderArgs, opts ...pulumi.ResourceOption) (*aws.Provider, error) {
	region := PriceListRegion(args.Partition)
	if region == "" {
		return nil, nil
	}
	pa := &aws.ProviderArgs{Region: pulumi.String(region)}
	if args.Profile != "" {
		pa.Profile = pulumi.String(args.Profile)
	}
	return aws.NewProvider(ctx, name, pa, opts...)
}

// OnDemandPrices asks the Price List API for region's Linux on-demand
// price of each type, with the filters Karpenter's own pricing provider
// uses (provider pkg/providers/pricing), so that a pool's ceiling is the
// price Karpenter weighs. Every type must have one: a type the API does
// not price fails the read, naming it.
func OnDemandPrices(ctx *pulumi.Context, provider *aws.Provider, region string, types []string) (catalog.Prices, error) {
	prices := catalog.Prices{Region: region, Source: catalog.PricesFromPriceList, USD: map[string]float64{}}
	var (
		mu     sync.Mutex
		wg     sync.WaitGroup
		failed = map[string]error{}
	)
	// Up to eight reads at a time: one type per request.
	slots := make(chan struct{}, 8)
	for _, t := range types {
		wg.Add(1)
		go func() {
			defer wg.Done()
			slots <- struct{}{}
			defer func() { <-slots }()
			usd, err := onDemandPrice(ctx, provider, region, t)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed[t] = err
				return
			}
			prices.USD[t] = usd
		}()
	}
	wg.Wait()
	if len(failed) > 0 {
		// One error says why; the others most likely say the same.
		names := slices.Sorted(maps.Keys(failed))
		more := ""
		if len(names) > 1 {
			more = fmt.Sprintf(" (and %s failed too)", catalog.Abbreviate(names[1:]))
		}
		return catalog.Prices{}, fmt.Errorf("reading %s on-demand prices from the AWS Price List API (pricing:GetProducts): %s: %s%s", region, names[0], invokeFailure(failed[names[0]]), more)
	}
	return prices, nil
}

func onDemandPrice(ctx *pulumi.Context, provider *aws.Provider, region, instanceType string) (float64, error) {
	res, err := pricing.GetProduct(ctx, &pricing.GetProductArgs{
		ServiceCode: "AmazonEC2",
		Filters: []pricing.GetProductFilter{
			{Field: "instanceType", Value: instanceType},
			{Field: "regionCode", Value: region},
			{Field: "operatingSystem", Value: "Linux"},
			{Field: "preInstalledSw", Value: "NA"},
			{Field: "tenancy", Value: "Shared"},
			{Field: "capacitystatus", Value: "Used"},
			{Field: "marketoption", Value: "OnDemand"},
			{Field: "productFamily", Value: "Compute Instance"},
		},
	}, pulumi.Provider(provider))
	if err != nil {
		return 0, err
	}
	return hourlyUSD(res.Result)
}

// hourlyUSD is the on-demand hourly USD price of one Price List product.
func hourlyUSD(product string) (float64, error) {
	var p struct {
		Terms struct {
			OnDemand map[string]struct {
				PriceDimensions map[string]struct {
					Unit         string            `json:"unit"`
					PricePerUnit map[string]string `json:"pricePerUnit"`
				} `json:"priceDimensions"`
			} `json:"OnDemand"`
		} `json:"terms"`
	}
	if err := json.Unmarshal([]byte(product), &p); err != nil {
		return 0, fmt.Errorf("the product is not the Price List's JSON: %w", err)
	}
	for _, term := range p.Terms.OnDemand {
		for _, dim := range term.PriceDimensions {
			// Karpenter reads the first dimension's price whatever its unit;
			// EC2's on-demand products have one, per hour.
			if usd, ok := dim.PricePerUnit["USD"]; ok && (dim.Unit == "Hrs" || dim.Unit == "") {
				return strconv.ParseFloat(usd, 64)
			}
		}
	}
	return 0, fmt.Errorf("the product has no hourly on-demand price in USD")
}

// invokeFailure is an invoke's error on one line: the engine lists the
// provider's words ("1 error occurred: * … invoke failed: …").
func invokeFailure(err error) string {
	msg := strings.Join(strings.Fields(err.Error()), " ")
	if _, after, ok := strings.Cut(msg, "invoke failed: "); ok {
		msg = after
	}
	return strings.TrimSuffix(msg, " ()")
}
