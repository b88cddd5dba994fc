package karpenter_test

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"karpenter-gpu/karpenter"
	"karpenter-gpu/wellknown"
)

// do-not-disrupt protects as Karpenter reads it: "true", or a duration
// counted from the pod's start; anything else protects nothing.
func TestDoNotDisruptActive(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	started := func(ago time.Duration) *metav1.Time { return &metav1.Time{Time: now.Add(-ago)} }
	cases := []struct {
		name    string
		value   *string
		start   *metav1.Time
		protect bool
	}{
		{"no annotation", nil, started(time.Hour), false},
		{"true", ptr("true"), started(100 * time.Hour), true},
		{"duration not yet over", ptr("4h"), started(3 * time.Hour), true},
		{"duration over", ptr("4h"), started(5 * time.Hour), false},
		{"duration, not started yet", ptr("4h"), nil, true},
		{"false", ptr("false"), started(time.Minute), false},
		{"not a duration", ptr("forever"), started(time.Minute), false},
		{"zero", ptr("0s"), nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1.Pod{Status: corev1.PodStatus{StartTime: tc.start}}
			if tc.value != nil {
				pod.Annotations = map[string]string{wellknown.DoNotDisruptAnnotation: *tc.value}
			}
			if got := karpenter.DoNotDisruptActive(pod, now); got != tc.protect {
				t.Errorf("protected = %v, want %v", got, tc.protect)
			}
		})
	}
}

func ptr(s string) *string { return &s }
