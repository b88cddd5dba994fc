// Package quota reads the account's EC2 vCPU quotas for GPU instances
// (Service Quotas) and says which pools could not reach their limit: new
// accounts often have none for G and P instances, and Karpenter then fails
// every launch with a quota error.
package quota

import (
	"fmt"
	"math"
	"strings"

	"karpenter-gpu/wellknown"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/servicequotas"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Codes are the Service Quotas codes of the EC2 vCPU quotas, by capacity
// type and instance class (G: G and VT instances; P: P instances).
var Codes = map[string]map[string]string{
	wellknown.CapacityTypeOnDemand: {"G": "L-DB2E81BA", "P": "L-417A185B"},
	wellknown.CapacityTypeSpot:     {"G": "L-3819A6DF", "P": "L-7212CCBC"},
}

// Names are the quotas' names in the Service Quotas console.
var Names = map[string]string{
	"L-DB2E81BA": "Running On-Demand G and VT instances",
	"L-417A185B": "Running On-Demand P instances",
	"L-3819A6DF": "All G and VT Spot Instance Requests",
	"L-7212CCBC": "All P Spot Instance Requests",
}

// Read returns the quota's value in vCPUs.
func Read(ctx *pulumi.Context, code string) (float64, error) {
	q, err := servicequotas.LookupServiceQuota(ctx, &servicequotas.LookupServiceQuotaArgs{ServiceCode: "ec2", QuotaCode: &code})
	if err != nil {
		return 0, err
	}
	return q.Value, nil
}

// Need is what one pool needs of one quota to reach its limit.
type Need struct {
	Pool, CapacityType, Class string
	VCPUs                     int
	// SetBy is the instance type whose launches need the most vCPUs.
	SetBy string
}

// Warning says why a need exceeds the quota, and how to raise it.
func Warning(n Need, quota float64, region string) string {
	code := Codes[n.CapacityType][n.Class]
	return fmt.Sprintf("gpuPools[%s]: reaching maxGPUs on %s needs %d vCPUs of %s instances (%s), but the quota %q (%s) is %d in %s: launches fail beyond it. Request more with `aws service-quotas request-service-quota-increase --service-code ec2 --quota-code %s --desired-value %d --region %s`.",
		n.Pool, n.SetBy, n.VCPUs, n.Class, n.CapacityType, Names[code], code, int(math.Floor(quota)), region, code, n.VCPUs, region)
}

// Check reads every quota the needs touch once and returns a warning per
// need above its quota. A quota it cannot read (no permission) is one
// warning, not an error: the quota only informs.
func Check(ctx *pulumi.Context, region string, needs []Need) []string {
	read := map[string]float64{}
	failed := map[string]bool{}
	var out []string
	for _, n := range needs {
		code := Codes[n.CapacityType][n.Class]
		if code == "" || failed[code] {
			continue
		}
		value, ok := read[code]
		if !ok {
			v, err := Read(ctx, code)
			if err != nil {
				failed[code] = true
				out = append(out, fmt.Sprintf("could not read the EC2 quota %q (%s) to check the GPU pools against it: %s", Names[code], code, strings.TrimSpace(err.Error())))
				continue
			}
			value, read[code] = v, v
		}
		if float64(n.VCPUs) > value {
			out = append(out, Warning(n, value, region))
		}
	}
	return out
}
