// Package config reads and validates the stack configuration (namespace
// "karpenter-gpu") before any resource is registered.
package config

import (
	"slices"
	"strings"
)

// Namespace is the Pulumi config namespace of every key, the project name.
const Namespace = "karpenter-gpu"

// Stack is the whole validated configuration of one stack.
type Stack struct {
	ClusterName  string            `json:"clusterName"`
	Cluster      Cluster           `json:"cluster"`
	Karpenter    Karpenter         `json:"karpenter"`
	NodeAccess   NodeAccessMode    `json:"nodeAccess"`
	Discovery    Discovery         `json:"discovery"`
	NodeRole     NodeRole          `json:"nodeRole"`
	Tags         map[string]string `json:"tags"`
	NodeClasses  []NodeClass       `json:"nodeClasses"`
	GPUPools     []GPUPool         `json:"gpuPools"`
	DevicePlugin DevicePlugin      `json:"devicePlugin"`
	// EFADevicePlugin is installed when a node class has EFA.
	EFADevicePlugin EFADevicePlugin `json:"efaDevicePlugin"`
	SmokeTest       bool            `json:"smokeTest"`
	// DestroyTimeout bounds how long destroy waits for a NodePool or
	// EC2NodeClass to go, which waits for Karpenter to drain its nodes.
	DestroyTimeout string `json:"destroyTimeout"`
}

// Cluster selects greenfield mode: the stack creates a small EKS cluster
// instead of looking up an existing one.
type Cluster struct {
	Create          bool     `json:"create"`
	Version         string   `json:"version"`
	VpcID           string   `json:"vpcId"`
	SubnetIDs       []string `json:"subnetIds"`
	SystemNodeType  string   `json:"systemNodeType"`
	SystemNodeCount int      `json:"systemNodeCount"`
}

// Identity is how the Karpenter controller obtains AWS credentials.
type Identity string

const (
	IdentityIRSA        Identity = "irsa"
	IdentityPodIdentity Identity = "podIdentity"
)

// Karpenter configures the controller installation. Its release is the one
// pinned in package versions: the objects are proven against its CRDs only.
type Karpenter struct {
	// Install false declares only GPU pools on top of a Karpenter the
	// cluster already runs (pools-only mode).
	Install bool `json:"install"`
	// ChartRepository holds the karpenter and karpenter-crd charts: an OCI
	// registry path, an HTTP repository or a local folder (a mirror).
	ChartRepository    string   `json:"chartRepository"`
	Namespace          string   `json:"namespace"`
	Identity           Identity `json:"identity"`
	CreateOIDCProvider bool     `json:"createOidcProvider"`
	Replicas           int      `json:"replicas"`
	LogLevel           string   `json:"logLevel"`
	CPU                string   `json:"cpu"`
	Memory             string   `json:"memory"`
	// FeatureGates and AWSFeatureGates are the chart's settings.featureGates
	// and settings.awsFeatureGates: the one place to set them.
	FeatureGates    map[string]bool `json:"featureGates"`
	AWSFeatureGates map[string]bool `json:"awsFeatureGates"`
	Values          map[string]any  `json:"values"`
}

// NodeAccessMode is how nodes launched with the node role join the cluster.
type NodeAccessMode string

const (
	NodeAccessAuto        NodeAccessMode = "auto"
	NodeAccessAccessEntry NodeAccessMode = "accessEntry"
	NodeAccessAwsAuth     NodeAccessMode = "awsAuth"
	// NodeAccessNone grants nothing: the existing node role already joins.
	NodeAccessNone NodeAccessMode = "none"
)

// DiscoveryMode is how node classes find their subnets and security groups.
type DiscoveryMode string

const (
	// DiscoveryTags tags them karpenter.sh/discovery=<cluster> and selects by tag.
	DiscoveryTags DiscoveryMode = "tags"
	// DiscoveryIDs selects them by ID and tags nothing.
	DiscoveryIDs DiscoveryMode = "ids"
)

