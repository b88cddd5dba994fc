package tests

import (
	"strings"
	"testing"

	"karpenter-gpu/catalog"
	"karpenter-gpu/config"
	"karpenter-gpu/internal/fakecloud"
	"karpenter-gpu/stack"
)

// inRegion is the example cluster moved to region, its subnets' zones
// with it.
func inRegion(region string) fakecloud.Cluster {
	cl := fakecloud.Example(clusterName)
	cl.Region = region
	for i, s := range cl.Subnets {
		cl.Subnets[i].Zone = region + strings.TrimPrefix(s.Zone, "us-west-2")
	}
	return cl
}

// The cost ceiling is priced in the stack's region, read from the Price
// List API at preview through a provider in us-east-1 that uses the
// stack's aws:profile; where the read fails or the partition has no USD
// price list, the pinned us-east-1 prices stand and preview says so.
func TestCostCeilingUsesTheRegionsPrices(t *testing.T) {
	t.Parallel()
	pool := map[string]any{"gpuPools": []any{map[string]any{"name": "inference", "instanceTypes": []string{"g5.xlarge", "g6.xlarge"},
		"maxGPUs": 4, "capacityTypes": []string{"on-demand"}}}}
	ceilingOf := func(o stack.Observed) map[string]any {
		return o.Outputs["gpuPools"].(map[string]any)["inference"].(map[string]any)["hourlyCostCeiling"].(map[string]any)
	}

	frankfurt := inRegion("eu-central-1")
	frankfurt.Prices = map[string]float64{"g5.xlarge": 1.258, "g6.xlarge": 1.0088}
	cloud := fakecloud.New(frankfurt, config.Namespace, "test")
	cfg := stackConfig(t, pool)
	cfg["aws:profile"] = "ml-platform"
	var got stack.Observed
	if err := runProgram(cloud, cfg, func(o stack.Observed) { got = o }); err != nil {
		t.Fatal(err)
	}
	ceiling := ceilingOf(got)
	if ceiling["region"] != "eu-central-1" || ceiling["priceSource"] != catalog.PricesFromPriceList || ceiling["usdPerHour"] != 5.03 ||
		ceiling["usdPerHourByType"].(map[string]any)["g5.xlarge"] != 1.258 {
		t.Errorf("eu-central-1 ceiling = %v, want 4 × g5.xlarge at $1.258", ceiling)
	}
	provider := one(t, cloud, "pulumi:providers:aws", "price-list").Inputs
	if provider["region"] != "us-east-1" || provider["profile"] != "ml-platform" {
		t.Errorf("price list provider = %v, want us-east-1 with the stack's profile", provider)
	}

	// Tokyo's prices cannot be read (this fake has none): the pinned ones
	// stand, named as such, and preview says why.
	got = observed(t, inRegion("ap-northeast-1"), pool)
	ceiling = ceilingOf(got)
	if ceiling["region"] != "us-east-1" || ceiling["priceSource"] != catalog.PricesPinned || ceiling["usdPerHour"] != 4.02 {
		t.Errorf("ceiling without ap-northeast-1 prices = %v, want the pinned us-east-1 4 × $1.006", ceiling)
	}
	if w := strings.Join(got.Warnings, "\n"); !strings.Contains(w, "reading ap-northeast-1 on-demand prices from the AWS Price List API (pricing:GetProducts): g5.xlarge: ") || !strings.Contains(w, "(and g6.xlarge failed too)") ||
		!strings.Contains(w, "use "+catalog.PricesPinned+", which differ from ap-northeast-1's; allow pricing:GetProducts") {
		t.Errorf("no warning of unread prices in %q", got.Warnings)
	}

	china := fakecloud.Example(clusterName)
	china.Partition, china.Region = "aws-cn", "cn-north-1"
	cloud = fakecloud.New(china, config.Namespace, "test")
	if err := runProgram(cloud, stackConfig(t, pool), func(o stack.Observed) { got = o }); err != nil {
		t.Fatal(err)
	}
	if ceilingOf(got)["priceSource"] != catalog.PricesPinned || !strings.Contains(strings.Join(got.Warnings, "\n"), "the AWS Price List API has no USD prices for partition aws-cn") {
		t.Errorf("aws-cn: ceiling %v, warnings %q", ceilingOf(got), got.Warnings)
	}
	if len(byType(cloud, "pulumi:providers:aws")) != 0 {
		t.Error("a price list provider in a partition without one")
	}
}
