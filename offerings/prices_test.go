package offerings

import (
	"errors"
	"testing"
)

// A Price List product as GetProducts returns it for one EC2 instance type
// (shortened: most attributes and the reserved terms left out).
const g5xlargeFrankfurt = `{
  "product": {"productFamily": "Compute Instance", "sku": "8QYNJ8M6R5FEQ3Z7",
    "attributes": {"instanceType": "g5.xlarge", "regionCode": "eu-central-1", "operatingSystem": "Linux", "tenancy": "Shared"}},
  "serviceCode": "AmazonEC2",
  "terms": {"OnDemand": {"8QYNJ8M6R5FEQ3Z7.JRTCKXETXF": {
    "offerTermCode": "JRTCKXETXF", "sku": "8QYNJ8M6R5FEQ3Z7",
    "priceDimensions": {"8QYNJ8M6R5FEQ3Z7.JRTCKXETXF.6YS6EN2CT7": {
      "unit": "Hrs", "description": "$1.258 per On Demand Linux g5.xlarge Instance Hour",
      "pricePerUnit": {"USD": "1.2580000000"}}}}}}
}`

func TestHourlyUSDReadsThePriceListsOnDemandTerm(t *testing.T) {
	for name, tc := range map[string]struct {
		product string
		usd     float64
		fails   bool
	}{
		"on-demand hourly":   {product: g5xlargeFrankfurt, usd: 1.258},
		"no on-demand terms": {product: `{"terms": {"Reserved": {}}}`, fails: true},
		"priced in CNY":      {product: `{"terms": {"OnDemand": {"a": {"priceDimensions": {"b": {"unit": "Hrs", "pricePerUnit": {"CNY": "9.1"}}}}}}}`, fails: true},
		"not JSON":           {product: `<html>`, fails: true},
	} {
		t.Run(name, func(t *testing.T) {
			usd, err := hourlyUSD(tc.product)
			if tc.fails != (err != nil) || usd != tc.usd {
				t.Errorf("hourlyUSD = %v, %v; want %v (fails %v)", usd, err, tc.usd, tc.fails)
			}
		})
	}
}

func TestInvokeFailureIsOneLine(t *testing.T) {
	engine := errors.New("1 error occurred:\n\t* aws:pricing/getProduct:getProduct invoke failed: AccessDeniedException: not authorized ()\n\n")
	if got := invokeFailure(engine); got != "AccessDeniedException: not authorized" {
		t.Errorf("invokeFailure = %q", got)
	}
}
