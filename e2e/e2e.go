// Package e2e holds what the end-to-end harness (e2e/harness) and the
// stand-in AWS provider (e2e/fakeaws) share.
package e2e

import "fmt"

// ClusterEnv names the environment variable through which the harness hands
// the stand-in AWS provider the fake cluster (a fakecloud.Cluster as JSON)
// whose endpoint and certificate authority are the local API server's.
const ClusterEnv = "KARPENTER_GPU_E2E_CLUSTER"

// AWSCLI is a stand-in for the AWS CLI that answers only `aws eks
// get-token` for the cluster, with a token the local API server accepts.
func AWSCLI(region, cluster, token string) string {
	return fmt.Sprintf(`#!/bin/sh
# Stand-in for the AWS CLI: only "eks get-token" for %[2]s in %[1]s.
case "$*" in
  "--region %[1]s eks get-token --cluster-name %[2]s --output json")
    printf '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"%[3]s"}}\n' ;;
  *) echo "aws stand-in: unexpected command: aws $*" >&2; exit 2 ;;
esac
`, region, cluster, token)
}
