// Package wellknown names the labels, taints, resources and tags that the
// stack, Karpenter, the NVIDIA device plugin and GPU workloads must agree on.
package wellknown

import "k8s.io/apimachinery/pkg/runtime/schema"

const (
	// DiscoveryTagKey marks the subnets and security groups Karpenter may use.
	DiscoveryTagKey = "karpenter.sh/discovery"
	// DiscoveryOwnerTagKey names the stack that put DiscoveryTagKey on a
	// resource, so that the next run knows the tag is its own.
	DiscoveryOwnerTagKey = "karpenter-gpu/discovery-owner"
	// AddonOwnerTagKey names the stack that created an EKS add-on; an
	// add-on without it is the cluster's, and the stack leaves it alone.
	AddonOwnerTagKey = "karpenter-gpu/addon-owner"

	// GPUResource is the extended resource the NVIDIA device plugin registers.
	GPUResource = "nvidia.com/gpu"
	// GPUTaintKey keeps non-GPU pods off GPU nodes.
	GPUTaintKey = "nvidia.com/gpu"
	// GPUTaintEffect is the effect of the GPU taint.
	GPUTaintEffect = "NoSchedule"
	// GPUPresentLabel is one of the labels the device plugin chart's affinity
	// selects on; GPU NodePools set it so the plugin starts on a fresh node.
	GPUPresentLabel = "nvidia.com/gpu.present"
	// GPUPoolLabel names the GPU pool a node was launched for.
	GPUPoolLabel = "karpenter-gpu/pool"
	// DevicePluginConfigLabel picks, per node, one of the device plugin's
	// named configurations (config.map in its chart): how pools time-slice.
	DevicePluginConfigLabel = "nvidia.com/device-plugin.config"
	// EFAPresentLabel marks nodes with EFA interfaces, as EKS node groups do;
	// the EFA device plugin selects it.
	EFAPresentLabel = "vpc.amazonaws.com/efa.present"
	// EFAResource is what the EFA device plugin registers: one per EFA
	// interface of the node.
	EFAResource = "vpc.amazonaws.com/efa"
	// PodSecurityEnforceLabel sets a namespace's Pod Security level.
	PodSecurityEnforceLabel = "pod-security.kubernetes.io/enforce"

	// DoNotDisruptAnnotation on a pod keeps Karpenter from evicting it to
	// consolidate, and from draining its node by drift or expiration until
	// the NodeClaim's terminationGracePeriod runs out.
	DoNotDisruptAnnotation = "karpenter.sh/do-not-disrupt"

	// Karpenter's well-known node labels.
	LabelNodePool     = "karpenter.sh/nodepool"
	LabelCapacityType = "karpenter.sh/capacity-type"
	// The values of LabelCapacityType.
	CapacityTypeSpot     = "spot"
	CapacityTypeOnDemand = "on-demand"
	CapacityTypeReserved = "reserved"
	LabelEC2NodeClass    = "karpenter.k8s.aws/ec2nodeclass"
	LabelInstanceFamily  = "karpenter.k8s.aws/instance-family"
	LabelGPUName         = "karpenter.k8s.aws/instance-gpu-name"
	LabelGPUManufacturer = "karpenter.k8s.aws/instance-gpu-manufacturer"
	LabelGPUCount        = "karpenter.k8s.aws/instance-gpu-count"
	LabelGPUMemory       = "karpenter.k8s.aws/instance-gpu-memory"
	LabelInstanceType    = "node.kubernetes.io/instance-type"
	LabelArch            = "kubernetes.io/arch"
	// NodeClassTerminationFinalizer is the finalizer Karpenter puts on every
	// EC2NodeClass and removes once no NodeClaim uses the class: without a
	// running controller, deleting a class never completes.
	NodeClassTerminationFinalizer = "karpenter.k8s.aws/termination"
	// UnregisteredTaintKey is the NoExecute taint a Karpenter node's kubelet
	// registers with; Karpenter removes it once it has synced the node.
	UnregisteredTaintKey = "karpenter.sh/unregistered"

	// OwnerAnnotation names the stack that installed a Karpenter CRD or
	// controller, so that a run tells its own install from another.
	OwnerAnnotation = "karpenter-gpu/owner"

	// ServiceAccountRoleAnnotation binds a service account to an IAM role (IRSA).
	ServiceAccountRoleAnnotation = "eks.amazonaws.com/role-arn"
	// KarpenterServiceAccount is the service account the Karpenter chart creates.
	KarpenterServiceAccount = "karpenter"
)

