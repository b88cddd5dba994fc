package stack

import (
	"fmt"
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"karpenter-gpu/ami"
	"karpenter-gpu/catalog"
	"karpenter-gpu/cluster"
	"karpenter-gpu/config"
	"karpenter-gpu/iam"
	"karpenter-gpu/karpenter"
	"karpenter-gpu/offerings"
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
	// EC2 offers in its node class's zones and that take its interfaces.
	instanceTypes map[string][]catalog.InstanceType
	// network is what EC2 says of each type's network cards and EFA.
	network map[string]offerings.Network
	// prices are the on-demand prices of the pools' types.
	prices catalog.Prices
	// warnings are shown at preview.
	warnings []string
}

// owner names this stack in ownership tags and annotations.
func owner(ctx *pulumi.Context) string { return ctx.Project() + "/" + ctx.Stack() }

func runPreflight(ctx *pulumi.Context, cfg *config.Stack, o Options) (*preflight, error) {
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
		client, err := o.Connect(p.facts.KubeconfigText)
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
	if err := p.describeTypes(ctx, cfg); err != nil {
		return nil, err
	}
	if err := p.checkNetworkCards(cfg); err != nil {
		return nil, err
	}
	if err := p.checkDrivers(cfg); err != nil {
		return nil, err
	}
	if err := p.checkClassCapacity(ctx, cfg); err != nil {
		return nil, err
	}
	if err := p.readPrices(ctx); err != nil {
		return nil, err
	}
	p.checkOpenReservations(ctx, cfg, o.OpenReservations)
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

// region is the stack's AWS region.
func (p *preflight) region(ctx *pulumi.Context) string {
	if p.facts != nil {
		return p.facts.Region
	}
	region, _ := ctx.GetConfig("aws:region")
	return region
}

func anyPoolAllows(cfg *config.Stack, capacityType string) bool {
	return slices.ContainsFunc(cfg.GPUPools, func(p config.GPUPool) bool { return slices.Contains(p.CapacityTypes, capacityType) })
}

// distinct is xs sorted, each once.
func distinct(xs []string) []string { return slices.Compact(slices.Sorted(slices.Values(xs))) }
