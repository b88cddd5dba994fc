package kubelet

import (
	"fmt"
	"math"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// PodFields are the values of a pod's own fields a container's
// environment may refer to (fieldRef).
type PodFields map[string]string

// ContainerEnv resolves a container's environment as the kubelet does for
// the pod: plain values, the pod's own fields (fieldRef) and the
// container's resources (resourceFieldRef, in units of the divisor,
// rounded up). Values from Secrets and ConfigMaps are refused: the
// Karpenter chart's controller uses none.
func ContainerEnv(pod *corev1.PodSpec, container string, fields PodFields) ([]string, error) {
	var c *corev1.Container
	for i := range pod.Containers {
		if pod.Containers[i].Name == container {
			c = &pod.Containers[i]
		}
	}
	if c == nil {
		return nil, fmt.Errorf("no container %q", container)
	}
	var env []string
	for _, e := range c.Env {
		value, err := envValue(pod, c, e, fields)
		if err != nil {
			return nil, fmt.Errorf("env %s: %w", e.Name, err)
		}
		env = append(env, e.Name+"="+value)
	}
	return env, nil
}

func envValue(pod *corev1.PodSpec, c *corev1.Container, e corev1.EnvVar, fields PodFields) (string, error) {
	from := e.ValueFrom
	switch {
	case from == nil:
		return e.Value, nil
	case from.FieldRef != nil:
		v, ok := fields[from.FieldRef.FieldPath]
		if !ok {
			return "", fmt.Errorf("field %s is not known here", from.FieldRef.FieldPath)
		}
		return v, nil
	case from.ResourceFieldRef != nil:
		ref := from.ResourceFieldRef
		target := c
		if ref.ContainerName != "" && ref.ContainerName != c.Name {
			target = nil
			for i := range pod.Containers {
				if pod.Containers[i].Name == ref.ContainerName {
					target = &pod.Containers[i]
				}
			}
			if target == nil {
				return "", fmt.Errorf("no container %q", ref.ContainerName)
			}
		}
		return resourceValue(target.Resources, ref)
	default:
		return "", fmt.Errorf("only values, fieldRef and resourceFieldRef are resolved here")
	}
}

// resourceValue is a container's request or limit in units of the
// divisor (1 when zero), rounded up, as the downward API gives it.
func resourceValue(res corev1.ResourceRequirements, ref *corev1.ResourceFieldSelector) (string, error) {
	var q resource.Quantity
	var found bool
	switch ref.Resource {
	case "requests.cpu":
		q, found = res.Requests[corev1.ResourceCPU]
	case "requests.memory":
		q, found = res.Requests[corev1.ResourceMemory]
	case "limits.cpu":
		q, found = res.Limits[corev1.ResourceCPU]
	case "limits.memory":
		q, found = res.Limits[corev1.ResourceMemory]
	default:
		return "", fmt.Errorf("resource %s is not resolved here", ref.Resource)
	}
	if !found {
		// Without a value the kubelet gives the node's allocatable; the
		// chart always sets both.
		return "", fmt.Errorf("the container sets no %s", ref.Resource)
	}
	divisor := ref.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	return strconv.FormatInt(int64(math.Ceil(float64(q.MilliValue())/float64(divisor.MilliValue()))), 10), nil
}
