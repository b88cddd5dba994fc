// Package fakecloud answers the Pulumi engine's mock calls with the facts of
// a realistic EKS cluster and records every resource the program registers,
// so that tests and the offline render run the real program without AWS.
package fakecloud

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Subnet is one subnet of the cluster's VPC configuration.
type Subnet struct {
	ID     string
	Zone   string
	Public bool
	// Tags besides the load-balancer role tag that Public implies.
	Tags map[string]string
}

// Cluster is the account, region and EKS cluster the fake cloud serves.
type Cluster struct {
	AccountID string
	Region    string
	Partition string

	Name                 string
	Endpoint             string
	CertificateAuthority string // base64, as EKS returns it
	Version              string
	OIDCIssuer           string
	VpcID                string
	SecurityGroupID      string
	AuthenticationMode   string
	Subnets              []Subnet
	// AwsAuthMapRoles is the mapRoles of the cluster's aws-auth ConfigMap.
	AwsAuthMapRoles string
	// SecurityGroupTags are the cluster security group's tags.
	SecurityGroupTags map[string]string
	// Addons are the EKS add-ons the cluster runs.
	Addons []string
	// AddonsUnknown: describe-cluster lists no add-ons, and none were
	// given; reading one is "not known offline".
	AddonsUnknown bool
	// AddonValues and AddonTags are the configuration values and tags of
	// those that have any.
	AddonValues map[string]string
	AddonTags   map[string]map[string]string
	// SpotServiceLinkedRole tells whether the account has AWSServiceRoleForEC2Spot.
	SpotServiceLinkedRole bool
	// AutoMode is EKS Auto Mode (describe-cluster's computeConfig.enabled).
	AutoMode bool
	// Karpenter is a Karpenter someone else installed; nil for none.
	Karpenter *Karpenter
	// Quotas are the account's EC2 vCPU quotas by Service Quotas code.
	Quotas map[string]float64
	// OnlyCluster: the cluster is known (from describe-cluster) and the
	// account around it is not, so its quotas cannot be read.
	OnlyCluster bool
	// NotOffered are the zones in which EC2 does not offer an instance
	// type, by type; every catalogue type is offered everywhere else.
	NotOffered map[string][]string
	// GPUs replace what EC2 says of an instance type's GPUs, by type;
	// other types are described as the catalogue has them.
	GPUs map[string][]GPU
	// EFA replaces the most EFA interfaces EC2 says a type takes (0: no
	// EFA), by type; other types take one per network card, as the
	// catalogue's cards (the pinned module's) number them.
	EFA map[string]int
	// Prices are the region's on-demand prices by type, as the Price List
	// API answers; nil: the catalogue's us-east-1 list prices in us-east-1,
	// us-east-2 and us-west-2 (which share EC2's on-demand prices), none
	// elsewhere.
	Prices map[string]float64
	// CapacityReservations are the account's capacity reservations by ID,
	// PlacementGroups its placement groups' strategies by name. With
	// OnlyCluster, any reservation or placement group asked for is taken as
	// existing (in a zone as unknown as the subnets').
	CapacityReservations map[string]Reservation
	PlacementGroups      map[string]string
	// Roles are IAM roles of the account by name, with their path and name
	// as in their ARN (e.g. "KarpenterNodeRole-ml-prod").
	Roles map[string]string
}

// GPU is one GPU model of an instance type, as EC2 describes it.
type GPU struct {
	Name, Manufacturer string
	Count, MemoryMi    int
}

// Reservation is one capacity reservation: targeted unless Open (any
// launch of its type in its zone may use it), with its free instances.
type Reservation struct {
	Zone, InstanceType string
	Open               bool
	Available, Total   int
}

// DNSSuffix is the partition's domain, as aws.GetPartition reports it.
func (c Cluster) DNSSuffix() string {
	if c.Partition == "aws-cn" {
		return "amazonaws.com.cn"
	}
	return "amazonaws.com"
}

