// Package versions pins every external artifact the stack installs: charts,
// images and AMIs. Change a version here and nowhere else.
package versions

const (
	// Karpenter is the Karpenter release of both charts. It must match the
	// github.com/aws/karpenter-provider-aws module in go.mod, whose CRDs and
	// chart folders the objects and values are proven against: move both
	// together.
	Karpenter = "1.15.1"
	// KarpenterChartRepository holds both Karpenter charts.
	KarpenterChartRepository = "oci://public.ecr.aws/karpenter"
	// KarpenterKubernetesMin and KarpenterKubernetesMax bound the Kubernetes
	// versions the Karpenter release supports (its compatibility matrix).
	KarpenterKubernetesMin = "1.26"
	KarpenterKubernetesMax = "1.37"

	// NvidiaDevicePlugin is the default NVIDIA device plugin chart version.
	NvidiaDevicePlugin = "0.20.0"
	// NvidiaDevicePluginRepository is the NVIDIA device plugin chart repository.
	NvidiaDevicePluginRepository = "https://nvidia.github.io/k8s-device-plugin"

	// EFADevicePlugin is the aws-efa-k8s-device-plugin chart version, from
	// AWS's EKS charts repository.
	EFADevicePlugin = "v0.5.30"

	// NodeMonitoringAgent is the eks-node-monitoring-agent chart behind the
	// EKS add-on version NodeMonitoringAgentAddon, which node repair uses.
	NodeMonitoringAgent      = "1.7.0"
	NodeMonitoringAgentAddon = "v" + NodeMonitoringAgent + "-eksbuild.1"
	EKSChartsRepository      = "https://aws.github.io/eks-charts"
	// The agent's chart and the add-on's configuration schema are published
	// in the agent's repository only, under charts/ at this commit.
	NodeMonitoringAgentRepository = "https://github.com/aws/eks-node-monitoring-agent"
	NodeMonitoringAgentCommit     = "51af5494fde6d2ed4629df2ed9f847ae800957fd"

	// The upstream charts' digests, as Helm loads them (internal/charts
	// Digest): a fetched or local copy that differs is refused.
	NvidiaDevicePluginDigest  = "sha256:40b1b3a28748ab9df1822ac9384262a6a9ffd72bdd98096f934aab7d65744847"
	EFADevicePluginDigest     = "sha256:6c298edf81c41ca93f7e58cfeb037d0d0aecfd14ebb20012bf4d75cfe679dbe5"
	NodeMonitoringAgentDigest = "sha256:6ec4ea311482443e5fa620bfaa6ca6738955441e1b04477607cdb6892ed3eb8b"

	// DefaultAMI is the EKS-optimized AMI release that nodes boot from. Pinned so
	// that a new AMI release does not drift every GPU node on its own; this
	// release covers Kubernetes 1.30 to 1.36.
	DefaultAMI = "al2023@v20260610"

	// PauseImage holds headroom placeholders' shape (it never runs).
	PauseImage = "registry.k8s.io/pause:3.10"

	// CUDASmokeTestImage runs nvidia-smi in the smoke-test Job.
	CUDASmokeTestImage = "nvcr.io/nvidia/cuda:12.9.1-base-ubuntu24.04"
)
