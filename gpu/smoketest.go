package gpu

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"karpenter-gpu/config"
	"karpenter-gpu/internal/k8sobject"
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

// SmokeTestObject is the Job that runs nvidia-smi on one GPU of the pool.
func SmokeTestObject(name string, args *SmokeTestArgs) map[string]any {
	return map[string]any{
		"apiVersion": "batch/v1",
		"kind":       "Job",
		"metadata":   map[string]any{"name": name, "namespace": args.Namespace},
		"spec": map[string]any{
			"backoffLimit":          2,
			"activeDeadlineSeconds": SmokeTestDeadlineSeconds,
			"template": map[string]any{"spec": map[string]any{
				"restartPolicy": "Never",
				"nodeSelector":  anyMap(NodeSelector(args.Pool)),
				"tolerations":   anyList(Tolerations(args.Pool)),
				"containers": []any{map[string]any{
					"name":            "nvidia-smi",
					"image":           versions.CUDASmokeTestImage,
					"command":         []any{"nvidia-smi"},
					"resources":       map[string]any{"limits": map[string]any{wellknown.GPUResource: "1"}},
					"securityContext": map[string]any{"allowPrivilegeEscalation": false},
				}},
			}},
		},
	}
}

// NewSmokeTest runs nvidia-smi on one GPU of the pool. With no GPU node
// around, the pod is pending until Karpenter launches one; `pulumi up` waits
// for the Job to complete, and the node goes again once the pool's
// consolidateAfter passes.
func NewSmokeTest(ctx *pulumi.Context, name string, args *SmokeTestArgs, opts ...pulumi.ResourceOption) (*k8sobject.Object, error) {
	opts = append(opts, pulumi.Timeouts(&pulumi.CustomTimeouts{Create: SmokeTestAwait, Update: SmokeTestAwait}))
	return k8sobject.New(ctx, name, SmokeTestObject(name, args), opts...)
}
