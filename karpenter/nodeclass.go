package karpenter

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"karpenter-gpu/config"
	"karpenter-gpu/internal/k8sobject"
	"karpenter-gpu/wellknown"
)

// NodeClassSettings is what the EC2NodeClass is made from.
type NodeClassSettings struct {
	NodeClass config.NodeClass
	// Subnets and SecurityGroups say how the class finds them.
	Subnets, SecurityGroups Selection
	RoleName                string
	// EFASecurityGroupID is the stack's EFA security group; EFA classes add it.
	EFASecurityGroupID string
	// Tags are the stack's tags; the class's tags are merged over them.
	Tags map[string]string
}

// Selection finds subnets or security groups: by the karpenter.sh/discovery
// tag value, or by ID when IDs are given.
type Selection struct {
	TagValue string
	IDs      []string
}

func (s Selection) terms() []any {
	if len(s.IDs) == 0 {
		return []any{map[string]any{"tags": map[string]any{wellknown.DiscoveryTagKey: s.TagValue}}}
	}
	terms := make([]any, len(s.IDs))
	for i, id := range s.IDs {
		terms[i] = map[string]any{"id": id}
	}
	return terms
}

// NodeClassObject is the EC2NodeClass as Kubernetes receives it.
func NodeClassObject(s NodeClassSettings) map[string]any {
	nc := s.NodeClass
	subnets := s.Subnets
	if len(nc.SubnetIDs) > 0 {
		subnets = Selection{IDs: nc.SubnetIDs}
	}
	securityGroups := s.SecurityGroups.terms()
	if nc.EFA.Enabled() {
		securityGroups = append(securityGroups, map[string]any{"id": s.EFASecurityGroupID})
	}
	spec := map[string]any{
		"role":                       s.RoleName,
		"amiSelectorTerms":           []any{map[string]any{"alias": nc.AMI}},
		"subnetSelectorTerms":        subnets.terms(),
		"securityGroupSelectorTerms": securityGroups,
		// IMDSv2 only, one hop: containers cannot reach the node's credentials.
		"metadataOptions": map[string]any{
			"httpEndpoint":            "enabled",
			"httpProtocolIPv6":        "disabled",
			"httpPutResponseHopLimit": 1,
			"httpTokens":              "required",
		},
		"blockDeviceMappings": blockDevices(nc),
	}
	if nc.InstanceStorePolicy != "" {
		spec["instanceStorePolicy"] = nc.InstanceStorePolicy
	}
	if nc.SOCI {
		spec["userData"] = sociUserData[nc.Family()]
	}
	if len(nc.CapacityReservations) > 0 {
		spec["capacityReservationSelectorTerms"] = reservationTerms(nc.CapacityReservations)
	}
	if nc.EFA.Enabled() {
		spec["networkInterfaces"] = efaInterfaces(nc.EFA.NetworkCards)
	}
	if pg := nc.PlacementGroup; pg.Name != "" {
		spec["placementGroupSelector"] = map[string]any{"name": pg.Name}
	} else if pg.ID != "" {
		spec["placementGroupSelector"] = map[string]any{"id": pg.ID}
	}
	tags := map[string]any{}
	for _, m := range []map[string]string{s.Tags, nc.Tags} {
		for k, v := range m {
			tags[k] = v
		}
	}
	if len(tags) > 0 {
		spec["tags"] = tags
	}
	return map[string]any{
		"apiVersion": wellknown.NodeClassAPIVersion,
		"kind":       wellknown.NodeClassKind,
		"metadata":   map[string]any{"name": nc.Name},
		"spec":       spec,
	}
}

func reservationTerms(reservations []config.CapacityReservation) []any {
	terms := make([]any, len(reservations))
	for i, r := range reservations {
		term := map[string]any{}
		if r.ID != "" {
			term["id"] = r.ID
		}
		if len(r.Tags) > 0 {
			tags := map[string]any{}
			for k, v := range r.Tags {
				tags[k] = v
			}
			term["tags"] = tags
		}
		if r.OwnerID != "" {
			term["ownerID"] = r.OwnerID
		}
		if r.InstanceMatchCriteria != "" {
			term["instanceMatchCriteria"] = r.InstanceMatchCriteria
		}
		terms[i] = term
	}
	return terms
}

