package main

import (
	"context"
	"fmt"
	"reflect"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"karpenter-gpu/config"
)

// awsAuthUsers is a key of aws-auth the stack never touches.
const awsAuthUsers = `- userarn: arn:aws:iam::123456789012:user/ops
  username: ops
  groups:
    - system:masters
`

// awsAuth: on a cluster that admits nodes only through the aws-auth
// ConfigMap (nodeAccess: auto resolves to awsAuth), up merges the node role
// into the mapRoles someone else wrote and owns, keeping every entry and
// key; refresh and a second up change nothing; destroy keeps them all.
func (r *run) awsAuth(ctx context.Context, res *result) error {
	existing := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "aws-auth", Namespace: "kube-system"},
		Data:       map[string]string{"mapRoles": r.cluster.AwsAuthMapRoles, "mapUsers": awsAuthUsers},
	}
	// Written by another tool, which owns its fields.
	if _, err := r.client.CoreV1().ConfigMaps("kube-system").Create(ctx, existing, metav1.CreateOptions{FieldManager: "eksctl"}); err != nil {
		return err
	}
	before, err := snapshot(ctx, r.client.Discovery(), r.dyn)
	if err != nil {
		return err
	}
	cluster := r.cluster
	cluster.AuthenticationMode = "CONFIG_MAP"
	st, err := r.platformOn(ctx, "dev-aws-auth", cluster)
	if err != nil {
		return err
	}
	// A file that asks for access entries is refused on such a cluster, as
	// it should be; the same stack with aws-auth is what runs there.
	if r.under.config.NodeAccess == config.NodeAccessAccessEntry {
		if err := st.SetConfig(ctx, platformProject+":nodeAccess", auto.ConfigValue{Value: string(config.NodeAccessAwsAuth)}); err != nil {
			return err
		}
	}
	up, _, err := r.upOp(ctx, st, "up")
	if err != nil {
		return err
	}
	nodeRoleARN, _ := up.Outputs["nodeRoleArn"].Value.(string)
	merged, err := r.checkAwsAuth(ctx, nodeRoleARN)
	if err != nil {
		return err
	}
	if _, err := r.refreshAndUp(ctx, st); err != nil {
		return err
	}
	if err := r.destroyPlatform(ctx, st); err != nil {
		return err
	}
	// The node role's entry stays too: removing the patch would remove the
	// whole mapRoles value (see "Destroy" in the README).
	after, err := r.checkAwsAuth(ctx, nodeRoleARN)
	if err != nil {
		return fmt.Errorf("after destroy: %w", err)
	}
	if after != merged {
		return fmt.Errorf("destroy changed aws-auth's mapRoles from\n%s\nto\n%s", merged, after)
	}
	left, err := r.leftOver(ctx, before)
	res.awsAuthLeft = len(left)
	return err
}

// checkAwsAuth checks that aws-auth holds the entries it held before, in
// order, then exactly one node entry for the node role, and its other keys
// untouched; it returns mapRoles.
func (r *run) checkAwsAuth(ctx context.Context, nodeRoleARN string) (string, error) {
	cm, err := r.client.CoreV1().ConfigMaps("kube-system").Get(ctx, "aws-auth", metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	var want, got []map[string]any
	if err := yaml.Unmarshal([]byte(r.cluster.AwsAuthMapRoles), &want); err != nil {
		return "", err
	}
	if err := yaml.Unmarshal([]byte(cm.Data["mapRoles"]), &got); err != nil {
		return "", fmt.Errorf("aws-auth mapRoles is not YAML: %w", err)
	}
	node := map[string]any{"rolearn": nodeRoleARN, "username": "system:node:{{EC2PrivateDNSName}}", "groups": []any{"system:bootstrappers", "system:nodes"}}
	if len(got) != len(want)+1 || !reflect.DeepEqual(got[:len(want)], want) || !reflect.DeepEqual(got[len(want)], node) {
		return "", fmt.Errorf("aws-auth mapRoles is\n%s\nwant the existing entries\n%s\nthen one node entry for %s", cm.Data["mapRoles"], r.cluster.AwsAuthMapRoles, nodeRoleARN)
	}
	if cm.Data["mapUsers"] != awsAuthUsers {
		return "", fmt.Errorf("aws-auth mapUsers changed to\n%s", cm.Data["mapUsers"])
	}
	return cm.Data["mapRoles"], nil
}
