package stack

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"golang.org/x/mod/semver"
	"k8s.io/client-go/dynamic"

	"karpenter-gpu/ami"
	"karpenter-gpu/catalog"
	"karpenter-gpu/cluster"
	"karpenter-gpu/config"
	"karpenter-gpu/gpu"
	"karpenter-gpu/iam"
	"karpenter-gpu/internal/crdschema"
	"karpenter-gpu/karpenter"
	"karpenter-gpu/network"
	"karpenter-gpu/offerings"
	"karpenter-gpu/quota"
	"karpenter-gpu/versions"
	"karpenter-gpu/wellknown"
)

// preflight is everything the stack learns, checks and decides before its
// first resource, so that bad input or a cluster that rules the
// configuration out registers nothing.
type preflight struct {
	// facts of the existing cluster; nil in greenfield mode until created.
	facts      *cluster.Facts
	kubernetes string
	accessMode config.NodeAccessMode
	// awsAuthMapRoles is aws-auth's live mapRoles, in awsAuth mode.
	awsAuthMapRoles string
	// subnets and securityGroups are what GPU nodes use (security groups:
	// plain IDs only; a created cluster's group is added once it exists).
	subnets, securityGroups []string
	// taggedSubnets and taggedSecurityGroups are those this stack tags.
	taggedSubnets, taggedSecurityGroups []string
	spotRoleExists                      bool
	// nodeRoleARN is the existing node role's (nodeRole.name).
	nodeRoleARN string
	// karpenter is what of Karpenter the existing cluster runs.
	karpenter karpenter.Installed
	// monitoringAgent is the node monitoring agent add-on the existing
	// cluster runs, nil for none (or when node repair is off).
	monitoringAgent *cluster.ExistingAddon
	// classZones are the availability zones of each node class's subnets.
	classZones map[string][]string
	// instanceTypes are the catalogue's types each pool may launch that
	// EC2 offers in its node class's zones.
	instanceTypes map[string][]catalog.InstanceType
	// warnings are shown at preview.
	warnings []string
}

// owner names this stack in ownership tags and annotations.
func owner(ctx *pulumi.Context) string { return ctx.Project() + "/" + ctx.Stack() }

func runPreflight(ctx *pulumi.Context, cfg *config.Stack, connect cluster.Connect) (*preflight, error) {
	if err := checkKarpenterObjects(cfg); err != nil {
		return nil, err
	}
	types, err := matchInstanceTypes(cfg.GPUPools)
	if err != nil {
		return nil, err
	}
	p := &preflight{kubernetes: cfg.Cluster.Version, instanceTypes: types}
	authMode := cluster.AuthModeAPI
	if !cfg.Cluster.Create {
		facts, err := cluster.Lookup(ctx, cfg.ClusterName)
		if err != nil {
			return nil, err
		}
		p.facts, p.kubernetes, authMode = facts, facts.KubernetesVersion, facts.AuthenticationMode
		if facts.AutoMode {
			return nil, fmt.Errorf("cluster %s runs EKS Auto Mode, which brings its own Karpenter, node class API (eks.amazonaws.com NodeClass) and GPU drivers and plugins: this stack's controller, EC2NodeClasses and device plugin would fight them. On Auto Mode, declare GPU NodePools against Auto Mode's own node class instead, or use this stack on a cluster without Auto Mode", cfg.ClusterName)
		}
	}
	if err := cluster.CheckKarpenterSupports(cfg.ClusterName, p.kubernetes); err != nil {
		return nil, err
	}
	if err := ami.Verify(ctx, p.kubernetes, amiChecks(cfg)); err != nil {
		return nil, fmt.Errorf("cluster %s runs Kubernetes %s:\n%w", cfg.ClusterName, p.kubernetes, err)
	}
	if p.accessMode, err = cluster.ResolveNodeAccess(cfg.NodeAccess, authMode, cfg.NodeRole.Name != ""); err != nil {
		return nil, err
	}
	if p.facts != nil {
		client, err := connect(p.facts.KubeconfigText)
		if err != nil {
			return nil, fmt.Errorf("connecting to cluster %s: %w", cfg.ClusterName, err)
		}
		if err := p.checkKarpenter(ctx, cfg, client); err != nil {
			return nil, err
		}
		if p.accessMode == config.NodeAccessAwsAuth {
			if p.awsAuthMapRoles, err = cluster.ReadAwsAuthMapRoles(ctx.Context(), client); err != nil {
				return nil, fmt.Errorf("%s:nodeAccess: %s adds the node role to the aws-auth ConfigMap of cluster %s: %w; create kube-system/aws-auth, or use accessEntry on a cluster whose authentication mode allows it",
					config.Namespace, p.accessMode, cfg.ClusterName, err)
			}
		}
	}
	if cfg.NodeRole.Name != "" {
		if p.nodeRoleARN, err = iam.ExistingRoleARN(ctx, cfg.NodeRole.Name); err != nil {
			return nil, fmt.Errorf("%s:nodeRole.name: %q: %w", config.Namespace, cfg.NodeRole.Name, err)
		}
	}
	if err := p.chooseNetwork(ctx, cfg); err != nil {
		return nil, err
	}
	if err := p.readClassZones(ctx, cfg); err != nil {
		return nil, err
	}
	if err := p.checkOfferings(ctx, cfg); err != nil {
		return nil, err
	}
	if err := p.checkClassCapacity(ctx, cfg); err != nil {
		return nil, err
	}
	if !cfg.Cluster.Create && featureGates(cfg)[wellknown.FeatureGateNodeRepair] {
		if p.monitoringAgent, err = cluster.LookupAddon(ctx, cfg.ClusterName, cluster.NodeMonitoringAgentAddon); err != nil {
			return nil, err
		}
	}
	if anyPoolAllows(cfg, wellknown.CapacityTypeSpot) {
		if p.spotRoleExists, err = iam.SpotServiceLinkedRoleExists(ctx); err != nil {
			return nil, err
		}
	}
	return p, p.warn(ctx, cfg)
}

