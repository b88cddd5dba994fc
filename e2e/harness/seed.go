package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"karpenter-gpu/catalog"
	"karpenter-gpu/internal/fakecloud"
)

// controllerSeed is the account the real controller meets (the JSON
// e2e/controller reads as its Seed): what the stack declared, read from its
// state, on top of the fake cluster, and what AWS itself publishes.
type controllerSeed struct {
	Region            string            `json:"region"`
	Account           string            `json:"account"`
	Partition         string            `json:"partition"`
	ClusterName       string            `json:"clusterName"`
	ClusterEndpoint   string            `json:"clusterEndpoint"`
	KubernetesVersion string            `json:"kubernetesVersion"`
	ServiceCIDR       string            `json:"serviceCIDR"`
	Roles             []string          `json:"roles"`
	SSMParameters     map[string]string `json:"ssmParameters"`

	Subnets              []ec2types.Subnet               `json:"subnets"`
	SecurityGroups       []ec2types.SecurityGroup        `json:"securityGroups"`
	Images               []ec2types.Image                `json:"images"`
	InstanceTypes        []ec2types.InstanceTypeInfo     `json:"instanceTypes"`
	Offerings            []ec2types.InstanceTypeOffering `json:"offerings"`
	CapacityReservations []ec2types.CapacityReservation  `json:"capacityReservations"`
	PlacementGroups      []ec2types.PlacementGroup       `json:"placementGroups"`
	InsufficientCapacity []CapacityPool                  `json:"insufficientCapacity"`
	QueueMessages        []QueueMessage                  `json:"queueMessages"`
	ImpairedInstances    []ImpairedInstance              `json:"impairedInstances"`
	Reclaims             []Reclaim                       `json:"reclaims"`
}

// QueueMessage is one message of the interruption queue.
type QueueMessage struct {
	ID   string `json:"id"`
	Body string `json:"body"`
}

// ImpairedInstance is an instance whose instance or system status check
// fails, since a time.
type ImpairedInstance struct {
	InstanceID string    `json:"instanceId"`
	Check      string    `json:"check"`
	Since      time.Time `json:"since"`
}

// Reclaim is an instance EC2 terminates at a time.
type Reclaim struct {
	InstanceID string    `json:"instanceId"`
	At         time.Time `json:"at"`
}

// CapacityPool is an instance type in a zone, bought as a capacity type.
type CapacityPool struct {
	CapacityType string `json:"capacityType"`
	InstanceType string `json:"instanceType"`
	Zone         string `json:"zone"`
}

// stateResource is a resource of a stack's checkpoint, as `pulumi stack
// export` prints it.
type stateResource struct {
	URN     string         `json:"urn"`
	Type    string         `json:"type"`
	Inputs  map[string]any `json:"inputs"`
	Outputs map[string]any `json:"outputs"`
}

// readState reads the stack's latest checkpoint from the file backend. It
// is the file the engine writes after every step, so it also shows what an
// update in progress has created so far, as AWS would.
func readState(backend, project, stack string) ([]stateResource, error) {
	raw, err := os.ReadFile(filepath.Join(backend, ".pulumi", "stacks", project, stack+".json"))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var cp struct {
		Checkpoint struct {
			Latest struct {
				Resources []stateResource `json:"resources"`
			} `json:"latest"`
		} `json:"checkpoint"`
	}
	if err := json.Unmarshal(raw, &cp); err != nil {
		return nil, fmt.Errorf("state of stack %s: %w", stack, err)
	}
	return cp.Checkpoint.Latest.Resources, nil
}

// seed is the account of the stack under test, as it is now.
func (r *run) seed() (controllerSeed, error) {
	r.active.Lock()
	name, cl, short, faults := r.active.stack, r.active.cluster, r.active.shortage, r.active.faults
	r.active.Unlock()
	state, err := readState(filepath.Join(r.engine.dir, "state"), platformProject, name)
	if err != nil {
		return controllerSeed{}, err
	}
	r.rememberPolicies(name, state)
	s := newSeed(cl, state, r.fixtures)
	s.InsufficientCapacity = short
	s.QueueMessages, s.ImpairedInstances, s.Reclaims = faults.messages, faults.impaired, faults.reclaims
	return s, nil
}

