// Preflight: the Karpenter the cluster already runs, and what it can run
// in pools-only mode.

package stack

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"golang.org/x/mod/semver"
	"k8s.io/client-go/dynamic"

	"karpenter-gpu/config"
	"karpenter-gpu/karpenter"
	"karpenter-gpu/wellknown"
)

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
	case !cfg.Karpenter.Install && (len(p.karpenter.Controllers) == 0 || !p.karpenter.HasCRD(wellknown.NodePoolCRD)):
		return fmt.Errorf("%s:karpenter.install: false: cluster %s runs no Karpenter (controller Deployments found: %d; NodePool CRD found: %v); leave karpenter.install at true to install it",
			config.Namespace, cfg.ClusterName, len(p.karpenter.Controllers), p.karpenter.HasCRD(wellknown.NodePoolCRD))
	case !cfg.Karpenter.Install:
		return poolsOnlyCapabilities(cfg, p.karpenter)
	}
	return nil
}

// poolsOnlyCapabilities refuses, in pools-only mode, what the cluster's
// Karpenter cannot run: Gte/Lte requirements before 1.9, time-slicing
// without the NodeOverlay CRD or with the nodeOverlay gate off (it would
// launch a node per pod), headroom without the CapacityBuffer CRD or with
// the capacityBuffer gate off (nothing would be kept ready).
func poolsOnlyCapabilities(cfg *config.Stack, k karpenter.Installed) error {
	c := k.Controllers[0]
	controller := fmt.Sprintf("the cluster's Karpenter %s/%s (%s)", c.Namespace, c.Name, c.Version)
	var problems []string
	older := func(than string) bool {
		v := "v" + strings.TrimPrefix(c.Version, "v")
		return semver.IsValid(v) && semver.Compare(v, "v"+than) < 0
	}
	if older(minGteLte) {
		problems = append(problems, fmt.Sprintf("%s:karpenter.install: false: %s predates %s, whose NodePools first accept the Gte/Lte requirements that bound every pool's gpuCount; upgrade it to %s or later",
			config.Namespace, controller, minGteLte, minGteLte))
	}
	if older(minUnhealthyBudget) {
		for _, pool := range cfg.GPUPools {
			for i, b := range pool.Budgets {
				if slices.Contains(b.Reasons, wellknown.DisruptionUnhealthy) {
					problems = append(problems, fmt.Sprintf("%s:gpuPools[%s].budgets[%d].reasons: %s: %s predates %s, whose NodePool CRD first accepts the %s reason (node repair); it would refuse the NodePool after the AWS side exists. Leave the reason out, or upgrade that Karpenter",
						config.Namespace, pool.Name, i, strings.Join(b.Reasons, ", "), controller, minUnhealthyBudget, wellknown.DisruptionUnhealthy))
				}
			}
		}
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
			needs(fmt.Sprintf("gpuPools[%s].sharing.replicas", pool.Name), pool.Sharing.Replicas, wellknown.NodeOverlayCRD, wellknown.FeatureGateNodeOverlay,
				"it never learns that a node advertises its GPUs several times and launches a node per pod")
		}
		if pool.Headroom > 0 {
			needs(fmt.Sprintf("gpuPools[%s].headroom", pool.Name), pool.Headroom, wellknown.CapacityBufferCRD, wellknown.FeatureGateCapacityBuffer,
				"no GPU is kept ready")
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "\n"))
	}
	return nil
}

// minGteLte is the first Karpenter whose NodePool requirements take the
// Gte and Lte operators that bound every pool's gpuCount; minUnhealthyBudget
// the first whose budgets take the Unhealthy reason.
const (
	minGteLte          = "1.9.0"
	minUnhealthyBudget = "1.15.0"
)
