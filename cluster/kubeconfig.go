package cluster

import (
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	clientcmdv1 "k8s.io/client-go/tools/clientcmd/api/v1"
)

// Kubeconfig is the kubeconfig `aws eks update-kubeconfig` would write: it
// holds no credential, only the command that fetches a short-lived token.
func Kubeconfig(clusterName, endpoint, caData, region string) (string, error) {
	ca, err := base64.StdEncoding.DecodeString(caData)
	if err != nil {
		return "", fmt.Errorf("cluster %s: certificate authority is not base64: %w", clusterName, err)
	}
	cfg := clientcmdv1.Config{
		APIVersion:     "v1",
		Kind:           "Config",
		CurrentContext: clusterName,
		Clusters: []clientcmdv1.NamedCluster{{
			Name:    clusterName,
			Cluster: clientcmdv1.Cluster{Server: endpoint, CertificateAuthorityData: ca},
		}},
		Contexts: []clientcmdv1.NamedContext{{
			Name:    clusterName,
			Context: clientcmdv1.Context{Cluster: clusterName, AuthInfo: clusterName},
		}},
		AuthInfos: []clientcmdv1.NamedAuthInfo{{
			Name: clusterName,
			AuthInfo: clientcmdv1.AuthInfo{Exec: &clientcmdv1.ExecConfig{
				APIVersion:      "client.authentication.k8s.io/v1beta1",
				Command:         "aws",
				Args:            []string{"--region", region, "eks", "get-token", "--cluster-name", clusterName, "--output", "json"},
				InteractiveMode: clientcmdv1.NeverExecInteractiveMode,
			}},
		}},
	}
	out, err := json.Marshal(cfg)
	return string(out), err
}

// kubeconfigCA is the CA bundle, base64, of a kubeconfig's first cluster.
func kubeconfigCA(kubeconfig string) (string, error) {
	var cfg clientcmdv1.Config
	if err := json.Unmarshal([]byte(kubeconfig), &cfg); err != nil {
		return "", fmt.Errorf("the cluster's kubeconfig: %w", err)
	}
	if len(cfg.Clusters) == 0 || len(cfg.Clusters[0].Cluster.CertificateAuthorityData) == 0 {
		return "", fmt.Errorf("the cluster's kubeconfig names no cluster with a certificate authority")
	}
	return base64.StdEncoding.EncodeToString(cfg.Clusters[0].Cluster.CertificateAuthorityData), nil
}

// NewKubernetesProvider connects Kubernetes resources to the cluster.
func NewKubernetesProvider(ctx *pulumi.Context, name string, facts *Facts, opts ...pulumi.ResourceOption) (*kubernetes.Provider, error) {
	opts = append(opts, pulumi.DependsOn(facts.Ready()))
	return kubernetes.NewProvider(ctx, name, &kubernetes.ProviderArgs{
		Kubeconfig: facts.Kubeconfig,
	}, opts...)
}
