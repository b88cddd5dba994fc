package cluster

import (
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// NewKubernetesProvider connects Kubernetes resources to the cluster.
func NewKubernetesProvider(ctx *pulumi.Context, name string, facts *Facts, opts ...pulumi.ResourceOption) (*kubernetes.Provider, error) {
	opts = append(opts, pulumi.DependsOn(facts.Ready()))
	return kubernetes.NewProvider(ctx, name, &kubernetes.ProviderArgs{
		Kubeconfig: facts.Kubeconfig,
	}, opts...)
}
