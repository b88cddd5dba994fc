package iam

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// SpotServiceLinkedRoleName is the account-wide role EC2 needs before it
// launches the account's first Spot instance.
const SpotServiceLinkedRoleName = "AWSServiceRoleForEC2Spot"

// SpotServiceLinkedRoleExists tells whether the account has the role.
func SpotServiceLinkedRoleExists(ctx *pulumi.Context) (bool, error) {
	_, err := iam.LookupRole(ctx, &iam.LookupRoleArgs{Name: SpotServiceLinkedRoleName})
	switch {
	case err == nil:
		return true, nil
	case strings.Contains(err.Error(), "NoSuchEntity"):
		return false, nil
	}
	return false, fmt.Errorf("looking up %s: %w", SpotServiceLinkedRoleName, err)
}

// SpotServiceLinkedRoleArgs says whether the role already exists.
type SpotServiceLinkedRoleArgs struct {
	Partition, AccountID string
	// Exists adopts the account's role instead of creating it.
	Exists bool
}

// NewSpotServiceLinkedRole makes sure the Spot service-linked role exists.
// It is account-wide, so destroy keeps it (other stacks and consoles use
// it). An existing role is adopted by import: on the next run the lookup
// finds the role this stack created or adopted, the import names the
// same role already in the state, and nothing changes.
func NewSpotServiceLinkedRole(ctx *pulumi.Context, name string, args *SpotServiceLinkedRoleArgs, opts ...pulumi.ResourceOption) (*iam.ServiceLinkedRole, error) {
	opts = append(opts, pulumi.RetainOnDelete(true))
	if args.Exists {
		opts = append(opts, pulumi.Import(pulumi.ID(fmt.Sprintf("arn:%s:iam::%s:role/aws-service-role/spot.amazonaws.com/%s", args.Partition, args.AccountID, SpotServiceLinkedRoleName))),
			// An import fails on any input that differs from the role as it
			// is; what the stack does not declare stays the account's.
			pulumi.IgnoreChanges([]string{"description", "customSuffix", "tags"}))
	}
	return iam.NewServiceLinkedRole(ctx, name, &iam.ServiceLinkedRoleArgs{
		AwsServiceName: pulumi.String("spot.amazonaws.com"),
	}, opts...)
}