// AMI families of EC2NodeClass aliases (family@release).
const (
	AMIFamilyAL2023       = "al2023"
	AMIFamilyBottlerocket = "bottlerocket"
)

// API groups, versions and kinds of Karpenter's custom resources.
const (
	NodeClassGroup      = "karpenter.k8s.aws"
	NodeClassAPIVersion = NodeClassGroup + "/v1"
	NodeClassKind       = "EC2NodeClass"
	NodePoolAPIVersion  = "karpenter.sh/v1"
	NodePoolKind        = "NodePool"
	// NodeOverlay is alpha: the controller needs FeatureGateNodeOverlay.
	NodeOverlayAPIVersion = "karpenter.sh/v1alpha1"
	NodeOverlayKind       = "NodeOverlay"
	// CapacityBuffer is Karpenter's alpha API for capacity kept ahead of
	// demand (CRD in the karpenter-crd chart; the controller needs
	// FeatureGateCapacityBuffer).
	CapacityBufferAPIVersion = "autoscaling.x-k8s.io/v1beta1"
	CapacityBufferKind       = "CapacityBuffer"
)

// Karpenter's CRDs, by name: the first three every v1 installation has,
// the others are its alpha APIs, which older releases lack.
const (
	NodePoolCRD       = "nodepools.karpenter.sh"
	NodeClaimCRD      = "nodeclaims.karpenter.sh"
	EC2NodeClassCRD   = "ec2nodeclasses.karpenter.k8s.aws"
	NodeOverlayCRD    = "nodeoverlays.karpenter.sh"
	CapacityBufferCRD = "capacitybuffers.autoscaling.x-k8s.io"
)

// API resources the stack reads from the cluster before and after it
// declares anything: what of Karpenter runs, what holds a deletion, aws-auth.
var (
	CRDResource        = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	DeploymentResource = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	ConfigMapResource  = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	PodResource        = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	NodeClaimResource  = schema.GroupVersionResource{Group: "karpenter.sh", Version: "v1", Resource: "nodeclaims"}
)

// Disruption reasons, as NodePool budgets name them. Unhealthy (node
// repair) is new in Karpenter 1.15: older NodePool CRDs refuse it.
const (
	DisruptionUnderutilized = "Underutilized"
	DisruptionEmpty         = "Empty"
	DisruptionDrifted       = "Drifted"
	DisruptionUnhealthy     = "Unhealthy"
)

// DisruptionReasons are all of them, in the CRD's order.
var DisruptionReasons = []string{DisruptionUnderutilized, DisruptionEmpty, DisruptionDrifted, DisruptionUnhealthy}

// Feature gates of the pinned Karpenter chart (settings.featureGates and
// settings.awsFeatureGates in its values.yaml; a test compares them).
var (
	KarpenterFeatureGates    = []string{"capacityBuffer", "nodeOverlay", "nodeRepair", "podDeletionCostManagement", "reservedCapacity", "spotToSpotConsolidation", "staticCapacity", "terminateFirstDrift", "terminateFirstRepair"}
	KarpenterAWSFeatureGates = []string{"draEFA", "draNVIDIAGPU", "nodeClassCEL", "rebootForRepair"}
)

// Feature gates the stack itself depends on.
const (
	FeatureGateNodeOverlay      = "nodeOverlay"
	FeatureGateNodeRepair       = "nodeRepair"
	FeatureGateReservedCapacity = "reservedCapacity"
	FeatureGateCapacityBuffer   = "capacityBuffer"
	AWSFeatureGateRebootRepair  = "rebootForRepair"
)

// ReservedNodeClassTagKeys are tag keys Karpenter manages itself and rejects
// in EC2NodeClass tags (kubernetes.io/cluster/* is matched by prefix).
var ReservedNodeClassTagKeys = []string{
	"eks:eks-cluster-name",
	LabelNodePool,
	"karpenter.sh/nodeclaim",
	LabelEC2NodeClass,
}

// ReservedNodeClassTagPrefix is the prefix of cluster ownership tags.
const ReservedNodeClassTagPrefix = "kubernetes.io/cluster/"
