// Package kubeconfig writes and reads the kubeconfig of an EKS cluster as
// `aws eks update-kubeconfig` writes it: no credential, only the command
// that fetches a short-lived token. The stack connects to its cluster with
// it, and a consumer stack builds its own Kubernetes provider with it from
// the stack's outputs.
package kubeconfig

import (
	"encoding/base64"
	"encoding/json"
	"fmt"

	clientcmdv1 "k8s.io/client-go/tools/clientcmd/api/v1"
)

// ForEKS is the kubeconfig of cluster clusterName in region, at endpoint
// with the base64 CA bundle caData (as EKS returns it).
func ForEKS(clusterName, endpoint, caData, region string) (string, error) {
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

// CA is the CA bundle, base64, of a kubeconfig's first cluster.
func CA(kubeconfig string) (string, error) {
	var cfg clientcmdv1.Config
	if err := json.Unmarshal([]byte(kubeconfig), &cfg); err != nil {
		return "", fmt.Errorf("the cluster's kubeconfig: %w", err)
	}
	if len(cfg.Clusters) == 0 || len(cfg.Clusters[0].Cluster.CertificateAuthorityData) == 0 {
		return "", fmt.Errorf("the cluster's kubeconfig names no cluster with a certificate authority")
	}
	return base64.StdEncoding.EncodeToString(cfg.Clusters[0].Cluster.CertificateAuthorityData), nil
}
