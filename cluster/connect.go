package cluster

import (
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"
)

// Connect opens a cluster's Kubernetes API from its kubeconfig. The program
// is handed one (stack.Options): the offline render and the tests hand it
// a fake cluster's.
type Connect func(kubeconfig string) (dynamic.Interface, error)

// ConnectWithKubeconfig connects as kubectl would with the kubeconfig.
func ConnectWithKubeconfig(kubeconfig string) (dynamic.Interface, error) {
	cfg, err := clientcmd.RESTConfigFromKubeConfig([]byte(kubeconfig))
	if err != nil {
		return nil, err
	}
	return dynamic.NewForConfig(cfg)
}