// matchInstanceTypes finds, for every pool, the catalogue's instance types
// its NodePool's requirements admit, and refuses a pool that admits none:
// Karpenter would accept it and never launch a node.
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
		out[pool.Name] = types
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s\n(instance types and their GPUs as Karpenter's instance-type reference lists them, read on 2026-11-28)", strings.Join(errs, "\n"))
	}
	return out, nil
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

// checkKarpenter reads what of Karpenter the cluster runs: in the default
// mode there must be none but this stack's own (two controllers would fight
// over the same nodes); with karpenter.install false there must be one.
func (p *preflight) checkKarpenter(ctx *pulumi.Context, cfg *config.Stack, client dynamic.Interface) error {
	var err error
	if p.karpenter, err = karpenter.Detect(ctx.Context(), client, owner(ctx)); err != nil {
		return fmt.Errorf("looking for Karpenter in cluster %s: %w", cfg.ClusterName, err)
	}
	foreign := p.karpenter.Foreign()
	switch {
	case cfg.Karpenter.Install && len(foreign) > 0:
		return fmt.Errorf("cluster %s already runs a Karpenter this stack did not install (%s): a second controller, CRD set and interruption queue would fight it. Set %s:karpenter.install to false to add GPU pools to it, with nodeRole.name naming its node role",
			cfg.ClusterName, strings.Join(foreign, ", "), config.Namespace)
	case !cfg.Karpenter.Install && (len(p.karpenter.Controllers) == 0 || !p.karpenter.HasCRD("nodepools.karpenter.sh")):
		return fmt.Errorf("%s:karpenter.install: false: cluster %s runs no Karpenter (controller Deployments found: %d; NodePool CRD found: %v); leave karpenter.install at true to install it",
			config.Namespace, cfg.ClusterName, len(p.karpenter.Controllers), p.karpenter.HasCRD("nodepools.karpenter.sh"))
	case !cfg.Karpenter.Install:
		return poolsOnlyCapabilities(cfg, p.karpenter)
	}
	return nil
}

// minGteLte is the first Karpenter whose NodePool requirements take the
// Gte and Lte operators that bound every pool's gpuCount.
const minGteLte = "1.9.0"

