// Package e2e holds what the end-to-end harness (e2e/harness) and the
// stand-in AWS provider (e2e/fakeaws) share.
package e2e

// ClusterEnv names the environment variable through which the harness hands
// the stand-in AWS provider the fake cluster (a fakecloud.Cluster as JSON)
// whose endpoint and certificate authority are the local API server's.
const ClusterEnv = "KARPENTER_GPU_E2E_CLUSTER"