// newSeed is the account: the cluster's subnets and security group with
// their tags plus the tags the stack's aws:ec2/Tag resources set, the
// security groups and roles the stack created, the roles the account
// already has, the NVIDIA AMI parameters SSM publishes for the cluster's
// version (only those of the releases that cover it), every catalogue
// type offered in every zone of the cluster's subnets, and the
// reservations of the test account's fixture.
func newSeed(cl fakecloud.Cluster, state []stateResource, f fixtures) controllerSeed {
	s := controllerSeed{
		Region: cl.Region, Account: cl.AccountID, Partition: cl.Partition,
		ClusterName: cl.Name, ClusterEndpoint: cl.Endpoint, KubernetesVersion: cl.Version, ServiceCIDR: "10.96.0.0/16",
		SSMParameters: map[string]string{}, CapacityReservations: f.Reservations, PlacementGroups: f.PlacementGroups,
	}
	tags := map[string]map[string]string{}
	for _, sub := range cl.Subnets {
		t := map[string]string{"Name": sub.ID}
		maps.Copy(t, sub.Tags)
		tags[sub.ID] = t
	}
	tags[cl.SecurityGroupID] = maps.Clone(cl.SecurityGroupTags)
	roles := map[string]bool{}
	for name := range cl.Roles {
		roles[name] = true
	}
	for _, r := range state {
		switch r.Type {
		case "aws:ec2/tag:Tag":
			id, _ := r.Outputs["resourceId"].(string)
			key, _ := r.Outputs["key"].(string)
			value, _ := r.Outputs["value"].(string)
			if tags[id] == nil {
				tags[id] = map[string]string{}
			}
			tags[id][key] = value
		case "aws:ec2/securityGroup:SecurityGroup":
			id, _ := r.Outputs["id"].(string)
			name, _ := r.Outputs["name"].(string)
			t := map[string]string{}
			for k, v := range asMap(r.Outputs["tags"]) {
				t[k] = fmt.Sprint(v)
			}
			s.SecurityGroups = append(s.SecurityGroups, ec2types.SecurityGroup{GroupId: aws.String(id), GroupName: aws.String(name), VpcId: aws.String(cl.VpcID), Tags: ec2Tags(t)})
		case "aws:iam/role:Role":
			if name, _ := r.Outputs["name"].(string); name != "" {
				roles[name] = true
			}
		}
	}
	s.SecurityGroups = append(s.SecurityGroups, ec2types.SecurityGroup{
		GroupId: aws.String(cl.SecurityGroupID), GroupName: aws.String("eks-cluster-sg-" + cl.Name), VpcId: aws.String(cl.VpcID), Tags: ec2Tags(tags[cl.SecurityGroupID]),
	})
	for i := range s.SecurityGroups {
		if id := *s.SecurityGroups[i].GroupId; id != cl.SecurityGroupID && tags[id] != nil {
			merged := map[string]string{}
			for _, t := range s.SecurityGroups[i].Tags {
				merged[*t.Key] = *t.Value
			}
			maps.Copy(merged, tags[id])
			s.SecurityGroups[i].Tags = ec2Tags(merged)
		}
	}
	s.Roles = slices.Sorted(maps.Keys(roles))

	zones := map[string]bool{}
	for i, sub := range cl.Subnets {
		t := tags[sub.ID]
		if sub.Public {
			t["kubernetes.io/role/elb"] = "1"
		} else {
			t["kubernetes.io/role/internal-elb"] = "1"
		}
		s.Subnets = append(s.Subnets, ec2types.Subnet{
			SubnetId: aws.String(sub.ID), AvailabilityZone: aws.String(sub.Zone), AvailabilityZoneId: aws.String(zoneID(sub.Zone)),
			VpcId: aws.String(cl.VpcID), MapPublicIpOnLaunch: aws.Bool(sub.Public), AvailableIpAddressCount: aws.Int32(int32(4000 + i)),
			State: ec2types.SubnetStateAvailable, Tags: ec2Tags(t),
		})
		zones[sub.Zone] = true
	}

	for name, id := range fakecloud.NVIDIAImages(cl.Version) {
		s.SSMParameters[name] = id
		arch := "amd64"
		if strings.Contains(name, "arm64") || strings.Contains(name, "aarch64") {
			arch = "arm64"
		}
		s.Images = append(s.Images, ec2types.Image{
			ImageId: aws.String(id), Name: aws.String(filepath.Base(filepath.Dir(name))), Architecture: ec2Arch(arch),
			State: ec2types.ImageStateAvailable, OwnerId: aws.String("amazon"), CreationDate: aws.String("2026-06-10T00:00:00.000Z"),
		})
	}
	sort.Slice(s.Images, func(a, b int) bool { return *s.Images[a].ImageId < *s.Images[b].ImageId })

	for _, t := range catalog.InstanceTypes {
		// Fractional-GPU types report a GPU share EC2 describes apart;
		// the test account does not offer them.
		if t.GPUCount == 0 {
			continue
		}
		info := instanceTypeInfo(t)
		info.NetworkInfo = &ec2types.NetworkInfo{EfaSupported: aws.Bool(f.efaCapable[t.Name])}
		s.InstanceTypes = append(s.InstanceTypes, info)
		for _, z := range slices.Sorted(maps.Keys(zones)) {
			s.Offerings = append(s.Offerings, ec2types.InstanceTypeOffering{
				InstanceType: ec2types.InstanceType(t.Name), Location: aws.String(z), LocationType: ec2types.LocationTypeAvailabilityZone,
			})
		}
	}
	return s
}

