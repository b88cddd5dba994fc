package iam

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// ExistingRoleARN looks up a role the stack uses but does not manage.
func ExistingRoleARN(ctx *pulumi.Context, name string) (string, error) {
	r, err := iam.LookupRole(ctx, &iam.LookupRoleArgs{Name: name})
	if err != nil {
		return "", fmt.Errorf("no such IAM role: %w", err)
	}
	return r.Arn, nil
}
