package cluster

import (
	"context"
	"fmt"
	"strings"

	awseks "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	apimetav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"karpenter-gpu/config"
	"karpenter-gpu/wellknown"
)

// ResolveNodeAccess turns the configured mode into the one the cluster
// supports, or explains why the configured mode cannot work.
//
// With an existing node role (nodeRole.name), auto grants nothing: the role
// already lets the existing Karpenter's nodes join.
func ResolveNodeAccess(requested config.NodeAccessMode, authMode string, existingRole bool) (config.NodeAccessMode, error) {
	api := strings.HasPrefix(authMode, AuthModeAPI)
	configMap := strings.HasSuffix(authMode, AuthModeConfigMap)
	switch {
	case requested == config.NodeAccessAuto && existingRole:
		return config.NodeAccessNone, nil
	case requested == config.NodeAccessAuto && api:
		return config.NodeAccessAccessEntry, nil
	case requested == config.NodeAccessAuto:
		return config.NodeAccessAwsAuth, nil
	case requested == config.NodeAccessAccessEntry && !api:
		return "", fmt.Errorf("%s:nodeAccess: %q: the cluster's authentication mode is %s, which ignores access entries; use awsAuth, or switch the cluster to API_AND_CONFIG_MAP", config.Namespace, requested, authMode)
	case requested == config.NodeAccessAwsAuth && !configMap:
		return "", fmt.Errorf("%s:nodeAccess: %q: the cluster's authentication mode is %s, which ignores the aws-auth ConfigMap; use accessEntry or auto", config.Namespace, requested, authMode)
	}
	return requested, nil
}

// NodeAccessArgs describes how instances with the node role join the cluster.
type NodeAccessArgs struct {
	// Mode is accessEntry or awsAuth (see ResolveNodeAccess).
	Mode        config.NodeAccessMode
	ClusterName string
	NodeRoleARN pulumi.StringInput
	Tags        map[string]string
	// Kubernetes reaches the aws-auth ConfigMap; used only in awsAuth mode.
	Kubernetes *kubernetes.Provider
	// AwsAuthMapRoles is aws-auth's live mapRoles (ReadAwsAuthMapRoles), in
	// awsAuth mode.
	AwsAuthMapRoles string
	// After are resources that must exist first, such as a created cluster.
	After []pulumi.Resource
}

// NodeAccess lets nodes launched with the node role register as nodes.
type NodeAccess struct {
	pulumi.ResourceState
	Mode config.NodeAccessMode
	// Grant is the access entry or the aws-auth patch.
	Grant pulumi.Resource
}

// Username and groups EKS expects for a node role mapping.
const (
	nodeUsername     = "system:node:{{EC2PrivateDNSName}}"
	awsAuthName      = "aws-auth"
	awsAuthNamespace = "kube-system"
)

var nodeGroups = []string{"system:bootstrappers", "system:nodes"}

// NewNodeAccess creates an EC2_LINUX access entry, or merges one mapRoles
// entry into the cluster's aws-auth ConfigMap.
func NewNodeAccess(ctx *pulumi.Context, name string, args *NodeAccessArgs, opts ...pulumi.ResourceOption) (*NodeAccess, error) {
	a := &NodeAccess{Mode: args.Mode}
	if err := ctx.RegisterComponentResource("karpenter-gpu:cluster:NodeAccess", name, a, opts...); err != nil {
		return nil, err
	}
	child := pulumi.Composite(pulumi.Parent(a), pulumi.DependsOn(args.After))
	switch args.Mode {
	case config.NodeAccessAccessEntry:
		// EC2_LINUX: EKS itself puts the node into system:nodes; a STANDARD
		// entry with those groups is rejected.
		entry, err := awseks.NewAccessEntry(ctx, name, &awseks.AccessEntryArgs{
			ClusterName:  pulumi.String(args.ClusterName),
			PrincipalArn: args.NodeRoleARN,
			Type:         pulumi.String("EC2_LINUX"),
			Tags:         pulumi.ToStringMap(args.Tags),
		}, child)
		if err != nil {
			return nil, err
		}
		a.Grant = entry
	case config.NodeAccessAwsAuth:
		patch, err := mergeIntoAwsAuth(ctx, name, args, child)
		if err != nil {
			return nil, err
		}
		a.Grant = patch
	default:
		return nil, fmt.Errorf("node access mode %q must be resolved first", args.Mode)
	}
	return a, ctx.RegisterResourceOutputs(a, pulumi.Map{})
}

// mergeIntoAwsAuth applies aws-auth's live mapRoles with the node role's
// entry added. The patch is retained on delete: removing it would delete the
// whole mapRoles key, locking every other node out.
func mergeIntoAwsAuth(ctx *pulumi.Context, name string, args *NodeAccessArgs, child pulumi.ResourceOption) (*corev1.ConfigMapPatch, error) {
	merged := args.NodeRoleARN.ToStringOutput().ApplyT(func(arn string) (string, error) {
		return MergeMapRoles(args.AwsAuthMapRoles, arn)
	}).(pulumi.StringOutput)
	return corev1.NewConfigMapPatch(ctx, name, &corev1.ConfigMapPatchArgs{
		Metadata: &metav1.ObjectMetaPatchArgs{
			Name:      pulumi.String(awsAuthName),
			Namespace: pulumi.String(awsAuthNamespace),
			// aws-auth's mapRoles belongs to whoever wrote it last; the
			// merged value keeps their entries, so taking the field is safe.
			Annotations: pulumi.StringMap{"pulumi.com/patchForce": pulumi.String("true")},
		},
		Data: pulumi.StringMap{"mapRoles": merged},
	}, pulumi.Provider(args.Kubernetes), child, pulumi.RetainOnDelete(true))
}

// ReadAwsAuthMapRoles reads the mapRoles of the cluster's aws-auth
// ConfigMap. It is read before the first resource, not as a Pulumi read
// resource: a read kept in the state goes stale the moment the patch lands,
// and every refresh would then report a change.
func ReadAwsAuthMapRoles(ctx context.Context, client dynamic.Interface) (string, error) {
	cm, err := client.Resource(wellknown.ConfigMapResource).Namespace(awsAuthNamespace).Get(ctx, awsAuthName, apimetav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("reading ConfigMap %s/%s: %w", awsAuthNamespace, awsAuthName, err)
	}
	mapRoles, _, err := unstructured.NestedString(cm.Object, "data", "mapRoles")
	return mapRoles, err
}

// MergeMapRoles returns mapRoles with exactly one node entry for roleARN,
// after every other entry in its original order. Fields the stack does not
// know are kept as they are.
func MergeMapRoles(mapRoles, roleARN string) (string, error) {
	var entries []map[string]any
	if err := yaml.Unmarshal([]byte(mapRoles), &entries); err != nil {
		return "", fmt.Errorf("aws-auth mapRoles is not a YAML list: %w", err)
	}
	kept := make([]map[string]any, 0, len(entries)+1)
	for _, e := range entries {
		if e["rolearn"] != roleARN {
			kept = append(kept, e)
		}
	}
	kept = append(kept, map[string]any{
		"rolearn":  roleARN,
		"username": nodeUsername,
		"groups":   nodeGroups,
	})
	out, err := yaml.Marshal(kept)
	return string(out), err
}