// exampleCA is a base64-encoded placeholder certificate authority.
const exampleCA = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJkekNDQVIyZ0F3SUJBZ0lCQURBS0JnZ3Foa2pPUFFRREFqQWpNU0V3SHdZRFZRUUREQmhyTTNNdGMyVnkKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo="

// Example is a typical production cluster: three private and three public
// subnets over three zones, API_AND_CONFIG_MAP authentication, and an
// aws-auth ConfigMap that already maps a managed node group and an admin role.
func Example(name string) Cluster {
	return Cluster{
		AccountID:            "123456789012",
		Region:               "us-west-2",
		Partition:            "aws",
		Name:                 name,
		Endpoint:             "https://0123456789ABCDEF0123456789ABCDEF.gr7.us-west-2.eks.amazonaws.com",
		CertificateAuthority: exampleCA,
		Version:              "1.34",
		OIDCIssuer:           "https://oidc.eks.us-west-2.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF",
		VpcID:                "vpc-0a1b2c3d4e5f60718",
		SecurityGroupID:      "sg-0c1d2e3f405162738",
		AuthenticationMode:   "API_AND_CONFIG_MAP",
		SecurityGroupTags: map[string]string{
			"Name": "eks-cluster-sg-" + name, "kubernetes.io/cluster/" + name: "owned",
		},
		Addons:                []string{"coredns", "eks-pod-identity-agent", "kube-proxy", "vpc-cni"},
		SpotServiceLinkedRole: true,
		// G and VT raised for inference, P still at a new account's zero.
		Quotas: map[string]float64{"L-DB2E81BA": 384, "L-3819A6DF": 384, "L-417A185B": 0, "L-7212CCBC": 0},
		// The training placement groups of the examples, and an H100
		// reservation in each of two zones.
		PlacementGroups: map[string]string{"training": "cluster", name + "-training": "cluster"},
		CapacityReservations: map[string]Reservation{
			"cr-0a1b2c3d4e5f60718": {Zone: "us-west-2a", InstanceType: "p5.48xlarge"},
			"cr-0b2c3d4e5f6071829": {Zone: "us-west-2b", InstanceType: "p5.48xlarge"},
			// Bought for an earlier inference service, open, half idle.
			"cr-0c3d4e5f607182930": {Zone: "us-west-2a", InstanceType: "g6.xlarge", Open: true, Available: 2, Total: 4},
		},
		Subnets: []Subnet{
			{ID: "subnet-0aa11bb22cc33dd44", Zone: "us-west-2a"},
			{ID: "subnet-0bb22cc33dd44ee55", Zone: "us-west-2b"},
			{ID: "subnet-0cc33dd44ee55ff66", Zone: "us-west-2c"},
			{ID: "subnet-0dd44ee55ff660077", Zone: "us-west-2a", Public: true},
			{ID: "subnet-0ee55ff6600778899", Zone: "us-west-2b", Public: true},
			{ID: "subnet-0ff6600778899aabb", Zone: "us-west-2c", Public: true},
		},
		AwsAuthMapRoles: `- rolearn: arn:aws:iam::123456789012:role/system-nodes-NodeInstanceRole
  username: system:node:{{EC2PrivateDNSName}}
  groups:
    - system:bootstrappers
    - system:nodes
- rolearn: arn:aws:iam::123456789012:role/platform-admins
  username: platform-admin
  groups:
    - system:masters
`,
	}
}

// ExampleIn is the example cluster named name in region (the example's own
// region when empty): a stack file's cluster, as an account would hold it.
func ExampleIn(name, region string) Cluster {
	c := Example(name)
	if region == "" || region == c.Region {
		return c
	}
	from := c.Region
	c.Region = region
	c.Endpoint = strings.ReplaceAll(c.Endpoint, from, region)
	c.OIDCIssuer = strings.ReplaceAll(c.OIDCIssuer, from, region)
	for i := range c.Subnets {
		c.Subnets[i].Zone = strings.ReplaceAll(c.Subnets[i].Zone, from, region)
	}
	for id, r := range c.CapacityReservations {
		r.Zone = strings.ReplaceAll(r.Zone, from, region)
		c.CapacityReservations[id] = r
	}
	return c
}

