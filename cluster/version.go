package cluster

import (
	"fmt"
	"strconv"
	"strings"

	"karpenter-gpu/versions"
)

// CheckKarpenterSupports refuses a Kubernetes version outside the pinned
// Karpenter release's compatibility range: its controller would start and
// then fail, or run against APIs it was never tested with.
func CheckKarpenterSupports(clusterName, kubernetes string) error {
	minor, ok := minorVersion(kubernetes)
	lo, _ := minorVersion(versions.KarpenterKubernetesMin)
	hi, _ := minorVersion(versions.KarpenterKubernetesMax)
	if ok && minor >= lo && minor <= hi {
		return nil
	}
	return fmt.Errorf("cluster %s runs Kubernetes %q; Karpenter %s supports %s to %s: upgrade the cluster, or pin a Karpenter release that supports it (versions.Karpenter and its module in go.mod)",
		clusterName, kubernetes, versions.Karpenter, versions.KarpenterKubernetesMin, versions.KarpenterKubernetesMax)
}

// minorVersion reads the minor number of "1.35" (or "1.35.2").
func minorVersion(v string) (int, bool) {
	rest, ok := strings.CutPrefix(v, "1.")
	if !ok {
		return 0, false
	}
	rest, _, _ = strings.Cut(rest, ".")
	n, err := strconv.Atoi(rest)
	return n, err == nil
}
