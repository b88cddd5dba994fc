package stack

import (
	"strings"
	"testing"

	"karpenter-gpu/config"
)

func TestWarnings(t *testing.T) {
	cfg := config.Defaults()
	cfg.ClusterName = "ml-prod"
	if got := warnings(&cfg, true); len(got) != 0 {
		t.Errorf("default stack warns: %v", got)
	}
	thin := cfg.GPUPools[0]
	thin.Name, thin.CapacityTypes, thin.InstanceTypes = "thin", []string{"spot"}, []string{"g5.xlarge", "g6.xlarge"}
	cfg.GPUPools = append(cfg.GPUPools, thin)
	got := strings.Join(warnings(&cfg, false), "\n")
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