// efaInterfaces attaches the primary (ENA) interface and an EFA-only
// interface on each network card, card 0 included as its second device,
// which is how AWS lays out EFA on p4d, p5 and p6 instances. The layout is
// fixed per class: instance types with different network card counts need
// classes of their own.
func efaInterfaces(cards int) []any {
	nics := []any{
		map[string]any{"networkCardIndex": 0, "deviceIndex": 0, "interfaceType": "interface"},
		map[string]any{"networkCardIndex": 0, "deviceIndex": 1, "interfaceType": "efa-only"},
	}
	for card := 1; card < cards; card++ {
		nics = append(nics, map[string]any{"networkCardIndex": card, "deviceIndex": 0, "interfaceType": "efa-only"})
	}
	return nics
}

// sociUserData turns on SOCI parallel pull per AMI family; Karpenter
// merges either with the user data it generates.
var sociUserData = map[string]string{wellknown.AMIFamilyAL2023: AL2023SOCI, wellknown.AMIFamilyBottlerocket: BottlerocketSOCI}

// AL2023SOCI is a nodeadm NodeConfig that turns on nodeadm's FastImagePull
// gate: nodeadm points containerd and the kubelet at the SOCI snapshotter
// the AL2023 AMI ships, in parallel pull and unpack mode. nodeadm leaves the
// gate off on instances too small for it.
const AL2023SOCI = `apiVersion: node.eks.aws/v1alpha1
kind: NodeConfig
spec:
  featureGates:
    FastImagePull: true
`

// BottlerocketSOCI is Bottlerocket user data (TOML settings, which
// Karpenter merges with its own) that pulls and unpacks image layers in
// parallel through the SOCI snapshotter that Bottlerocket ships.
const BottlerocketSOCI = `[settings.container-runtime]
snapshotter = "soci"

[settings.container-runtime-plugins.soci-snapshotter]
pull-mode = "parallel-pull-unpack"
`

// BottlerocketRootGiB is the OS volume Karpenter itself gives Bottlerocket
// (amifamily/bottlerocket.go in the pinned module): it must hold the AMI's
// root snapshot, which grew past 4 GiB.
const BottlerocketRootGiB = 6

// blockDevices sizes the volume that holds container images: the root
// volume on AL2023, the data volume on Bottlerocket (whose root is the OS).
func blockDevices(nc config.NodeClass) []any {
	ebs := func(sizeGiB, iops, throughput int) map[string]any {
		return map[string]any{
			"volumeSize":          fmt.Sprintf("%dGi", sizeGiB),
			"volumeType":          "gp3",
			"iops":                iops,
			"throughput":          throughput,
			"encrypted":           true,
			"deleteOnTermination": true,
		}
	}
	data := ebs(nc.RootVolume.SizeGiB, nc.RootVolume.IOPS, nc.RootVolume.ThroughputMiBps)
	if snap := nc.DataVolumeSnapshot; snap.SnapshotID != "" {
		data["snapshotID"] = snap.SnapshotID
		if snap.InitializationRateMiBps != 0 {
			data["volumeInitializationRate"] = snap.InitializationRateMiBps
		}
	}
	if nc.Family() == wellknown.AMIFamilyBottlerocket {
		return []any{
			map[string]any{"deviceName": "/dev/xvda", "ebs": ebs(BottlerocketRootGiB, 3000, 125)},
			map[string]any{"deviceName": "/dev/xvdb", "ebs": data},
		}
	}
	return []any{map[string]any{"deviceName": "/dev/xvda", "rootVolume": true, "ebs": data}}
}

// NodeClassArgs configures the EC2NodeClass resource.
type NodeClassArgs struct {
	Settings NodeClassSettings // the role and the EFA security group come from below
	Role     pulumi.StringInput
	// EFASecurityGroupID is needed by EFA classes only.
	EFASecurityGroupID pulumi.StringInput
}

// NewNodeClass declares the EC2NodeClass. Pass the controller releases (and
// everything nodes need to join) as dependencies: Kubernetes must know the
// CRD before the object, and on destroy the object must go while the
// controller still runs to terminate its instances.
func NewNodeClass(ctx *pulumi.Context, name string, args *NodeClassArgs, opts ...pulumi.ResourceOption) (*k8sobject.Object, error) {
	efa := args.EFASecurityGroupID
	if efa == nil {
		efa = pulumi.String("")
	}
	spec := pulumi.All(args.Role, efa).ApplyT(func(v []any) map[string]any {
		s := args.Settings
		s.RoleName, s.EFASecurityGroupID = v[0].(string), v[1].(string)
		return NodeClassObject(s)["spec"].(map[string]any)
	}).(pulumi.MapOutput)
	return k8sobject.New(ctx, name, map[string]any{
		"apiVersion": wellknown.NodeClassAPIVersion,
		"kind":       wellknown.NodeClassKind,
		"metadata":   map[string]any{"name": args.Settings.NodeClass.Name},
		"spec":       spec,
	}, opts...)
}
