package catalog

// Prices are on-demand hourly prices in USD by instance type, and whose
// they are: read for the stack's region at preview, or the pinned table.
type Prices struct {
	Region string
	// Source says where they come from, as the outputs and plan.md say it.
	Source string
	USD    map[string]float64
}

// Sources of prices.
const (
	PricesFromPriceList = "the AWS Price List API, read at preview"
	PricesPinned        = "the catalogue's pinned us-east-1 list prices"
)

// PinnedPrices are OnDemandHourlyUSD.
func PinnedPrices() Prices {
	return Prices{Region: PricesRegion, Source: PricesPinned, USD: OnDemandHourlyUSD}
}
