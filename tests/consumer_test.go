package tests

import (
	"encoding/base64"
	"encoding/json"
	"reflect"
	"strings"
	"sync"
	"testing"

	clientcmdv1 "k8s.io/client-go/tools/clientcmd/api/v1"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	appsv1 "k8s.io/api/apps/v1"
	policyv1 "k8s.io/api/policy/v1"

	"karpenter-gpu/examples/gpu-workload/workload"
	"karpenter-gpu/internal/placement"
	"karpenter-gpu/wellknown"
)

// consumer answers the example's StackReference with a platform stack's
// outputs and records the Deployment and PodDisruptionBudget it declares.
type consumer struct {
	outputs    map[string]any
	mu         sync.Mutex
	deployment map[string]any
	budget     map[string]any
	// kubeconfig is the example's own Kubernetes provider's; providers are
	// the providers its Deployment and PodDisruptionBudget name.
	kubeconfig string
	providers  []string
}

func (c *consumer) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	switch args.TypeToken {
	case "pulumi:pulumi:StackReference":
		return args.Name, resource.NewPropertyMapFromMap(map[string]any{
			"name": args.Name, "outputs": c.outputs, "secretOutputNames": []any{},
		}), nil
	case "pulumi:providers:kubernetes":
		c.mu.Lock()
		c.kubeconfig, _ = args.Inputs.Mappable()["kubeconfig"].(string)
		c.mu.Unlock()
	case "kubernetes:apps/v1:Deployment":
		c.mu.Lock()
		c.deployment = args.Inputs.Mappable()
		c.providers = append(c.providers, args.Provider)
		c.mu.Unlock()
	case "kubernetes:policy/v1:PodDisruptionBudget":
		c.mu.Lock()
		c.budget = args.Inputs.Mappable()
		c.providers = append(c.providers, args.Provider)
		c.mu.Unlock()
	}
	return args.Name + "-id", args.Inputs, nil
}

func (c *consumer) Call(pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return resource.PropertyMap{}, nil
}

// served is what examples/gpu-workload declares for a pool.
type served struct {
	deployment appsv1.Deployment
	budget     policyv1.PodDisruptionBudget
}

// deployWorkload runs examples/gpu-workload against the outputs for pool.
func deployWorkload(t *testing.T, outputs map[string]any, pool string) (served, error) {
	t.Helper()
	cfg := map[string]string{"gpu-workload:platformStack": "my-org/karpenter-gpu/dev", "gpu-workload:pool": pool}
	c := &consumer{outputs: outputs}
	err := pulumi.RunErr(workload.Program, pulumi.WithMocks("gpu-workload", "dev", c), func(info *pulumi.RunInfo) { info.Config = cfg })
	var s served
	for from, to := range map[*map[string]any]any{&c.deployment: &s.deployment, &c.budget: &s.budget} {
		if *from == nil {
			continue
		}
		raw, _ := json.Marshal(*from)
		if err := json.Unmarshal(raw, to); err != nil {
			t.Fatal(err)
		}
	}
	return s, err
}