// poolsOnlyCapabilities refuses, in pools-only mode, what the cluster's
// Karpenter cannot run: Gte/Lte requirements before 1.9, time-slicing
// without the NodeOverlay CRD or with the nodeOverlay gate off (it would
// launch a node per pod), headroom without the CapacityBuffer CRD or with
// the capacityBuffer gate off (nothing would be kept ready).
func poolsOnlyCapabilities(cfg *config.Stack, k karpenter.Installed) error {
	c := k.Controllers[0]
	controller := fmt.Sprintf("the cluster's Karpenter %s/%s (%s)", c.Namespace, c.Name, c.Version)
	var problems []string
	if v := "v" + strings.TrimPrefix(c.Version, "v"); semver.IsValid(v) && semver.Compare(v, "v"+minGteLte) < 0 {
		problems = append(problems, fmt.Sprintf("%s:karpenter.install: false: %s predates %s, whose NodePools first accept the Gte/Lte requirements that bound every pool's gpuCount; upgrade it to %s or later",
			config.Namespace, controller, minGteLte, minGteLte))
	}
	needs := func(key string, value any, crd, gate, without string) {
		switch on, known := c.FeatureGates[gate]; {
		case !k.HasCRD(crd):
			problems = append(problems, fmt.Sprintf("%s:%s: %v: %s has no %s CRD, so %s; install a Karpenter that has it, or leave the key out", config.Namespace, key, value, controller, crd, without))
		case known && !on:
			problems = append(problems, fmt.Sprintf("%s:%s: %v: %s runs with its %s feature gate off, so %s; turn the gate on in that installation, or leave the key out", config.Namespace, key, value, controller, gate, without))
		}
	}
	for _, pool := range cfg.GPUPools {
		if pool.Sharing.Replicas > 1 {
			needs(fmt.Sprintf("gpuPools[%s].sharing.replicas", pool.Name), pool.Sharing.Replicas, "nodeoverlays.karpenter.sh", wellknown.FeatureGateNodeOverlay,
				"it never learns that a node advertises its GPUs several times and launches a node per pod")
		}
		if pool.Headroom > 0 {
			needs(fmt.Sprintf("gpuPools[%s].headroom", pool.Name), pool.Headroom, "capacitybuffers.autoscaling.x-k8s.io", wellknown.FeatureGateCapacityBuffer,
				"no GPU is kept ready")
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "\n"))
	}
	return nil
}

// chooseNetwork picks the subnets and security groups of GPU nodes and,
// when they are found by tag, which of them this stack tags.
func (p *preflight) chooseNetwork(ctx *pulumi.Context, cfg *config.Stack) error {
	switch {
	case len(cfg.Discovery.SubnetIDs) > 0:
		p.subnets = cfg.Discovery.SubnetIDs
	case cfg.Cluster.Create:
		p.subnets = cfg.Cluster.SubnetIDs
	default:
		private, err := cluster.PrivateSubnets(ctx, p.facts.SubnetIDs)
		if err != nil {
			return err
		}
		p.subnets = private
	}
	switch {
	case len(cfg.Discovery.SecurityGroupIDs) > 0:
		p.securityGroups = cfg.Discovery.SecurityGroupIDs
	case p.facts != nil && p.facts.ClusterSecurityGroupID != "":
		p.securityGroups = []string{p.facts.ClusterSecurityGroupID}
	}
	if cfg.Discovery.Mode == config.DiscoveryIDs {
		return nil
	}
	subnets, err := network.ReadSubnets(ctx, p.subnets)
	if err != nil {
		return err
	}
	groups, err := network.ReadSecurityGroups(ctx, p.securityGroups)
	if err != nil {
		return err
	}
	if p.taggedSubnets, err = network.Owned(cfg.ClusterName, owner(ctx), subnets); err != nil {
		return err
	}
	p.taggedSecurityGroups, err = network.Owned(cfg.ClusterName, owner(ctx), groups)
	return err
}