// Discovery says which subnets and security groups GPU nodes use, and how
// node classes find them.
type Discovery struct {
	Mode             DiscoveryMode `json:"mode"`
	SubnetIDs        []string      `json:"subnetIds"`
	SecurityGroupIDs []string      `json:"securityGroupIds"`
}

// NodeRole is the role of GPU nodes: one the stack creates, or an
// existing one named here.
type NodeRole struct {
	Name                string   `json:"name"`
	ExtraPolicyARNs     []string `json:"extraPolicyArns"`
	PermissionsBoundary string   `json:"permissionsBoundary"`
}

// NodeClass configures one EC2NodeClass: what its nodes boot and store.
type NodeClass struct {
	Name                string            `json:"name"`
	AMI                 string            `json:"ami"`
	AllowLatestAMI      bool              `json:"allowLatestAmi"`
	RootVolume          RootVolume        `json:"rootVolume"`
	InstanceStorePolicy string            `json:"instanceStorePolicy"`
	Tags                map[string]string `json:"tags"`
	// CapacityReservations select On-Demand Capacity Reservations and
	// Capacity Blocks the class's nodes may launch into.
	CapacityReservations []CapacityReservation `json:"capacityReservations"`
	// EFA attaches EFA interfaces for multi-node training.
	EFA EFA `json:"efa"`
	// PlacementGroup launches the class's nodes into a placement group.
	PlacementGroup PlacementGroup `json:"placementGroup"`
	// SubnetIDs pins the class to these subnets (EFA classes: one zone).
	SubnetIDs []string `json:"subnetIds"`
	// SOCI pulls image layers in parallel through the SOCI snapshotter the
	// AMI ships (AL2023 and Bottlerocket).
	SOCI bool `json:"soci"`
	// DataVolumeSnapshot restores Bottlerocket's data volume from a snapshot
	// that holds pre-pulled images.
	DataVolumeSnapshot DataVolumeSnapshot `json:"dataVolumeSnapshot"`
}

// DataVolumeSnapshot is an EBS snapshot of a Bottlerocket data volume.
type DataVolumeSnapshot struct {
	SnapshotID string `json:"snapshotId"`
	// InitializationRateMiBps makes EBS load the snapshot at this rate
	// (100-300) instead of lazily on first read.
	InitializationRateMiBps int `json:"initializationRateMiBps"`
}

// CapacityReservation is one capacityReservationSelectorTerm: an ID, or
// tags (with an owner), or every reservation of one matching kind.
type CapacityReservation struct {
	ID                    string            `json:"id,omitempty"`
	Tags                  map[string]string `json:"tags,omitempty"`
	OwnerID               string            `json:"ownerId,omitempty"`
	InstanceMatchCriteria string            `json:"instanceMatchCriteria,omitempty"`
}

// EFA configures Elastic Fabric Adapter interfaces: the primary interface
// plus one EFA-only interface on each of NetworkCards network cards.
type EFA struct {
	NetworkCards int `json:"networkCards"`
}

// Enabled tells whether the class attaches EFA interfaces.
func (e EFA) Enabled() bool { return e.NetworkCards > 0 }

// PlacementGroup names or identifies an existing EC2 placement group.
type PlacementGroup struct {
	Name string `json:"name"`
	ID   string `json:"id"`
}

// RootVolume sizes the gp3 volume that holds images and containers.
type RootVolume struct {
	SizeGiB         int `json:"sizeGiB"`
	IOPS            int `json:"iops"`
	ThroughputMiBps int `json:"throughputMiBps"`
}

