package gpu

import (
	batchv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/batch/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"karpenter-gpu/config"
	"karpenter-gpu/versions"
	"karpenter-gpu/wellknown"
)

// A cold GPU launch (spot request, boot, registration, driver and device
// plugin start, image pull) takes a few minutes; scarce spot capacity can
// take much longer. The Job gives up on its own after SmokeTestDeadline, and
// `pulumi up` waits a little longer than that, so that it reports the Job's
// failure instead of its own timeout.
const (
	SmokeTestDeadlineSeconds = 20 * 60
	SmokeTestAwait           = "25m"
)

// SmokeTestArgs says where the smoke test runs.
type SmokeTestArgs struct {
	Namespace string
	// Pool is the GPU pool whose node the Job asks for.
	Pool config.GPUPool
}

// NewSmokeTest runs nvidia-smi on one GPU of the pool. With no GPU node
// around, the pod is pending until Karpenter launches one; `pulumi up` waits
// for the Job to complete, and the node goes again once the pool's
// consolidateAfter passes.
func NewSmokeTest(ctx *pulumi.Context, name string, args *SmokeTestArgs, opts ...pulumi.ResourceOption) (*batchv1.Job, error) {
	var tolerations corev1.TolerationArray
	for _, t := range Tolerations(args.Pool) {
		toleration := corev1.TolerationArgs{
			Key:      pulumi.String(t["key"].(string)),
			Operator: pulumi.String(t["operator"].(string)),
			Effect:   pulumi.String(t["effect"].(string)),
		}
		if v, ok := t["value"].(string); ok {
			toleration.Value = pulumi.String(v)
		}
		tolerations = append(tolerations, toleration)
	}
	opts = append(opts, pulumi.Timeouts(&pulumi.CustomTimeouts{Create: SmokeTestAwait, Update: SmokeTestAwait}))
	return batchv1.NewJob(ctx, name, &batchv1.JobArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name:      pulumi.String(name),
			Namespace: pulumi.String(args.Namespace),
		},
		Spec: &batchv1.JobSpecArgs{
			BackoffLimit:          pulumi.Int(2),
			ActiveDeadlineSeconds: pulumi.Int(SmokeTestDeadlineSeconds),
			Template: &corev1.PodTemplateSpecArgs{
				Spec: &corev1.PodSpecArgs{
					RestartPolicy: pulumi.String("Never"),
					NodeSelector:  pulumi.ToStringMap(NodeSelector(args.Pool)),
					Tolerations:   tolerations,
					Containers: corev1.ContainerArray{corev1.ContainerArgs{
						Name:    pulumi.String("nvidia-smi"),
						Image:   pulumi.String(versions.CUDASmokeTestImage),
						Command: pulumi.ToStringArray([]string{"nvidia-smi"}),
						Resources: &corev1.ResourceRequirementsArgs{
							Limits: pulumi.StringMap{wellknown.GPUResource: pulumi.String("1")},
						},
						SecurityContext: &corev1.SecurityContextArgs{
							AllowPrivilegeEscalation: pulumi.Bool(false),
						},
					}},
				},
			},
		},
	}, opts...)
}