// warn collects what works but is likely to disappoint.
func (p *preflight) warn(ctx *pulumi.Context, cfg *config.Stack) error {
	agent := true
	if !cfg.Cluster.Create && cfg.Karpenter.Install && cfg.Karpenter.Identity == config.IdentityPodIdentity {
		var err error
		if agent, err = cluster.HasAddon(ctx, cfg.ClusterName, cluster.PodIdentityAgentAddon); err != nil {
			return err
		}
	}
	p.warnings = append(p.warnings, Warnings(cfg, agent, p.karpenter)...)
	p.warnings = append(p.warnings, quota.Check(ctx, p.region(ctx), p.quotaNeeds(cfg))...)
	p.warnings = append(p.warnings, NodeRepairWarnings(cfg, p.instanceTypes)...)
	p.warnings = append(p.warnings, UnreachableGPUWarnings(cfg, p.instanceTypes)...)
	if a := p.monitoringAgent; a != nil && !ownAddon(ctx, a) {
		msg := fmt.Sprintf("cluster %s already runs the %s add-on (%s), which this stack did not create: it is left as it is and kept on destroy",
			cfg.ClusterName, cluster.NodeMonitoringAgentAddon, a.Version)
		if !cluster.RunsDCGMOnTaintedNodes(a.Configuration) {
			values, _ := json.Marshal(cluster.NodeMonitoringAgentValues())
			msg += fmt.Sprintf("; its DCGM server tolerates no GPU taint, so node repair would replace healthy GPU nodes. Give it the values: `aws eks update-addon --cluster-name %s --addon-name %s --configuration-values '%s'`",
				cfg.ClusterName, cluster.NodeMonitoringAgentAddon, values)
		}
		p.warnings = append(p.warnings, msg)
	}
	return nil
}

// ownAddon tells whether this stack created the add-on.
func ownAddon(ctx *pulumi.Context, a *cluster.ExistingAddon) bool {
	return a.Tags[wellknown.AddonOwnerTagKey] == owner(ctx)
}

// UnreachableGPUWarnings name each GPU of a pool's gpus that no type the
// pool may launch carries (h200 with one GPU per instance, or a GPU whose
// types the class's zones do not offer), with what keeps it out and what
// would let it in: the pool is valid, but silently narrower than it reads.
func UnreachableGPUWarnings(cfg *config.Stack, types map[string][]catalog.InstanceType) []string {
	var out []string
	for _, pool := range cfg.GPUPools {
		for _, name := range pool.GPUs {
			if slices.ContainsFunc(types[pool.Name], func(t catalog.InstanceType) bool { return t.GPUName == name }) {
				continue
			}
			alone := pool
			alone.GPUs = []string{name}
			why := "no instance type carries it"
			var ruledOut *gpu.RuledOutError
			switch carriers, err := gpu.InstanceTypes(alone); {
			case errors.As(err, &ruledOut):
				why = ruledOut.Error()
			case err == nil:
				why = fmt.Sprintf("EC2 offers %s, which carry it, in none of node class %s's zones", catalog.Abbreviate(catalog.Names(carriers)), pool.NodeClass)
			}
			out = append(out, fmt.Sprintf("gpuPools[%s].gpus: %q is on no instance type the pool may launch: %s", pool.Name, name, why))
		}
	}
	return out
}

// NodeRepairWarnings name, with node repair on, the pools that may launch
// arm64 GPU instances: the node monitoring agent runs its DCGM server on
// amd64 nodes only, so node repair never sees those nodes' GPU faults.
func NodeRepairWarnings(cfg *config.Stack, types map[string][]catalog.InstanceType) []string {
	if !featureGates(cfg)[wellknown.FeatureGateNodeRepair] {
		return nil
	}
	var out []string
	for _, pool := range cfg.GPUPools {
		var arm []string
		for _, t := range types[pool.Name] {
			if t.Arch == "arm64" {
				arm = append(arm, t.Name)
			}
		}
		if len(arm) > 0 {
			out = append(out, fmt.Sprintf("gpuPools[%s]: node repair sees no GPU faults on %s: the %s add-on runs its DCGM server on amd64 nodes only (set architectures: [amd64] to keep the pool to nodes it monitors)",
				pool.Name, strings.Join(arm, ", "), cluster.NodeMonitoringAgentAddon))
		}
	}
	return out
}

