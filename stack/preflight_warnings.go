// Preflight: what works but is likely to disappoint, shown at preview.

package stack

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"karpenter-gpu/catalog"
	"karpenter-gpu/cluster"
	"karpenter-gpu/config"
	"karpenter-gpu/gpu"
	"karpenter-gpu/karpenter"
	"karpenter-gpu/quota"
	"karpenter-gpu/versions"
	"karpenter-gpu/wellknown"
)

// warn collects what works but is likely to disappoint.
func (p *preflight) warn(ctx *pulumi.Context, cfg *config.Stack) error {
	agent := true
	if !cfg.Cluster.Create && cfg.Karpenter.Install && cfg.Karpenter.Identity == config.IdentityPodIdentity {
		var err error
		// The agent only informs a warning: a read that fails says so.
		if agent, err = cluster.HasAddon(ctx, cfg.ClusterName, cluster.PodIdentityAgentAddon); err != nil {
			agent = true
			p.warnings = append(p.warnings, fmt.Sprintf("karpenter.identity is podIdentity, and whether cluster %s runs the %s add-on was not checked (%s): without the agent the controller gets no AWS credentials",
				cfg.ClusterName, cluster.PodIdentityAgentAddon, strings.TrimSpace(err.Error())))
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
		// Protected jobs hold drains for up to the grace period, and nodes
		// launched together expire together, outside maxGPUs while they drain.
		if pool.JobProtection.Enabled() && pool.ExpireAfter != "Never" {
			out = append(out, fmt.Sprintf("gpuPools[%s]: nodes launched together expire together (expireAfter %s) and each may drain a protected job for up to terminationGracePeriod %s while Karpenter launches replacements outside maxGPUs: "+
				"the pool may hold up to %d GPUs (2 × maxGPUs) that long. Set expireAfter: Never (drift still replaces nodes when the AMI or the configuration changes, within the budgets) and strictMaxGPUs: true to keep draining nodes within maxGPUs",
				pool.Name, pool.ExpireAfter, pool.TerminationGracePeriod, 2*pool.MaxGPUs))
		}
		// A drain counts against every budget: one for all reasons that a
		// long drain uses up stops repair too.
		for i, b := range pool.Budgets {
			if pool.JobProtection.Enabled() && len(b.Reasons) == 0 && b.Schedule == "" {
				out = append(out, fmt.Sprintf("gpuPools[%s].budgets[%d]: nodes: %q applies to every reason: a node draining a protected job counts against it for up to terminationGracePeriod %s, and node repair, drift and consolidation of the pool wait that long. Give each reason a budget of its own (reasons: [Unhealthy] for repair)",
					pool.Name, i, b.Nodes, pool.TerminationGracePeriod))
			}
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

// ownAddon tells whether this stack created the add-on.
func ownAddon(ctx *pulumi.Context, a *cluster.ExistingAddon) bool {
	return a.Tags[wellknown.AddonOwnerTagKey] == owner(ctx)
}
