// Preflight: the account's open capacity reservations that the pools
// would leave idle.

package stack

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"karpenter-gpu/catalog"
	"karpenter-gpu/config"
	"karpenter-gpu/offerings"
	"karpenter-gpu/wellknown"
)

// checkOpenReservations warns of the account's active open On-Demand
// Capacity Reservations that fit an on-demand pool's types and that it
// does not launch into: Karpenter's on-demand launches carry the capacity
// reservation preference none (its reserved-capacity support, on since
// 1.9), so such a reservation's free instances stay idle and billed while
// Karpenter buys on-demand beside them.
func (p *preflight) checkOpenReservations(ctx *pulumi.Context, cfg *config.Stack, read offerings.OpenReservations) {
	types := map[string]bool{}
	for _, pool := range cfg.GPUPools {
		for _, t := range p.instanceTypes[pool.Name] {
			types[t.Name] = true
		}
	}
	if len(types) == 0 {
		return
	}
	region := p.region(ctx)
	open, err := read(ctx.Context(), region, slices.Sorted(maps.Keys(types)))
	if err != nil {
		p.warnings = append(p.warnings, fmt.Sprintf("the account's open capacity reservations in %s could not be read (%v): open On-Demand Capacity Reservations for the pools' types would stay idle beside their launches; allow ec2:DescribeCapacityReservations to the credentials that run preview to have them named", region, err))
		return
	}
	for _, pool := range cfg.GPUPools {
		if !slices.Contains(pool.CapacityTypes, wellknown.CapacityTypeOnDemand) {
			continue
		}
		class, _ := cfg.NodeClass(pool.NodeClass)
		var idle []string
		var ids []string
		for _, r := range open {
			if !slices.Contains(p.classZones[class.Name], r.Zone) || !slices.ContainsFunc(p.instanceTypes[pool.Name], func(t catalog.InstanceType) bool { return t.Name == r.InstanceType }) {
				continue
			}
			if slices.Contains(pool.CapacityTypes, wellknown.CapacityTypeReserved) && slices.ContainsFunc(class.CapacityReservations, func(term config.CapacityReservation) bool { return selects(term, r) }) {
				continue
			}
			idle = append(idle, fmt.Sprintf("%s (%s in %s, %d of %d instances free)", r.ID, r.InstanceType, r.Zone, r.Available, r.Total))
			ids = append(ids, fmt.Sprintf("{id: %s}", r.ID))
		}
		if len(idle) == 0 {
			continue
		}
		p.warnings = append(p.warnings, fmt.Sprintf("gpuPools[%s]: the account's open capacity reservations %s fit the pool, and their free instances stay idle, billed, while Karpenter launches on-demand beside them with the capacity reservation preference none; to launch into them add %s to nodeClasses[%s].capacityReservations and %s to gpuPools[%s].capacityTypes",
			pool.Name, strings.Join(idle, ", "), strings.Join(ids, ", "), class.Name, wellknown.CapacityTypeReserved, pool.Name))
	}
}

// selects tells whether a node class's capacity reservation term selects
// a reservation, as Karpenter matches its capacityReservationSelectorTerms.
func selects(term config.CapacityReservation, r offerings.OpenReservation) bool {
	if term.ID != "" && term.ID != r.ID || term.OwnerID != "" && term.OwnerID != r.OwnerID {
		return false
	}
	if term.InstanceMatchCriteria != "" && term.InstanceMatchCriteria != "open" {
		return false
	}
	for k, v := range term.Tags {
		if got, ok := r.Tags[k]; !ok || (v != "*" && got != v) {
			return false
		}
	}
	return true
}