// readClassZones reads the zones of each node class's subnets (its own
// subnetIds, or the stack's discovered subnets) and refuses an EFA class
// whose subnets span several.
func (p *preflight) readClassZones(ctx *pulumi.Context, cfg *config.Stack) error {
	ids := slices.Clone(p.subnets)
	for _, nc := range cfg.NodeClasses {
		ids = append(ids, nc.SubnetIDs...)
	}
	zoneOf, err := network.SubnetZones(ctx, ids)
	if err != nil {
		return fmt.Errorf("reading the zones of GPU nodes' subnets: %w", err)
	}
	p.classZones = map[string][]string{}
	for _, nc := range cfg.NodeClasses {
		subnets := p.subnets
		if len(nc.SubnetIDs) > 0 {
			subnets = nc.SubnetIDs
		}
		if nc.EFA.Enabled() {
			if err := network.CheckOneZone(fmt.Sprintf("%s:nodeClasses[%s].subnetIds", config.Namespace, nc.Name), subnets, zoneOf); err != nil {
				return err
			}
		}
		var zones []string
		for _, id := range subnets {
			zones = append(zones, zoneOf[id])
		}
		p.classZones[nc.Name] = distinct(zones)
	}
	return nil
}

// checkOfferings keeps, of each pool's types, those EC2 offers in its node
// class's zones, and refuses a pool left with none: Karpenter would accept
// it and never launch. It warns where EC2 describes a type's GPUs
// otherwise than the catalogue, whose values the checks and plan use.
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
	return p.compareGPUs(ctx, cfg)
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

// compareGPUs warns, per type a pool may launch, where EC2's description
// of its GPUs differs from the catalogue's: Karpenter labels nodes with
// EC2's values, so a pool's requirements may match other types than plan.md
// shows.
func (p *preflight) compareGPUs(ctx *pulumi.Context, cfg *config.Stack) error {
	seen := map[string]bool{}
	for _, pool := range cfg.GPUPools {
		for _, t := range p.instanceTypes[pool.Name] {
			if seen[t.Name] {
				continue
			}
			seen[t.Name] = true
			gpus, err := offerings.Describe(ctx, t.Name)
			if err != nil {
				return err
			}
			if diff := gpus.Disagreements(t); len(diff) > 0 {
				p.warnings = append(p.warnings, fmt.Sprintf("%s: EC2 and the instance catalogue differ (%s); Karpenter labels nodes with EC2's values, so pools may match other types than plan.md lists",
					t.Name, strings.Join(diff, "; ")))
			}
		}
	}
	return nil
}

// region is the stack's AWS region.
func (p *preflight) region(ctx *pulumi.Context) string {
	if p.facts != nil {
		return p.facts.Region
	}
	region, _ := ctx.GetConfig("aws:region")
	return region
}

// Warnings are the warnings for a configuration, given whether the cluster
// runs the Pod Identity agent and what of Karpenter it runs.
func Warnings(cfg *config.Stack, podIdentityAgent bool, installed karpenter.Installed) []string {
	var out []string
	for _, c := range installed.Controllers {
		if !cfg.Karpenter.Install && c.Version != versions.Karpenter {
			out = append(out, fmt.Sprintf("the cluster's Karpenter %s/%s runs %s, but the node classes and pools were proven against the CRDs of Karpenter %s; fields newer than %s may be refused or ignored",
				c.Namespace, c.Name, c.Version, versions.Karpenter, c.Version))
		}
	}
	gatesKnown := len(installed.Controllers) > 0 && installed.Controllers[0].FeatureGates != nil
	if !cfg.Karpenter.Install && !gatesKnown && slices.ContainsFunc(cfg.GPUPools, func(p config.GPUPool) bool { return p.Sharing.Replicas > 1 }) {
		out = append(out, "a pool shares its GPUs: the existing Karpenter needs its nodeOverlay feature gate on to read the NodeOverlays, or it launches a node per pod")
	}
	destroy, _ := time.ParseDuration(cfg.DestroyTimeout)
	for _, pool := range cfg.GPUPools {
		if msg := gpu.SpotStarvation(pool); msg != "" {
			out = append(out, fmt.Sprintf("gpuPools[%s]: %s", pool.Name, msg))
		}
		// A protected job holds a drain for up to its grace period.
		if drain, err := time.ParseDuration(pool.TerminationGracePeriod); err == nil && pool.JobProtection.Enabled() && drain > destroy {
			out = append(out, fmt.Sprintf("gpuPools[%s]: draining a node may take terminationGracePeriod %s, longer than destroyTimeout %s: "+
				"a destroy while the pool's nodes run pods stops after %s with the NodePool still deleting (see `kubectl get nodeclaims -l %s=%s`); run destroy again once they are gone, or raise destroyTimeout",
				pool.Name, pool.TerminationGracePeriod, cfg.DestroyTimeout, cfg.DestroyTimeout, wellknown.LabelNodePool, pool.Name))
		}
	}
	if !podIdentityAgent {
		// The agent can run outside EKS's add-on, so this is no error.
		out = append(out, fmt.Sprintf("karpenter.identity is podIdentity, but cluster %s has no %s add-on: the controller gets no AWS credentials until the agent runs. Install it with `aws eks create-addon --cluster-name %s --addon-name %s`, or run the agent yourself.",
			cfg.ClusterName, cluster.PodIdentityAgentAddon, cfg.ClusterName, cluster.PodIdentityAgentAddon))
	}
	return out
}

