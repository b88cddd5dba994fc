// Package catalog lists the NVIDIA GPUs that EC2 instance types carry, under
// the names Karpenter gives them in karpenter.k8s.aws/instance-gpu-name.
package catalog

import (
	"slices"
	"sort"
)

// GPU is one NVIDIA GPU model as Karpenter labels it.
type GPU struct {
	// Name is the value of karpenter.k8s.aws/instance-gpu-name.
	Name string
	// MaxMemoryMiB is the most memory one such GPU has on any instance type,
	// in MiB as karpenter.k8s.aws/instance-gpu-memory counts it.
	MaxMemoryMiB int
}

// GPUs are the NVIDIA GPU names in Karpenter's instance-type reference
// (AMD's radeon-pro-v520 is left out: every pool requires NVIDIA).
//
// Memory: the most that Karpenter's reference or its recorded EC2 data
// gives any instance type with the GPU (the rows of InstanceTypes). The
// table only decides whether a pool's minGPUMemoryGiB can be met at all;
// Karpenter itself filters on the live EC2 figures.
var GPUs = []GPU{
	{Name: "a100", MaxMemoryMiB: 81920},                // p4d 40 GiB, p4de 80 GiB
	{Name: "a10g", MaxMemoryMiB: 22888},                // g5
	{Name: "b200", MaxMemoryMiB: 183359},               // p6-b200
	{Name: "b300", MaxMemoryMiB: 275040},               // p6-b300
	{Name: "h100", MaxMemoryMiB: 81920},                // p5
	{Name: "h200", MaxMemoryMiB: 144384},               // p5e, p5en
	{Name: "l4", MaxMemoryMiB: 22888},                  // g6
	{Name: "l40s", MaxMemoryMiB: 45776},                // g6e
	{Name: "rtx-pro-4500", MaxMemoryMiB: 32768},        // g7
	{Name: "rtx-pro-server-6000", MaxMemoryMiB: 98304}, // g7e
	{Name: "t4", MaxMemoryMiB: 16384},                  // g4dn
	{Name: "t4g", MaxMemoryMiB: 16384},                 // g5g (arm64)
	{Name: "v100", MaxMemoryMiB: 32768},                // p3 16 GiB, p3dn 32 GiB
}

// GPUNames are the known GPU names, sorted.
func GPUNames() []string {
	names := make([]string, len(GPUs))
	for i, g := range GPUs {
		names[i] = g.Name
	}
	sort.Strings(names)
	return names
}

// LookupGPU finds a GPU by its Karpenter name.
func LookupGPU(name string) (GPU, bool) {
	i := slices.IndexFunc(GPUs, func(g GPU) bool { return g.Name == name })
	if i < 0 {
		return GPU{}, false
	}
	return GPUs[i], true
}
