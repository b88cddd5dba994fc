package kubelet

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// PodFields are the values of a pod's own fields a container's
// environment may refer to (fieldRef).
type PodFields map[string]string

// ContainerEnv resolves a container's environment as the kubelet does for
// the pod on a node with the given allocatable resources: plain values,
// the pod's own fields (fieldRef) and the container's resources
// (resourceFieldRef, in units of the divisor, rounded up; a limit the
// container does not set is the node's allocatable, a request it does not
// set is its limit if it sets one, else zero). Values from Secrets and
// ConfigMaps are refused: the Karpenter chart's controller uses none.
func ContainerEnv(pod *corev1.PodSpec, container string, fields PodFields, node corev1.ResourceList) ([]string, error) {
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
		value, err := envValue(pod, c, e, fields, node)
		if err != nil {
			return nil, fmt.Errorf("env %s: %w", e.Name, err)
		}
		env = append(env, e.Name+"="+value)
	}
	return env, nil
}

func envValue(pod *corev1.PodSpec, c *corev1.Container, e corev1.EnvVar, fields PodFields, node corev1.ResourceList) (string, error) {
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
		return resourceValue(target.Resources, ref, node)
	default:
		return "", fmt.Errorf("only values, fieldRef and resourceFieldRef are resolved here")
	}
}

// resourceValue is a container's request or limit in units of the
// divisor (1 when zero), rounded up, as the downward API gives it.
func resourceValue(res corev1.ResourceRequirements, ref *corev1.ResourceFieldSelector, node corev1.ResourceList) (string, error) {
	kind, name, ok := strings.Cut(ref.Resource, ".")
	if !ok || (kind != "requests" && kind != "limits") || (name != "cpu" && name != "memory") {
		return "", fmt.Errorf("resource %s is not resolved here", ref.Resource)
	}
	r := corev1.ResourceName(name)
	limit, limited := res.Limits[r]
	if !limited {
		limit = node[r]
	}
	q := limit
	if kind == "requests" {
		request, requested := res.Requests[r]
		switch {
		case requested:
			q = request
		case !limited:
			q = resource.Quantity{}
		}
	}
	divisor := ref.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	return strconv.FormatInt(int64(math.Ceil(float64(q.MilliValue())/float64(divisor.MilliValue()))), 10), nil
}
