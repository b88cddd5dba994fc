// Package cluster learns the facts of the EKS cluster the stack extends (or
// creates one in greenfield mode), connects a Kubernetes provider to it and
// lets the node role's instances join it.
package cluster

import (
	"fmt"
	"sort"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	awseks "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi-eks/sdk/v3/go/eks"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"karpenter-gpu/config"
	"karpenter-gpu/kubeconfig"
)

// Authentication modes of an EKS cluster's access configuration.
const (
	AuthModeAPI          = "API"
	AuthModeAPIAndConfig = "API_AND_CONFIG_MAP"
	AuthModeConfigMap    = "CONFIG_MAP"
)

// Facts is what the stack needs to know about its cluster and account.
// Names, IDs and modes are plain values: they decide how many resources
// exist. Values a created cluster only knows after deployment are outputs.
type Facts struct {
	Name      string
	ARN       string
	AccountID string
	Region    string
	Partition string
	// DNSSuffix is the partition's (amazonaws.com, amazonaws.com.cn).
	DNSSuffix string
	// KubernetesVersion is the cluster's minor version, e.g. "1.35".
	KubernetesVersion string

	Endpoint pulumi.StringOutput
	// CertificateAuthority is the API server's CA bundle, base64, as EKS
	// returns it.
	CertificateAuthority pulumi.StringOutput
	Kubeconfig           pulumi.StringOutput
	// KubeconfigText is the kubeconfig of an existing cluster, known before
	// anything is created (empty for a created cluster).
	KubeconfigText string
	// AutoMode is set on an EKS Auto Mode cluster.
	AutoMode bool
	// OIDCIssuerURL is the https:// issuer of the cluster's service account tokens.
	OIDCIssuerURL pulumi.StringOutput
	// OIDCProviderARN is the IAM OIDC provider for the issuer; an IAM
	// provider for an existing cluster may not exist yet (karpenter.createOidcProvider).
	OIDCProviderARN pulumi.StringOutput

	AuthenticationMode string
	// VpcID is the cluster's VPC.
	VpcID string
	// ClusterSecurityGroupID is known up front for an existing cluster only.
	ClusterSecurityGroupID string
	// SubnetIDs are the subnets of the cluster's VPC configuration.
	SubnetIDs []string
	// SecurityGroups maps a stable logical name to the cluster security group ID.
	SecurityGroups map[string]pulumi.StringInput

	// Created is the cluster component in greenfield mode, nil otherwise.
	Created pulumi.Resource
}

// Ready lists what resources that act on the cluster must wait for: the
// created cluster, or nothing for an existing one.
func (f *Facts) Ready() []pulumi.Resource {
	if f.Created == nil {
		return nil
	}
	return []pulumi.Resource{f.Created}
}

type account struct{ id, region, partition, dnsSuffix string }

func lookupAccount(ctx *pulumi.Context) (account, error) {
	id, err := aws.GetCallerIdentity(ctx, nil)
	if err != nil {
		return account{}, fmt.Errorf("reading the AWS account of the current credentials: %w", err)
	}
	region, err := aws.GetRegion(ctx, nil)
	if err != nil {
		return account{}, fmt.Errorf("reading the AWS region (set aws:region): %w", err)
	}
	partition, err := aws.GetPartition(ctx, nil)
	if err != nil {
		return account{}, fmt.Errorf("reading the AWS partition: %w", err)
	}
	return account{id: id.AccountId, region: region.Name, partition: partition.Partition, dnsSuffix: partition.DnsSuffix}, nil
}

func clusterARN(a account, name string) string {
	return fmt.Sprintf("arn:%s:eks:%s:%s:cluster/%s", a.partition, a.region, a.id, name)
}

// Lookup reads the facts of an existing cluster. It registers no resources.
func Lookup(ctx *pulumi.Context, name string) (*Facts, error) {
	acct, err := lookupAccount(ctx)
	if err != nil {
		return nil, err
	}
	c, err := awseks.LookupCluster(ctx, &awseks.LookupClusterArgs{Name: name})
	if err != nil {
		return nil, fmt.Errorf("looking up EKS cluster %q in %s (check clusterName and aws:region): %w", name, acct.region, err)
	}
	if len(c.CertificateAuthorities) == 0 || c.Endpoint == "" {
		return nil, fmt.Errorf("EKS cluster %q has no endpoint yet (status %s)", name, c.Status)
	}
	issuer := ""
	if len(c.Identities) > 0 && len(c.Identities[0].Oidcs) > 0 {
		issuer = c.Identities[0].Oidcs[0].Issuer
	}
	authMode := AuthModeConfigMap // clusters created before access entries
	if len(c.AccessConfigs) > 0 && c.AccessConfigs[0].AuthenticationMode != "" {
		authMode = c.AccessConfigs[0].AuthenticationMode
	}
	config, err := kubeconfig.ForEKS(name, c.Endpoint, c.CertificateAuthorities[0].Data, acct.region)
	if err != nil {
		return nil, err
	}
	sgs := map[string]pulumi.StringInput{}
	if id := c.VpcConfig.ClusterSecurityGroupId; id != "" {
		sgs[id] = pulumi.String(id)
	}
	return &Facts{
		Name:                   name,
		ARN:                    clusterARN(acct, name),
		AccountID:              acct.id,
		Region:                 acct.region,
		Partition:              acct.partition,
		DNSSuffix:              acct.dnsSuffix,
		KubernetesVersion:      c.Version,
		Endpoint:               pulumi.String(c.Endpoint).ToStringOutput(),
		CertificateAuthority:   pulumi.String(c.CertificateAuthorities[0].Data).ToStringOutput(),
		Kubeconfig:             pulumi.String(config).ToStringOutput(),
		KubeconfigText:         config,
		AutoMode:               len(c.ComputeConfigs) > 0 && c.ComputeConfigs[0].Enabled,
		OIDCIssuerURL:          pulumi.String(issuer).ToStringOutput(),
		OIDCProviderARN:        pulumi.String(OIDCProviderARN(acct.partition, acct.id, issuer)).ToStringOutput(),
		AuthenticationMode:     authMode,
		VpcID:                  c.VpcConfig.VpcId,
		ClusterSecurityGroupID: c.VpcConfig.ClusterSecurityGroupId,
		SubnetIDs:              c.VpcConfig.SubnetIds,
		SecurityGroups:         sgs,
	}, nil
}