// The outputs are a contract: for every pool of the committed stacks, the
// example consumer built from nothing but gpuPools[pool] lands on the node
// that pool produces, tainted or not.
func TestConsumerLandsOnEveryPool(t *testing.T) {
	t.Parallel()
	for _, file := range []string{"../Pulumi.dev.yaml", "../Pulumi.prod.yaml.example"} {
		cloud, outputs := runStackFileOutputs(t, file)
		pools := byType(cloud, typeNodePool)
		if len(pools) == 0 {
			t.Fatalf("%s: no pools", file)
		}
		for _, np := range pools {
			name := np.Inputs["metadata"].(map[string]any)["name"].(string)
			t.Run(file+"/"+name, func(t *testing.T) {
				s, err := deployWorkload(t, outputs, name)
				if err != nil {
					t.Fatal(err)
				}
				spec := s.deployment.Spec.Template.Spec
				// Serving stays up through a drain as servingProtection says:
				// two replicas on two nodes, a budget Karpenter's drains
				// honour, and no do-not-disrupt, which would strand a replica.
				if _, held := s.deployment.Spec.Template.Annotations[wellknown.DoNotDisruptAnnotation]; held {
					t.Errorf("the serving pods carry %s: no replacement is launched for them", wellknown.DoNotDisruptAnnotation)
				}
				spread := spec.TopologySpreadConstraints
				if r := s.deployment.Spec.Replicas; r == nil || *r < 2 || len(spread) != 1 || spread[0].TopologyKey != "kubernetes.io/hostname" || spread[0].MaxSkew != 1 {
					t.Errorf("replicas %v spread %+v: want at least two, one per node", s.deployment.Spec.Replicas, spread)
				}
				if mu := s.budget.Spec.MaxUnavailable; mu == nil || mu.IntValue() != 1 || !reflect.DeepEqual(s.budget.Spec.Selector.MatchLabels, s.deployment.Spec.Template.Labels) {
					t.Errorf("PodDisruptionBudget %+v does not keep all but one of the replicas %v", s.budget.Spec, s.deployment.Spec.Template.Labels)
				}
				node, err := placement.Node(object(np))
				if err != nil {
					t.Fatal(err)
				}
				if ok, err := placement.Fits(spec, node); err != nil || !ok {
					t.Errorf("the workload (selector %v, tolerations %v) does not fit pool %s's node (labels %v, taints %v)",
						spec.NodeSelector, spec.Tolerations, name, node.Labels, node.Spec.Taints)
				}
				limit := spec.Containers[0].Resources.Limits
				if q, ok := limit["nvidia.com/gpu"]; !ok || q.Value() != 1 {
					t.Errorf("limits = %v", limit)
				}
				// It must not land on another pool's nodes.
				for _, other := range pools {
					if other.URN == np.URN {
						continue
					}
					otherNode, _ := placement.Node(object(other))
					if ok, _ := placement.Fits(spec, otherNode); ok {
						t.Errorf("the workload for %s also fits pool %s", name, other.Name)
					}
				}
			})
		}
	}
}

func TestConsumerNamesTheAvailablePools(t *testing.T) {
	t.Parallel()
	_, outputs := runStackFileOutputs(t, "../Pulumi.prod.yaml.example")
	_, err := deployWorkload(t, outputs, "cheap")
	if err == nil || !strings.Contains(err.Error(), `pool "cheap" is not one of the platform's GPU pools: inference, training`) {
		t.Fatalf("err = %v", err)
	}
}

// The example connects to the platform's cluster from the platform's
// outputs alone: its own Kubernetes provider, whose kubeconfig holds the
// cluster's endpoint, CA and region and fetches a token with aws eks
// get-token, and every workload resource uses it.
func TestConsumerConnectsFromTheOutputs(t *testing.T) {
	t.Parallel()
	_, outputs := runStackFileOutputs(t, "../Pulumi.dev.yaml")
	c := &consumer{outputs: outputs}
	cfg := map[string]string{"gpu-workload:platformStack": "my-org/karpenter-gpu/dev", "gpu-workload:pool": "inference"}
	if err := pulumi.RunErr(workload.Program, pulumi.WithMocks("gpu-workload", "dev", c), func(info *pulumi.RunInfo) { info.Config = cfg }); err != nil {
		t.Fatal(err)
	}
	var kc clientcmdv1.Config
	if err := json.Unmarshal([]byte(c.kubeconfig), &kc); err != nil || len(kc.Clusters) != 1 || len(kc.AuthInfos) != 1 || kc.AuthInfos[0].AuthInfo.Exec == nil {
		t.Fatalf("the example's provider has no EKS kubeconfig (%v): %q", err, c.kubeconfig)
	}
	ca, _ := base64.StdEncoding.DecodeString(outputs["clusterCertificateAuthority"].(string))
	if kc.Clusters[0].Cluster.Server != outputs["clusterEndpoint"] || string(kc.Clusters[0].Cluster.CertificateAuthorityData) != string(ca) {
		t.Errorf("the kubeconfig's cluster %+v is not the outputs' endpoint and CA", kc.Clusters[0].Cluster)
	}
	if args := strings.Join(kc.AuthInfos[0].AuthInfo.Exec.Args, " "); args != "--region "+outputs["region"].(string)+" eks get-token --cluster-name "+outputs["clusterName"].(string)+" --output json" {
		t.Errorf("the kubeconfig fetches its token with %q", args)
	}
	if len(c.providers) != 2 {
		t.Fatalf("providers of the workload's resources: %v", c.providers)
	}
	for _, p := range c.providers {
		if !strings.Contains(p, "pulumi:providers:kubernetes::platform") {
			t.Errorf("a workload resource uses provider %q, not the example's own", p)
		}
	}
}