func anyPoolAllows(cfg *config.Stack, capacityType string) bool {
	return slices.ContainsFunc(cfg.GPUPools, func(p config.GPUPool) bool { return slices.Contains(p.CapacityTypes, capacityType) })
}

// distinct is xs sorted, each once.
func distinct(xs []string) []string { return slices.Compact(slices.Sorted(slices.Values(xs))) }

// amiChecks are the node classes with the architectures of their pools.
func amiChecks(cfg *config.Stack) []ami.Class {
	var out []ami.Class
	for _, nc := range cfg.NodeClasses {
		var archs []string
		for _, pool := range cfg.GPUPools {
			if pool.NodeClass == nc.Name {
				archs = append(archs, pool.Architectures...)
			}
		}
		if len(archs) == 0 {
			archs = []string{"amd64"}
		}
		out = append(out, ami.Class{
			Key:           fmt.Sprintf("%s:nodeClasses[%s].ami", config.Namespace, nc.Name),
			Alias:         nc.AMI,
			Architectures: distinct(archs),
		})
	}
	return out
}

// Placeholders stand for names and IDs the cloud assigns later; they have
// the form Karpenter's schema checks.
const (
	placeholderRole          = "karpenter-node-0000000"
	placeholderSecurityGroup = "sg-00000000000000000"
	placeholderSubnet        = "subnet-00000000000000000"
)

// checkKarpenterObjects validates the EC2NodeClasses, NodePools and
// NodeOverlays against the CRD schemas of the pinned Karpenter release
// before anything exists: the API server would otherwise reject them only
// after the AWS side is built.
func checkKarpenterObjects(cfg *config.Stack) error {
	schema, err := crdschema.Karpenter()
	if err != nil {
		return err
	}
	subnets, groups := cfg.Discovery.SubnetIDs, cfg.Discovery.SecurityGroupIDs
	if len(subnets) == 0 {
		subnets = []string{placeholderSubnet}
	}
	if len(groups) == 0 {
		groups = []string{placeholderSecurityGroup}
	}
	var objects []map[string]any
	for _, nc := range cfg.NodeClasses {
		s := nodeClassSettings(cfg, nc, subnets, groups)
		s.RoleName, s.EFASecurityGroupID = placeholderRole, placeholderSecurityGroup
		objects = append(objects, karpenter.NodeClassObject(s))
	}
	for _, pool := range cfg.GPUPools {
		objects = append(objects, gpu.NodePoolObject(pool))
		objects = append(objects, gpu.SharingOverlayObjects(pool)...)
	}
	for _, obj := range objects {
		if err := schema.Validate(obj); err != nil {
			return fmt.Errorf("this configuration would be rejected by Karpenter %s: %w", versions.Karpenter, err)
		}
	}
	return nil
}

// nodeClassSettings selects subnets and security groups by the discovery
// tag, or by ID in discovery mode ids.
func nodeClassSettings(cfg *config.Stack, nc config.NodeClass, subnets, securityGroups []string) karpenter.NodeClassSettings {
	s := karpenter.NodeClassSettings{
		NodeClass:      nc,
		Subnets:        karpenter.Selection{TagValue: cfg.ClusterName},
		SecurityGroups: karpenter.Selection{TagValue: cfg.ClusterName},
		Tags:           cfg.Tags,
	}
	if cfg.Discovery.Mode == config.DiscoveryIDs {
		s.Subnets.IDs, s.SecurityGroups.IDs = subnets, securityGroups
	}
	return s
}