// OIDCProviderARN is the ARN IAM gives the OIDC provider of an issuer URL.
func OIDCProviderARN(partition, accountID, issuerURL string) string {
	return fmt.Sprintf("arn:%s:iam::%s:oidc-provider/%s", partition, accountID, strings.TrimPrefix(issuerURL, "https://"))
}

// PrivateSubnets picks the subnets Karpenter should launch GPU nodes into:
// those that neither assign public IPs nor carry the public load-balancer role tag.
func PrivateSubnets(ctx *pulumi.Context, ids []string) ([]string, error) {
	var private []string
	for _, id := range ids {
		s, err := ec2.LookupSubnet(ctx, &ec2.LookupSubnetArgs{Id: &id})
		if err != nil {
			return nil, fmt.Errorf("looking up the cluster's subnet %s: %w", id, err)
		}
		if _, public := s.Tags["kubernetes.io/role/elb"]; public || s.MapPublicIpOnLaunch {
			continue
		}
		private = append(private, id)
	}
	if len(private) == 0 {
		return nil, fmt.Errorf("none of the cluster's subnets (%s) looks private (each maps public IPs or is tagged kubernetes.io/role/elb); name the subnets for GPU nodes in discovery.subnetIds", strings.Join(ids, ", "))
	}
	sort.Strings(private)
	return private, nil
}

// Create makes a small EKS cluster for dev and test stacks: API
// authentication, an IAM OIDC provider and an AL2023 system node group for
// Karpenter and other add-ons.
func Create(ctx *pulumi.Context, name string, cfg *config.Stack, opts ...pulumi.ResourceOption) (*Facts, error) {
	acct, err := lookupAccount(ctx)
	if err != nil {
		return nil, err
	}
	noPublicIPs, skipDefaultNodes, apiAuth := false, false, eks.AuthenticationModeApi
	c, err := eks.NewCluster(ctx, name, &eks.ClusterArgs{
		Name:                         pulumi.String(cfg.ClusterName),
		Version:                      pulumi.String(cfg.Cluster.Version),
		VpcId:                        pulumi.String(cfg.Cluster.VpcID),
		PrivateSubnetIds:             pulumi.ToStringArray(cfg.Cluster.SubnetIDs),
		NodeAssociatePublicIpAddress: &noPublicIPs,
		SkipDefaultNodeGroup:         &skipDefaultNodes,
		AuthenticationMode:           &apiAuth,
		CreateOidcProvider:           pulumi.Bool(true),
		InstanceType:                 pulumi.String(cfg.Cluster.SystemNodeType),
		DesiredCapacity:              pulumi.Int(cfg.Cluster.SystemNodeCount),
		MinSize:                      pulumi.Int(cfg.Cluster.SystemNodeCount),
		MaxSize:                      pulumi.Int(cfg.Cluster.SystemNodeCount),
		NodeRootVolumeEncrypted:      pulumi.Bool(true),
		EndpointPrivateAccess:        pulumi.Bool(true),
		Tags:                         pulumi.ToStringMap(cfg.Tags),
	}, opts...)
	if err != nil {
		return nil, err
	}
	return &Facts{
		Name:              cfg.ClusterName,
		ARN:               clusterARN(acct, cfg.ClusterName),
		AccountID:         acct.id,
		Region:            acct.region,
		Partition:         acct.partition,
		DNSSuffix:         acct.dnsSuffix,
		KubernetesVersion: cfg.Cluster.Version,
		Endpoint:          c.Core.Endpoint(),
		// The component's kubeconfig carries the CA it reads from EKS.
		CertificateAuthority: c.KubeconfigJson.ApplyT(kubeconfig.CA).(pulumi.StringOutput),
		Kubeconfig:           c.KubeconfigJson,
		OIDCIssuerURL:        c.OidcProviderUrl,
		OIDCProviderARN:      c.OidcProviderArn,
		AuthenticationMode:   AuthModeAPI,
		VpcID:                cfg.Cluster.VpcID,
		SubnetIDs:            cfg.Cluster.SubnetIDs,
		SecurityGroups:       map[string]pulumi.StringInput{"cluster-security-group": c.ClusterSecurityGroupId},
		Created:              c,
	}, nil
}
