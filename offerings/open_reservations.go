package offerings

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// OpenReservation is an active On-Demand Capacity Reservation with open
// instance matching: any launch of its type in its zone that may use a
// reservation uses it.
type OpenReservation struct {
	ID, InstanceType, Zone, OwnerID string
	Available, Total                int
	Tags                            map[string]string
}

// OpenReservations lists the account's active open reservations of types
// in region. The AWS provider has no data source that lists reservations,
// and Cloud Control reads them only one ID at a time, so the stack asks
// EC2 itself.
type OpenReservations func(ctx context.Context, region string, types []string) ([]OpenReservation, error)

// EC2OpenReservations asks EC2 (DescribeCapacityReservations) with the
// AWS SDK's credentials: the environment's, or profile's ("" for the
// default), as the AWS provider finds them.
func EC2OpenReservations(profile string) OpenReservations {
	return func(ctx context.Context, region string, types []string) ([]OpenReservation, error) {
		// Without credentials the SDK tries the instance metadata service;
		// a preview should not wait long for that.
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(region)}
		if profile != "" {
			opts = append(opts, awsconfig.WithSharedConfigProfile(profile))
		}
		cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
		if err != nil {
			return nil, err
		}
		pages := ec2.NewDescribeCapacityReservationsPaginator(ec2.NewFromConfig(cfg), &ec2.DescribeCapacityReservationsInput{
			Filters: []ec2types.Filter{
				{Name: aws.String("state"), Values: []string{string(ec2types.CapacityReservationStateActive)}},
				{Name: aws.String("instance-match-criteria"), Values: []string{string(ec2types.InstanceMatchCriteriaOpen)}},
				{Name: aws.String("instance-type"), Values: types},
			},
		})
		var out []OpenReservation
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("ec2:DescribeCapacityReservations in %s: %w", region, err)
			}
			for _, r := range page.CapacityReservations {
				tags := map[string]string{}
				for _, t := range r.Tags {
					tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
				}
				out = append(out, OpenReservation{
					ID: aws.ToString(r.CapacityReservationId), InstanceType: aws.ToString(r.InstanceType), Zone: aws.ToString(r.AvailabilityZone),
					OwnerID: aws.ToString(r.OwnerId), Available: int(aws.ToInt32(r.AvailableInstanceCount)), Total: int(aws.ToInt32(r.TotalInstanceCount)), Tags: tags,
				})
			}
		}
		return out, nil
	}
}
