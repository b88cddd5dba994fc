// Defaults: what a stack gets for every key it leaves out.

package config

import (
	"strings"

	"karpenter-gpu/versions"
	"karpenter-gpu/wellknown"
)

// Defaults returns the configuration a stack gets for every key it leaves out.
func Defaults() Stack {
	s := Stack{
		Cluster: Cluster{
			Version:         "1.35",
			SystemNodeType:  "m7i.large",
			SystemNodeCount: 2,
		},
		Karpenter: Karpenter{
			Install:         true,
			ChartRepository: versions.KarpenterChartRepository,
			Namespace:       "kube-system",
			Identity:        IdentityIRSA,
			Replicas:        2,
			LogLevel:        "info",
			CPU:             "1",
			Memory:          "1Gi",
		},
		NodeAccess:  NodeAccessAuto,
		Discovery:   Discovery{Mode: DiscoveryTags},
		NodeClasses: []NodeClass{defaultNodeClass()},
		GPUPools:    []GPUPool{defaultPool()},
		DevicePlugin: DevicePlugin{
			ChartRepository: versions.NvidiaDevicePluginRepository,
			Version:         versions.NvidiaDevicePlugin,
			Namespace:       "nvidia-device-plugin",
		},
		EFADevicePlugin: EFADevicePlugin{
			ChartRepository: versions.EKSChartsRepository,
			Version:         versions.EFADevicePlugin,
		},
		DestroyTimeout: "30m",
	}
	s.applyPoolDefaults()
	return s
}

// defaultNodeClass is both the class a stack gets without nodeClasses and
// the base every configured class's missing keys are taken from.
func defaultNodeClass() NodeClass {
	return NodeClass{
		Name: "gpu",
		AMI:  versions.DefaultAMI,
		RootVolume: RootVolume{
			SizeGiB:         200,
			IOPS:            3000,
			ThroughputMiBps: 250,
		},
	}
}

// defaultPool is both the pool a stack gets without gpuPools and the base
// every configured pool's missing keys are taken from (its name and GPUs aside).
func defaultPool() GPUPool {
	return GPUPool{
		Name:             "gpu",
		GPUs:             []string{"t4", "a10g", "l4", "l40s"},
		GPUCount:         GPUCount{Min: 1, Max: 1},
		CapacityTypes:    []string{wellknown.CapacityTypeSpot, wellknown.CapacityTypeOnDemand},
		Architectures:    []string{"amd64"},
		MaxGPUs:          4,
		Consolidation:    "WhenEmpty",
		ConsolidateAfter: "1m",
		ExpireAfter:      "720h",
		// Without it an expired or drifted node whose pods carry
		// karpenter.sh/do-not-disrupt never finishes draining.
		TerminationGracePeriod: "24h",
	}
}

// applyPoolDefaults fills what depends on other keys: a pool's node class
// is the first one listed. GPU names are taken in any case (H100), as
// Karpenter's instance-gpu-name label spells them: lower case.
func (c *Stack) applyPoolDefaults() {
	for i := range c.GPUPools {
		pool := &c.GPUPools[i]
		if pool.NodeClass == "" && len(c.NodeClasses) > 0 {
			pool.NodeClass = c.NodeClasses[0].Name
		}
		for j, name := range pool.GPUs {
			pool.GPUs[j] = strings.ToLower(name)
		}
	}
}
