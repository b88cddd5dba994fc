// Package versions pins every external artifact the stack installs: charts,
// images and AMIs. Change a version here (or through stack config where a key
// exists) and nowhere else.
package versions

const (
	// Karpenter is the default Karpenter release; the CRD chart and the
	// controller chart always share it. It matches the Go module in go.mod
	// whose embedded CRDs the tests validate against.
	Karpenter = "1.15.1"
	// KarpenterChartRepository holds both Karpenter charts.
	KarpenterChartRepository = "oci://public.ecr.aws/karpenter"

	// NvidiaDevicePlugin is the default NVIDIA device plugin chart version.
	NvidiaDevicePlugin = "0.20.0"
	// NvidiaDevicePluginRepository is the NVIDIA device plugin chart repository.
	NvidiaDevicePluginRepository = "https://nvidia.github.io/k8s-device-plugin"

	// DefaultAMI is the EKS-optimized AMI release that nodes boot from. Pinned so
	// that a new AMI release does not drift every GPU node on its own.
	DefaultAMI = "al2023@v20251120"

	// CUDASmokeTestImage runs nvidia-smi in the smoke-test Job.
	CUDASmokeTestImage = "nvcr.io/nvidia/cuda:12.9.1-base-ubuntu24.04"
)
