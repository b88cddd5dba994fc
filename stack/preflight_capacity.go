// Preflight: what each pool can launch: the catalogue's types, those EC2
// offers in the class's zones, the reservations and placement groups the
// classes name, and the vCPU quotas pools need.

package stack

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"karpenter-gpu/ami"
	"karpenter-gpu/catalog"
	"karpenter-gpu/config"
	"karpenter-gpu/gpu"
	"karpenter-gpu/offerings"
	"karpenter-gpu/quota"
	"karpenter-gpu/wellknown"
)

// matchInstanceTypes finds, for every pool, the catalogue's instance types
// its NodePool's requirements admit, and refuses a pool that admits none
// (Karpenter would accept it and never launch a node) or whose
// strictMaxGPUs cannot hold.
func matchInstanceTypes(pools []config.GPUPool) (map[string][]catalog.InstanceType, error) {
	out := map[string][]catalog.InstanceType{}
	var errs []string
	for _, pool := range pools {
		types, err := gpu.InstanceTypes(pool)
		var ruledOut *gpu.RuledOutError
		if errors.As(err, &ruledOut) {
			errs = append(errs, fmt.Sprintf("%s:gpuPools[%s].%s: %s", config.Namespace, pool.Name, ruledOut.Key, ruledOut.Message))
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s:gpuPools[%s]: no EC2 instance type can serve this pool: %v", config.Namespace, pool.Name, err))
			continue
		}
		for _, problem := range gpu.StrictProblems(pool) {
			errs = append(errs, fmt.Sprintf("%s:gpuPools[%s].%s: %s", config.Namespace, pool.Name, problem.Key, problem.Message))
		}
		out[pool.Name] = types
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s\n(instance types and their GPUs as Karpenter's instance-type reference lists them, read on 2026-11-28)", strings.Join(errs, "\n"))
	}
	return out, nil
}

// checkOfferings keeps, of each pool's types, those EC2 offers in its node
// class's zones, and refuses a pool left with none: Karpenter would accept
// it and never launch.
func (p *preflight) checkOfferings(ctx *pulumi.Context, cfg *config.Stack) error {
	var names, zones []string
	for _, pool := range cfg.GPUPools {
		names = append(names, catalog.Names(p.instanceTypes[pool.Name])...)
		zones = append(zones, p.classZones[pool.NodeClass]...)
	}
	offered, err := offerings.InZones(ctx, distinct(names), distinct(zones))
	if err != nil {
		return err
	}
	var refusals []string
	for _, pool := range cfg.GPUPools {
		zones := p.classZones[pool.NodeClass]
		var kept, dropped []catalog.InstanceType
		for _, t := range p.instanceTypes[pool.Name] {
			if slices.ContainsFunc(offered[t.Name], func(z string) bool { return slices.Contains(zones, z) }) {
				kept = append(kept, t)
			} else {
				dropped = append(dropped, t)
			}
		}
		where := fmt.Sprintf("the zones of node class %s's subnets (%s)", pool.NodeClass, strings.Join(zones, ", "))
		switch {
		case len(kept) == 0:
			refusals = append(refusals, fmt.Sprintf("%s:gpuPools[%s]: EC2 offers none of the pool's instance types (%s) in %s, so Karpenter could never launch a node; give node class %s subnets in a zone that offers them, or choose other GPUs",
				config.Namespace, pool.Name, catalog.Abbreviate(catalog.Names(dropped)), where, pool.NodeClass))
			continue
		case len(dropped) > 0:
			p.warnings = append(p.warnings, fmt.Sprintf("gpuPools[%s]: EC2 offers %s nowhere in %s; the pool launches only its other types",
				pool.Name, catalog.Abbreviate(catalog.Names(dropped)), where))
		}
		p.instanceTypes[pool.Name] = kept
	}
	if len(refusals) > 0 {
		return errors.New(strings.Join(refusals, "\n"))
	}
	return nil
}

// describeTypes asks EC2, once per type a pool may launch, for its GPUs
// and network. Where EC2 describes the GPUs otherwise than the catalogue,
// whose values the checks and plan use, it warns: Karpenter labels nodes
// with EC2's values, so a pool's requirements may match other types than
// plan.md shows.
func (p *preflight) describeTypes(ctx *pulumi.Context, cfg *config.Stack) error {
	p.network = map[string]offerings.Network{}
	for _, pool := range cfg.GPUPools {
		for _, t := range p.instanceTypes[pool.Name] {
			if _, seen := p.network[t.Name]; seen {
				continue
			}
			gpus, network, err := offerings.Describe(ctx, t.Name)
			if err != nil {
				return err
			}
			p.network[t.Name] = network
			if diff := gpus.Disagreements(t); len(diff) > 0 {
				p.warnings = append(p.warnings, fmt.Sprintf("%s: EC2 and the instance catalogue differ (%s); Karpenter labels nodes with EC2's values, so pools may match other types than plan.md lists",
					t.Name, strings.Join(diff, "; ")))
			}
		}
	}
	return nil
}

// checkNetworkCards keeps, of each pool on an EFA class, the types that
// take the class's interfaces (one EFA-only interface on each of its
// network cards), as Karpenter's compatibility check does (provider
// instancetype/compatibility: it silently drops the others), names those
// dropped and why, and refuses a pool left with none.
func (p *preflight) checkNetworkCards(cfg *config.Stack) error {
	var refusals []string
	for _, pool := range cfg.GPUPools {
		class, _ := cfg.NodeClass(pool.NodeClass)
		if !class.EFA.Enabled() {
			continue
		}
		cards := class.EFA.NetworkCards
		var kept []catalog.InstanceType
		var dropped []string
		for _, t := range p.instanceTypes[pool.Name] {
			if why := p.network[t.Name].Fits(cards); why != "" {
				dropped = append(dropped, fmt.Sprintf("%s (%s)", t.Name, why))
				continue
			}
			kept = append(kept, t)
		}
		switch {
		case len(kept) == 0:
			refusals = append(refusals, fmt.Sprintf("%s:nodeClasses[%s].efa.networkCards: %d: pool %s may launch none of its types with it, as Karpenter skips a type that cannot take the class's interfaces: %s; set networkCards to what the pool's types have, or give them a class of their own",
				config.Namespace, class.Name, cards, pool.Name, strings.Join(dropped, ", ")))
			continue
		case len(dropped) > 0:
			p.warnings = append(p.warnings, fmt.Sprintf("gpuPools[%s]: Karpenter never launches %s: node class %s attaches EFA interfaces on %d network cards; the pool launches only %s",
				pool.Name, strings.Join(dropped, ", "), class.Name, cards, catalog.Abbreviate(catalog.Names(kept))))
		}
		p.instanceTypes[pool.Name] = kept
	}
	if len(refusals) > 0 {
		return errors.New(strings.Join(refusals, "\n"))
	}
	return nil
}

// checkDrivers refuses a pool that may launch a type whose GPUs its node
// class's AMI release cannot drive, naming the release that can, and
// warns where that is not known (ami.DriverProblem).
func (p *preflight) checkDrivers(cfg *config.Stack) error {
	var refusals []string
	for _, pool := range cfg.GPUPools {
		class, _ := cfg.NodeClass(pool.NodeClass)
		byFamily := map[string][]string{}
		for _, t := range p.instanceTypes[pool.Name] {
			byFamily[t.Family] = append(byFamily[t.Family], t.Name)
		}
		for _, family := range slices.Sorted(maps.Keys(byFamily)) {
			refuse, warn := ami.DriverProblem(class.AMI, family)
			types := catalog.Abbreviate(byFamily[family])
			if refuse != "" {
				refusals = append(refusals, fmt.Sprintf("%s:gpuPools[%s]: may launch %s, but nodeClasses[%s].ami %s; or keep %s out of the pool (gpus, instanceFamilies, instanceTypes)",
					config.Namespace, pool.Name, types, class.Name, refuse, family))
			}
			if warn != "" {
				p.warnings = append(p.warnings, fmt.Sprintf("gpuPools[%s] may launch %s on nodeClasses[%s].ami %s", pool.Name, types, class.Name, warn))
			}
		}
	}
	if len(refusals) > 0 {
		return errors.New(strings.Join(refusals, "\n"))
	}
	return nil
}

// checkClassCapacity reads the capacity reservations node classes select
// by ID and the placement groups they name, and refuses one that does not
// exist or a reservation outside the class's zones, which Karpenter
// cannot launch into. Reservations selected by tag cannot be read ahead.
func (p *preflight) checkClassCapacity(ctx *pulumi.Context, cfg *config.Stack) error {
	var refusals []string
	for _, nc := range cfg.NodeClasses {
		key := fmt.Sprintf("%s:nodeClasses[%s]", config.Namespace, nc.Name)
		zones := strings.Join(p.classZones[nc.Name], ", ")
		for i, r := range nc.CapacityReservations {
			if r.ID == "" {
				p.warnings = append(p.warnings, fmt.Sprintf("nodeClasses[%s].capacityReservations[%d] selects reservations by tags, so their zones were not checked: Karpenter launches only into those in the zones of the class's subnets (%s)",
					nc.Name, i, zones))
				continue
			}
			res, err := offerings.ReadReservation(ctx, r.ID)
			if err != nil {
				refusals = append(refusals, fmt.Sprintf("%s.capacityReservations[%d].id: %s: reading the reservation: %v", key, i, r.ID, err))
				continue
			}
			if !slices.Contains(p.classZones[nc.Name], res.Zone) {
				refusals = append(refusals, fmt.Sprintf("%s.capacityReservations[%d].id: %s is a reservation in %s, but the class's subnets are in %s, so Karpenter can never launch into it; select a reservation in %s, or give the class subnets in %s",
					key, i, r.ID, res.Zone, zones, zones, res.Zone))
				continue
			}
			if types := p.reservedTypes(cfg, nc.Name); res.InstanceType != "" && !slices.Contains(types, res.InstanceType) {
				launch := "no pool of the class buys reserved capacity"
				if len(types) > 0 {
					launch = "the class's pools that buy reserved capacity launch only " + catalog.Abbreviate(types)
				}
				p.warnings = append(p.warnings, fmt.Sprintf("nodeClasses[%s].capacityReservations[%d]: %s reserves %s, but %s: it stays unused", nc.Name, i, r.ID, res.InstanceType, launch))
			}
		}
		switch pg := nc.PlacementGroup; {
		case pg.Name != "":
			strategy, err := offerings.ReadPlacementGroupStrategy(ctx, pg.Name)
			if err != nil {
				refusals = append(refusals, fmt.Sprintf("%s.placementGroup.name: %s: reading the placement group: %v; create it (`aws ec2 create-placement-group --group-name %s --strategy cluster`) or name one that exists",
					key, pg.Name, err, pg.Name))
			} else if nc.EFA.Enabled() && strategy != "cluster" {
				p.warnings = append(p.warnings, fmt.Sprintf("nodeClasses[%s].placementGroup: %s has strategy %s; EFA traffic between nodes is fastest in a cluster placement group", nc.Name, pg.Name, strategy))
			}
		case pg.ID != "":
			p.warnings = append(p.warnings, fmt.Sprintf("nodeClasses[%s].placementGroup.id: %s was not checked (placement groups can be read by name only); Karpenter launches nothing into the class if it does not exist", nc.Name, pg.ID))
		}
	}
	if len(refusals) > 0 {
		return errors.New(strings.Join(refusals, "\n"))
	}
	return nil
}

// reservedTypes are the instance types the class's pools that buy
// reserved capacity may launch.
func (p *preflight) reservedTypes(cfg *config.Stack, class string) []string {
	var out []string
	for _, pool := range cfg.GPUPools {
		if pool.NodeClass == class && slices.Contains(pool.CapacityTypes, wellknown.CapacityTypeReserved) {
			out = append(out, catalog.Names(p.instanceTypes[pool.Name])...)
		}
	}
	return out
}

// quotaNeeds are the vCPUs each pool needs of each quota to reach maxGPUs.
func (p *preflight) quotaNeeds(cfg *config.Stack) []quota.Need {
	var needs []quota.Need
	for _, pool := range cfg.GPUPools {
		for _, capacity := range pool.CapacityTypes {
			if _, counted := quota.Codes[capacity]; !counted {
				continue // reserved capacity has no vCPU quota
			}
			byClass := map[string][]catalog.InstanceType{}
			for _, t := range p.instanceTypes[pool.Name] {
				byClass[t.QuotaClass()] = append(byClass[t.QuotaClass()], t)
			}
			for _, class := range slices.Sorted(maps.Keys(byClass)) {
				vcpus, setBy := catalog.VCPUsNeeded(byClass[class], pool.MaxGPUs)
				needs = append(needs, quota.Need{Pool: pool.Name, CapacityType: capacity, Class: class, VCPUs: vcpus, SetBy: setBy})
			}
		}
	}
	return needs
}
