package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"sigs.k8s.io/yaml"

	"karpenter-gpu/config"
	"karpenter-gpu/internal/fakecloud"
	"karpenter-gpu/wellknown"
)

// fixtures are what a stack file references in the test account that the
// stack does not create: a capacity reservation for each reservation
// selector term of a node class, and each placement group it names.
type fixtures struct {
	Reservations    []ec2types.CapacityReservation
	PlacementGroups []ec2types.PlacementGroup
	// reservedFor are the reservation IDs by node class.
	reservedFor map[string][]string
	// efaCapable are the instance types EC2 reports EFA support for: the
	// list the upstream EFA device plugin chart carries.
	efaCapable map[string]bool
}

// reservedInstances is how many instances each fixture reservation holds.
const reservedInstances = 2

// accountFixtures derives the fixtures from the stack's configuration and
// the pools' plans (render's outputs.json): a reservation holds the first
// instance type a pool of the class that buys reserved capacity may
// launch, in the zone of the class's first subnet.
func accountFixtures(cfg *config.Stack, cl fakecloud.Cluster, rendered, efaChart string) (fixtures, error) {
	f := fixtures{reservedFor: map[string][]string{}, efaCapable: map[string]bool{}}
	values, err := os.ReadFile(filepath.Join(efaChart, "aws-efa-k8s-device-plugin", "values.yaml"))
	if err != nil {
		return f, err
	}
	var chart struct {
		SupportedInstanceLabels struct {
			Values []string `json:"values"`
		} `json:"supportedInstanceLabels"`
	}
	if err := yaml.Unmarshal(values, &chart); err != nil {
		return f, fmt.Errorf("the EFA device plugin chart's values: %w", err)
	}
	for _, t := range chart.SupportedInstanceLabels.Values {
		f.efaCapable[t] = true
	}
	raw, err := os.ReadFile(filepath.Join(rendered, "outputs.json"))
	if err != nil {
		return f, err
	}
	var outputs struct {
		GPUPools map[string]poolOutput `json:"gpuPools"`
	}
	if err := json.Unmarshal(raw, &outputs); err != nil {
		return f, fmt.Errorf("render's outputs.json: %w", err)
	}
	for _, nc := range cfg.NodeClasses {
		zone := cl.Subnets[0].Zone
		for _, s := range cl.Subnets {
			if len(nc.SubnetIDs) > 0 && s.ID == nc.SubnetIDs[0] {
				zone = s.Zone
			}
		}
		if pg := nc.PlacementGroup; pg.Name != "" || pg.ID != "" {
			id := pg.ID
			if id == "" {
				id = fixtureID("pg", pg.Name)
			}
			name := pg.Name
			if name == "" {
				name = id
			}
			f.PlacementGroups = append(f.PlacementGroups, ec2types.PlacementGroup{
				GroupId: aws.String(id), GroupName: aws.String(name), Strategy: ec2types.PlacementStrategyCluster,
				State: ec2types.PlacementGroupStateAvailable, GroupArn: aws.String(fmt.Sprintf("arn:%s:ec2:%s:%s:placement-group/%s", cl.Partition, cl.Region, cl.AccountID, name)),
			})
		}
		instanceType := ""
		for _, name := range slices.Sorted(maps.Keys(outputs.GPUPools)) {
			p := outputs.GPUPools[name]
			if instanceType == "" && p.NodeClass == nc.Name && slices.Contains(p.CapacityTypes, wellknown.CapacityTypeReserved) && len(p.InstanceTypes) > 0 {
				instanceType = p.InstanceTypes[0]
			}
		}
		for i, term := range nc.CapacityReservations {
			if instanceType == "" {
				break
			}
			id := term.ID
			if id == "" {
				id = fixtureID("cr", fmt.Sprint(nc.Name, i))
			}
			owner := term.OwnerID
			if owner == "" {
				owner = cl.AccountID
			}
			match := ec2types.InstanceMatchCriteriaTargeted
			if term.InstanceMatchCriteria != "" {
				match = ec2types.InstanceMatchCriteria(term.InstanceMatchCriteria)
			}
			var tags []ec2types.Tag
			for _, k := range slices.Sorted(maps.Keys(term.Tags)) {
				tags = append(tags, ec2types.Tag{Key: aws.String(k), Value: aws.String(term.Tags[k])})
			}
			f.Reservations = append(f.Reservations, ec2types.CapacityReservation{
				CapacityReservationId:  aws.String(id),
				CapacityReservationArn: aws.String(fmt.Sprintf("arn:%s:ec2:%s:%s:capacity-reservation/%s", cl.Partition, cl.Region, owner, id)),
				OwnerId:                aws.String(owner),
				InstanceType:           aws.String(instanceType),
				AvailabilityZone:       aws.String(zone),
				InstancePlatform:       ec2types.CapacityReservationInstancePlatformLinuxUnix,
				Tenancy:                ec2types.CapacityReservationTenancyDefault,
				InstanceMatchCriteria:  match,
				State:                  ec2types.CapacityReservationStateActive,
				ReservationType:        ec2types.CapacityReservationTypeDefault,
				TotalInstanceCount:     aws.Int32(reservedInstances),
				AvailableInstanceCount: aws.Int32(reservedInstances),
				Tags:                   tags,
			})
			f.reservedFor[nc.Name] = append(f.reservedFor[nc.Name], id)
		}
	}
	return f, nil
}

func fixtureID(prefix, name string) string {
	sum := sha256.Sum256([]byte(name))
	return prefix + "-" + hex.EncodeToString(sum[:])[:17]
}
