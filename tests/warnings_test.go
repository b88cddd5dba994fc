package tests

import (
	"strings"
	"testing"

	"karpenter-gpu/config"
	"karpenter-gpu/karpenter"
	"karpenter-gpu/stack"
)

func TestWarnings(t *testing.T) {
	t.Parallel()
	cfg := config.Defaults()
	cfg.ClusterName = "ml-prod"
	if got := stack.Warnings(&cfg, true, karpenter.Installed{}); len(got) != 0 {
		t.Errorf("default stack warns: %v", got)
	}
	thin := cfg.GPUPools[0]
	thin.Name, thin.CapacityTypes, thin.InstanceTypes = "thin", []string{"spot"}, []string{"g5.xlarge", "g6.xlarge"}
	cfg.GPUPools = append(cfg.GPUPools, thin)
	got := strings.Join(stack.Warnings(&cfg, false, karpenter.Installed{}), "\n")
	for _, want := range []string{
		"gpuPools[thin]: spot only, and only 2 instance type(s)",
		"karpenter.identity is podIdentity, but cluster ml-prod has no eks-pod-identity-agent add-on",
		"aws eks create-addon --cluster-name ml-prod --addon-name eks-pod-identity-agent",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("warnings lack %q:\n%s", want, got)
		}
	}
}

func TestPoolsOnlyWarnings(t *testing.T) {
	t.Parallel()
	cfg := config.Defaults()
	cfg.ClusterName, cfg.Karpenter.Install = "ml-prod", false
	cfg.GPUPools[0].Sharing.Replicas = 2
	installed := karpenter.Installed{Controllers: []karpenter.RunningController{{Namespace: "karpenter", Name: "karpenter", Version: "1.14.0"}}}
	got := strings.Join(stack.Warnings(&cfg, true, installed), "\n")
	for _, want := range []string{
		"the cluster's Karpenter karpenter/karpenter runs 1.14.0, but the node classes and pools were proven against the CRDs of Karpenter 1.15.1",
		"the existing Karpenter needs its nodeOverlay feature gate on",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("warnings lack %q:\n%s", want, got)
		}
	}
	installed.Controllers[0].Version = "1.15.1"
	cfg.GPUPools[0].Sharing.Replicas = 0
	if got := stack.Warnings(&cfg, true, installed); len(got) != 0 {
		t.Errorf("warnings for the pinned release: %v", got)
	}
}
