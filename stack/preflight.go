package stack

import (
	"fmt"
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"karpenter-gpu/ami"
	"karpenter-gpu/cluster"
	"karpenter-gpu/config"
	"karpenter-gpu/gpu"
	"karpenter-gpu/iam"
	"karpenter-gpu/internal/crdschema"
	"karpenter-gpu/karpenter"
	"karpenter-gpu/network"
	"karpenter-gpu/versions"
)

// preflight is everything the stack learns, checks and decides before its
// first resource, so that bad input or a cluster that rules the
// configuration out registers nothing.
type preflight struct {
	// facts of the existing cluster; nil in greenfield mode until created.
	facts      *cluster.Facts
	kubernetes string
	accessMode config.NodeAccessMode
	// subnets and securityGroups are what GPU nodes use (security groups:
	// plain IDs only; a created cluster's group is added once it exists).
	subnets, securityGroups []string
	// taggedSubnets and taggedSecurityGroups are those this stack tags.
	taggedSubnets, taggedSecurityGroups []string
	spotRoleExists                      bool
}

func runPreflight(ctx *pulumi.Context, cfg *config.Stack) (*preflight, error) {
	if err := checkKarpenterObjects(cfg); err != nil {
		return nil, err
	}
	p := &preflight{kubernetes: cfg.Cluster.Version}
	authMode := cluster.AuthModeAPI
	if !cfg.Cluster.Create {
		facts, err := cluster.Lookup(ctx, cfg.ClusterName)
		if err != nil {
			return nil, err
		}
		p.facts, p.kubernetes, authMode = facts, facts.KubernetesVersion, facts.AuthenticationMode
	}
	if err := cluster.CheckKarpenterSupports(cfg.ClusterName, p.kubernetes); err != nil {
		return nil, err
	}
	if err := ami.Verify(ctx, p.kubernetes, amiChecks(cfg)); err != nil {
		return nil, fmt.Errorf("cluster %s runs Kubernetes %s:\n%w", cfg.ClusterName, p.kubernetes, err)
	}
	var err error
	if p.accessMode, err = cluster.ResolveNodeAccess(cfg.NodeAccess, authMode); err != nil {
		return nil, err
	}
	if err := p.chooseNetwork(ctx, cfg); err != nil {
		return nil, err
	}
	for _, nc := range cfg.NodeClasses {
		if nc.EFA.Enabled() {
			if err := network.CheckOneZone(ctx, fmt.Sprintf("%s:nodeClasses[%s].subnetIds", config.Namespace, nc.Name), nc.SubnetIDs); err != nil {
				return nil, err
			}
		}
	}
	if anyPoolAllows(cfg, "spot") {
		if p.spotRoleExists, err = iam.SpotServiceLinkedRoleExists(ctx); err != nil {
			return nil, err
		}
	}
	return p, p.warn(ctx, cfg)
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
	owner := fmt.Sprintf("%s/%s", ctx.Project(), ctx.Stack())
	if p.taggedSubnets, err = network.Owned(cfg.ClusterName, owner, subnets); err != nil {
		return err
	}
	p.taggedSecurityGroups, err = network.Owned(cfg.ClusterName, owner, groups)
	return err
}

// warn reports what works but is likely to disappoint.
func (p *preflight) warn(ctx *pulumi.Context, cfg *config.Stack) error {
	agent := true
	if !cfg.Cluster.Create && cfg.Karpenter.Identity == config.IdentityPodIdentity {
		var err error
		if agent, err = cluster.HasAddon(ctx, cfg.ClusterName, cluster.PodIdentityAgentAddon); err != nil {
			return err
		}
	}
	for _, msg := range warnings(cfg, agent) {
		if err := ctx.Log.Warn(msg, nil); err != nil {
			return err
		}
	}
	return nil
}

// warnings are the warnings for a configuration, given whether the cluster
// runs the Pod Identity agent.
func warnings(cfg *config.Stack, podIdentityAgent bool) []string {
	var out []string
	for _, pool := range cfg.GPUPools {
		if msg := gpu.SpotStarvation(pool); msg != "" {
			out = append(out, fmt.Sprintf("gpuPools[%s]: %s", pool.Name, msg))
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
			Architectures: slices.Compact(slices.Sorted(slices.Values(archs))),
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