// GPUPool describes the GPUs one Karpenter NodePool may launch.
type GPUPool struct {
	Name                   string            `json:"name"`
	NodeClass              string            `json:"nodeClass"`
	GPUs                   []string          `json:"gpus"`
	MinGPUMemoryGiB        int               `json:"minGPUMemoryGiB"`
	GPUCount               GPUCount          `json:"gpuCount"`
	InstanceFamilies       []string          `json:"instanceFamilies"`
	InstanceTypes          []string          `json:"instanceTypes"`
	CapacityTypes          []string          `json:"capacityTypes"`
	Architectures          []string          `json:"architectures"`
	MaxGPUs                int               `json:"maxGPUs"`
	Consolidation          string            `json:"consolidation"`
	ConsolidateAfter       string            `json:"consolidateAfter"`
	Budgets                []Budget          `json:"budgets"`
	ExpireAfter            string            `json:"expireAfter"`
	TerminationGracePeriod string            `json:"terminationGracePeriod"`
	Weight                 int               `json:"weight"`
	Labels                 map[string]string `json:"labels"`
	Taints                 []Taint           `json:"taints"`
	Sharing                Sharing           `json:"sharing"`
	MinValues              MinValues         `json:"minValues"`
	// Headroom keeps this many GPUs of the pool ready ahead of demand
	// (Karpenter's CapacityBuffer).
	Headroom int `json:"headroom"`
	// JobProtection promises that a running job whose pods carry
	// karpenter.sh/do-not-disrupt is not ended by consolidation, drift or
	// expiration before it finishes.
	JobProtection JobProtection `json:"jobProtection"`
	// StrictMaxGPUs keeps the GPUs of the pool's nodes within MaxGPUs
	// while nodes drain, too: Karpenter counts only nodes that are not
	// being deleted against the NodePool's limit, so the limit leaves
	// room for the nodes the pool's budgets let drain at once.
	StrictMaxGPUs bool `json:"strictMaxGPUs"`
}

// JobProtection is the longest job a pool must let finish, and the longest
// grace period its pods ask for when told to stop.
type JobProtection struct {
	LongestJob     string `json:"longestJob"`
	PodGracePeriod string `json:"podGracePeriod"`
}

// Enabled tells whether the pool protects jobs.
func (j JobProtection) Enabled() bool { return j.LongestJob != "" }

// MinValues makes Karpenter keep at least this many instance families or
// types in every launch decision: enough choices for spot to find capacity.
type MinValues struct {
	InstanceFamilies int `json:"instanceFamilies"`
	InstanceTypes    int `json:"instanceTypes"`
}

// GPUCount bounds the number of GPUs per instance.
type GPUCount struct {
	Min int `json:"min"`
	Max int `json:"max"`
}

// Budget is a Karpenter disruption budget.
type Budget struct {
	Nodes    string   `json:"nodes"`
	Reasons  []string `json:"reasons"`
	Schedule string   `json:"schedule"`
	Duration string   `json:"duration"`
}

// Taint is an extra node taint of a pool.
type Taint struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Effect string `json:"effect"`
}

// DevicePlugin configures the NVIDIA device plugin release.
type DevicePlugin struct {
	// ChartRepository holds the nvidia-device-plugin chart (see
	// Karpenter.ChartRepository).
	ChartRepository string `json:"chartRepository"`
	Version         string `json:"version"`
	Namespace       string `json:"namespace"`
}

// EFADevicePlugin configures the aws-efa-k8s-device-plugin release (in
// kube-system, where AWS's charts expect it).
type EFADevicePlugin struct {
	// ChartRepository holds the aws-efa-k8s-device-plugin chart (see
	// Karpenter.ChartRepository).
	ChartRepository string `json:"chartRepository"`
	Version         string `json:"version"`
}

// Sharing turns on time-slicing for a pool's nodes: each physical GPU is
// advertised Replicas times.
type Sharing struct {
	Replicas int `json:"replicas"`
}

// Family is the AMI family of the node class's alias, e.g. "al2023".
func (n NodeClass) Family() string {
	family, _, _ := strings.Cut(n.AMI, "@")
	return family
}

// NodeClass returns the node class of the given name.
func (c *Stack) NodeClass(name string) (NodeClass, bool) {
	i := slices.IndexFunc(c.NodeClasses, func(n NodeClass) bool { return n.Name == name })
	if i < 0 {
		return NodeClass{}, false
	}
	return c.NodeClasses[i], true
}

// MinGPUMemoryMiB is minGPUMemoryGiB in the unit of
// karpenter.k8s.aws/instance-gpu-memory; 0 when not set.
func (g GPUPool) MinGPUMemoryMiB() int { return g.MinGPUMemoryGiB * 1024 }