// describeCluster is the part of `aws eks describe-cluster` output used here.
type describeCluster struct {
	Cluster struct {
		Name                 string `json:"name"`
		Arn                  string `json:"arn"`
		Endpoint             string `json:"endpoint"`
		Version              string `json:"version"`
		CertificateAuthority struct {
			Data string `json:"data"`
		} `json:"certificateAuthority"`
		Identity struct {
			OIDC struct {
				Issuer string `json:"issuer"`
			} `json:"oidc"`
		} `json:"identity"`
		ResourcesVpcConfig struct {
			SubnetIDs              []string `json:"subnetIds"`
			ClusterSecurityGroupID string   `json:"clusterSecurityGroupId"`
			VpcID                  string   `json:"vpcId"`
		} `json:"resourcesVpcConfig"`
		AccessConfig struct {
			AuthenticationMode string `json:"authenticationMode"`
		} `json:"accessConfig"`
		ComputeConfig struct {
			Enabled bool `json:"enabled"`
		} `json:"computeConfig"`
	} `json:"cluster"`
}

// FromDescribeCluster reads the JSON `aws eks describe-cluster` prints. The
// account and region come from the cluster ARN. describe-cluster does not say
// which subnets are public, so all are taken as private: name the right ones
// in discovery.subnetIds if the cluster also spans public subnets.
func FromDescribeCluster(data []byte) (Cluster, error) {
	var d describeCluster
	if err := json.Unmarshal(data, &d); err != nil {
		return Cluster{}, fmt.Errorf("not the JSON of `aws eks describe-cluster`: %w", err)
	}
	c := d.Cluster
	// arn:PARTITION:eks:REGION:ACCOUNT:cluster/NAME
	arn := strings.Split(c.Arn, ":")
	var missing []string
	for _, f := range []struct {
		field string
		ok    bool
	}{
		{"cluster.name", c.Name != ""}, {"cluster.arn (arn:PARTITION:eks:REGION:ACCOUNT:cluster/NAME)", len(arn) == 6},
		{"cluster.endpoint", c.Endpoint != ""}, {`cluster.version (its Kubernetes minor version, "1.35")`, c.Version != ""},
		{"cluster.resourcesVpcConfig.vpcId", c.ResourcesVpcConfig.VpcID != ""},
		{"cluster.resourcesVpcConfig.subnetIds", len(c.ResourcesVpcConfig.SubnetIDs) > 0},
	} {
		if !f.ok {
			missing = append(missing, f.field)
		}
	}
	if len(missing) > 0 {
		return Cluster{}, fmt.Errorf("the cluster file lacks %s: save it with `aws eks describe-cluster --name NAME > cluster.json`, or start from examples/cluster.json", strings.Join(missing, ", "))
	}
	out := Cluster{
		Partition:            arn[1],
		Region:               arn[3],
		AccountID:            arn[4],
		Name:                 c.Name,
		Endpoint:             c.Endpoint,
		CertificateAuthority: c.CertificateAuthority.Data,
		Version:              c.Version,
		OIDCIssuer:           c.Identity.OIDC.Issuer,
		VpcID:                c.ResourcesVpcConfig.VpcID,
		SecurityGroupID:      c.ResourcesVpcConfig.ClusterSecurityGroupID,
		AuthenticationMode:   c.AccessConfig.AuthenticationMode,
		AutoMode:             c.ComputeConfig.Enabled,
		OnlyCluster:          true,
		AddonsUnknown:        true,
	}
	for _, id := range c.ResourcesVpcConfig.SubnetIDs {
		out.Subnets = append(out.Subnets, Subnet{ID: id})
	}
	return out, nil
}