// instanceTypeInfo is a catalogue row as EC2's DescribeInstanceTypes
// reports it; the controller completes the network facts from Karpenter's
// own table.
func instanceTypeInfo(t catalog.InstanceType) ec2types.InstanceTypeInfo {
	return ec2types.InstanceTypeInfo{
		InstanceType:          ec2types.InstanceType(t.Name),
		CurrentGeneration:     aws.Bool(true),
		SupportedUsageClasses: []ec2types.UsageClassType{ec2types.UsageClassTypeOnDemand, ec2types.UsageClassTypeSpot},
		ProcessorInfo:         &ec2types.ProcessorInfo{SupportedArchitectures: []ec2types.ArchitectureType{ec2types.ArchitectureType(ec2Arch(t.Arch))}},
		VCpuInfo:              &ec2types.VCpuInfo{DefaultVCpus: aws.Int32(int32(t.VCPUs))},
		MemoryInfo:            &ec2types.MemoryInfo{SizeInMiB: aws.Int64(int64(t.MemoryMi))},
		GpuInfo: &ec2types.GpuInfo{
			Gpus: []ec2types.GpuDeviceInfo{{
				Name: aws.String(t.GPUName), Manufacturer: aws.String("NVIDIA"), Count: aws.Int32(int32(t.GPUCount)),
				MemoryInfo: &ec2types.GpuDeviceMemoryInfo{SizeInMiB: aws.Int32(int32(t.GPUMemoryMi))},
			}},
			TotalGpuMemoryInMiB: aws.Int32(int32(t.GPUCount * t.GPUMemoryMi)),
		},
		EbsInfo: &ec2types.EbsInfo{EbsOptimizedSupport: ec2types.EbsOptimizedSupportDefault, EncryptionSupport: ec2types.EbsEncryptionSupportSupported},
		// Every current-generation GPU type supports every strategy.
		PlacementGroupInfo: &ec2types.PlacementGroupInfo{SupportedStrategies: []ec2types.PlacementGroupStrategy{
			ec2types.PlacementGroupStrategyCluster, ec2types.PlacementGroupStrategyPartition, ec2types.PlacementGroupStrategySpread,
		}},
	}
}

func ec2Arch(arch string) ec2types.ArchitectureValues {
	if arch == "arm64" {
		return ec2types.ArchitectureValuesArm64
	}
	return ec2types.ArchitectureValuesX8664
}

func ec2Tags(m map[string]string) []ec2types.Tag {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]ec2types.Tag, 0, len(keys))
	for _, k := range keys {
		out = append(out, ec2types.Tag{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return out
}

// zoneID is an availability zone's ID as EC2 names it (usw2-az1 for
// us-west-2a, and so on).
func zoneID(zone string) string {
	region, letter := zone[:len(zone)-1], zone[len(zone)-1]
	parts := strings.Split(region, "-")
	short := parts[0]
	for _, p := range parts[1 : len(parts)-1] {
		short += p[:1]
	}
	return fmt.Sprintf("%s%s-az%d", short, parts[len(parts)-1], letter-'a'+1)
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}
