package offerings

import (
	"encoding/json"
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudcontrol"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Reservation is where an EC2 capacity reservation lies and what it holds.
type Reservation struct {
	ID           string
	Zone         string
	InstanceType string
}

// ReadReservation reads a capacity reservation by ID. The AWS provider has
// no data source for one, so it asks the Cloud Control API, which reads it
// with ec2:DescribeCapacityReservations.
func ReadReservation(ctx *pulumi.Context, id string) (Reservation, error) {
	var props struct {
		AvailabilityZone string `json:"AvailabilityZone"`
		InstanceType     string `json:"InstanceType"`
	}
	if err := readCloudControl(ctx, "AWS::EC2::CapacityReservation", id, &props); err != nil {
		return Reservation{}, err
	}
	return Reservation{ID: id, Zone: props.AvailabilityZone, InstanceType: props.InstanceType}, nil
}

// ReadPlacementGroupStrategy reads a placement group by name and returns
// its strategy (cluster, partition or spread).
func ReadPlacementGroupStrategy(ctx *pulumi.Context, name string) (string, error) {
	var props struct {
		Strategy string `json:"Strategy"`
	}
	if err := readCloudControl(ctx, "AWS::EC2::PlacementGroup", name, &props); err != nil {
		return "", err
	}
	return props.Strategy, nil
}

func readCloudControl(ctx *pulumi.Context, typeName, id string, into any) error {
	res, err := cloudcontrol.LookupResource(ctx, &cloudcontrol.LookupResourceArgs{TypeName: typeName, Identifier: id})
	if err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(res.Properties), into); err != nil {
		return fmt.Errorf("reading %s %s: %w", typeName, id, err)
	}
	return nil
}
