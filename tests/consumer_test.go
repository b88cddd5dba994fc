package tests

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	corev1 "k8s.io/api/core/v1"

	"karpenter-gpu/examples/gpu-workload/workload"
	"karpenter-gpu/internal/placement"
	"karpenter-gpu/wellknown"
)

// consumer answers the example's StackReference with a platform stack's
// outputs and records the Deployment it declares.
type consumer struct {
	outputs    map[string]any
	mu         sync.Mutex
	deployment map[string]any
}

func (c *consumer) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	switch args.TypeToken {
	case "pulumi:pulumi:StackReference":
		return args.Name, resource.NewPropertyMapFromMap(map[string]any{
			"name": args.Name, "outputs": c.outputs, "secretOutputNames": []any{},
		}), nil
	case "kubernetes:apps/v1:Deployment":
		c.mu.Lock()
		c.deployment = args.Inputs.Mappable()
		c.mu.Unlock()
	}
	return args.Name + "-id", args.Inputs, nil
}

func (c *consumer) Call(pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return resource.PropertyMap{}, nil
}

// deployWorkload runs examples/gpu-workload against the outputs for pool:
// its pod's spec and annotations.
func deployWorkload(t *testing.T, outputs map[string]any, pool string) (corev1.PodSpec, map[string]string, error) {
	t.Helper()
	cfg := map[string]string{"gpu-workload:platformStack": "my-org/karpenter-gpu/dev", "gpu-workload:pool": pool}
	c := &consumer{outputs: outputs}
	err := pulumi.RunErr(workload.Program, pulumi.WithMocks("gpu-workload", "dev", c), func(info *pulumi.RunInfo) { info.Config = cfg })
	var template corev1.PodTemplateSpec
	if c.deployment != nil {
		raw, _ := json.Marshal(c.deployment["spec"].(map[string]any)["template"])
		if err := json.Unmarshal(raw, &template); err != nil {
			t.Fatal(err)
		}
	}
	return template.Spec, template.Annotations, err
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
				spec, annotations, err := deployWorkload(t, outputs, name)
				if err != nil {
					t.Fatal(err)
				}
				if annotations[wellknown.DoNotDisruptAnnotation] != "true" {
					t.Errorf("the pod's annotations %v lack what the pool's jobProtection output names", annotations)
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
	_, _, err := deployWorkload(t, outputs, "cheap")
	if err == nil || !strings.Contains(err.Error(), `pool "cheap" is not one of the platform's GPU pools: inference, training`) {
		t.Fatalf("err = %v", err)
	}
}
