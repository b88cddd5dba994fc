// Command gpu-workload is what a team consuming the platform writes: it reads
// the karpenter-gpu stack's outputs through a StackReference and deploys a
// GPU inference server that lands on that stack's GPU pool.
package main

import (
	"fmt"

	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
)

// image is the inference server, pinned.
const image = "nvcr.io/nvidia/tritonserver:25.10-py3"

func main() {
	pulumi.Run(program)
}

func program(ctx *pulumi.Context) error {
	cfg := config.New(ctx, "")
	platformStack := cfg.Require("platformStack")
	pool := cfg.Get("pool")
	if pool == "" {
		pool = "inference"
	}
	replicas := cfg.GetInt("replicas")
	if replicas == 0 {
		replicas = 1
	}

	platform, err := pulumi.NewStackReference(ctx, platformStack, nil)
	if err != nil {
		return err
	}
	poolNames := platform.GetOutput(pulumi.String("gpuPoolNames")).ApplyT(func(v any) ([]string, error) {
		names, err := toStrings(v)
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			if n == pool {
				return names, nil
			}
		}
		return nil, fmt.Errorf("pool %q is not one of the platform's GPU pools %v", pool, names)
	})
	nodeSelector := pulumi.All(platform.GetOutput(pulumi.String("gpuPoolNodeSelectors")), poolNames).ApplyT(func(v []any) (map[string]string, error) {
		selectors, _ := v[0].(map[string]any)
		return toStringMap(selectors[pool])
	}).(pulumi.StringMapOutput)
	taint := platform.GetOutput(pulumi.String("gpuTaint")).ApplyT(toStringMap).(pulumi.StringMapOutput)
	gpuResource := platform.GetStringOutput(pulumi.String("gpuResourceName"))

	labels := pulumi.StringMap{"app": pulumi.String("inference")}
	_, err = appsv1.NewDeployment(ctx, "inference", &appsv1.DeploymentArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("inference")},
		Spec: &appsv1.DeploymentSpecArgs{
			Replicas: pulumi.Int(replicas),
			Selector: &metav1.LabelSelectorArgs{MatchLabels: labels},
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{
					Labels: labels,
					// Loading a model onto a GPU takes minutes: do not let
					// consolidation move a serving replica to save a little.
					Annotations: pulumi.StringMap{"karpenter.sh/do-not-disrupt": pulumi.String("true")},
				},
				Spec: &corev1.PodSpecArgs{
					NodeSelector: nodeSelector,
					Tolerations: corev1.TolerationArray{corev1.TolerationArgs{
						Key:      taint.MapIndex(pulumi.String("key")),
						Operator: pulumi.String("Exists"),
						Effect:   taint.MapIndex(pulumi.String("effect")),
					}},
					Containers: corev1.ContainerArray{corev1.ContainerArgs{
						Name:  pulumi.String("triton"),
						Image: pulumi.String(image),
						Args:  pulumi.ToStringArray([]string{"tritonserver", "--model-repository=/models", "--exit-on-error=false"}),
						Ports: corev1.ContainerPortArray{corev1.ContainerPortArgs{Name: pulumi.String("http"), ContainerPort: pulumi.Int(8000)}},
						Resources: &corev1.ResourceRequirementsArgs{
							Limits: gpuResource.ApplyT(func(name string) map[string]string {
								return map[string]string{name: "1"}
							}).(pulumi.StringMapOutput),
						},
						ReadinessProbe: &corev1.ProbeArgs{
							HttpGet: &corev1.HTTPGetActionArgs{Path: pulumi.String("/v2/health/ready"), Port: pulumi.String("http")},
						},
					}},
				},
			},
		},
	})
	return err
}

func toStrings(v any) ([]string, error) {
	items, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("want a list, got %T", v)
	}
	out := make([]string, len(items))
	for i, item := range items {
		out[i] = fmt.Sprint(item)
	}
	return out, nil
}

func toStringMap(v any) (map[string]string, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("want an object, got %T", v)
	}
	out := make(map[string]string, len(m))
	for k, e := range m {
		out[k] = fmt.Sprint(e)
	}
	return out, nil
}
