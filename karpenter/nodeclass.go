package karpenter

import (
	"fmt"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"karpenter-gpu/config"
	"karpenter-gpu/wellknown"
)

// API groups, versions and kinds of Karpenter's custom resources.
const (
	NodeClassGroup      = "karpenter.k8s.aws"
	NodeClassAPIVersion = NodeClassGroup + "/v1"
	NodeClassKind       = "EC2NodeClass"
	NodePoolAPIVersion  = "karpenter.sh/v1"
	NodePoolKind        = "NodePool"
	// NodeOverlay is alpha: the controller needs FeatureGateNodeOverlay.
	NodeOverlayAPIVersion  = "karpenter.sh/v1alpha1"
	NodeOverlayKind        = "NodeOverlay"
	FeatureGateNodeOverlay = "nodeOverlay"
)

// NodeClassSettings is what the EC2NodeClass is made from.
type NodeClassSettings struct {
	NodeClass config.NodeClass
	// DiscoveryValue is the karpenter.sh/discovery tag value to select subnets
	// and security groups by.
	DiscoveryValue string
	RoleName       string
	// Tags are the stack's tags; nodeClass.tags are merged over them.
	Tags map[string]string
}

// NodeClassObject is the EC2NodeClass as Kubernetes receives it.
func NodeClassObject(s NodeClassSettings) map[string]any {
	nc := s.NodeClass
	discovery := []any{map[string]any{"tags": map[string]any{wellknown.DiscoveryTagKey: s.DiscoveryValue}}}
	spec := map[string]any{
		"role":                       s.RoleName,
		"amiSelectorTerms":           []any{map[string]any{"alias": nc.AMI}},
		"subnetSelectorTerms":        discovery,
		"securityGroupSelectorTerms": discovery,
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
		"apiVersion": NodeClassAPIVersion,
		"kind":       NodeClassKind,
		"metadata":   map[string]any{"name": nc.Name},
		"spec":       spec,
	}
}

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
	if nc.Family() == "bottlerocket" {
		return []any{
			map[string]any{"deviceName": "/dev/xvda", "ebs": ebs(BottlerocketRootGiB, 3000, 125)},
			map[string]any{"deviceName": "/dev/xvdb", "ebs": data},
		}
	}
	return []any{map[string]any{"deviceName": "/dev/xvda", "rootVolume": true, "ebs": data}}
}

// NodeClassArgs configures the EC2NodeClass resource.
type NodeClassArgs struct {
	Settings NodeClassSettings // RoleName comes from Role
	Role     pulumi.StringInput
}

// NewNodeClass declares the EC2NodeClass. Pass the controller releases (and
// everything nodes need to join) as dependencies: Kubernetes must know the
// CRD before the object, and on destroy the object must go while the
// controller still runs to terminate its instances.
func NewNodeClass(ctx *pulumi.Context, name string, args *NodeClassArgs, opts ...pulumi.ResourceOption) (*apiextensions.CustomResource, error) {
	spec := args.Role.ToStringOutput().ApplyT(func(role string) map[string]any {
		s := args.Settings
		s.RoleName = role
		return NodeClassObject(s)["spec"].(map[string]any)
	}).(pulumi.MapOutput)
	return apiextensions.NewCustomResource(ctx, name, &apiextensions.CustomResourceArgs{
		ApiVersion:  pulumi.String(NodeClassAPIVersion),
		Kind:        pulumi.String(NodeClassKind),
		Metadata:    &metav1.ObjectMetaArgs{Name: pulumi.String(args.Settings.NodeClass.Name)},
		OtherFields: kubernetes.UntypedArgs{"spec": spec},
	}, opts...)
}
