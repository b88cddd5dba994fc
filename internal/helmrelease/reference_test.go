package helmrelease_test

import (
	"testing"

	"karpenter-gpu/internal/helmrelease"
)

func TestReference(t *testing.T) {
	cases := []struct{ repository, chart, wantChart, wantRepo string }{
		{"oci://public.ecr.aws/karpenter", "karpenter", "oci://public.ecr.aws/karpenter/karpenter", ""},
		{"oci://123456789012.dkr.ecr.us-east-1.amazonaws.com/mirror/", "karpenter-crd", "oci://123456789012.dkr.ecr.us-east-1.amazonaws.com/mirror/karpenter-crd", ""},
		{"https://nvidia.github.io/k8s-device-plugin", "nvidia-device-plugin", "nvidia-device-plugin", "https://nvidia.github.io/k8s-device-plugin"},
		{"./charts", "nvidia-device-plugin", "./charts/nvidia-device-plugin", ""},
		{"/srv/charts/", "karpenter", "/srv/charts/karpenter", ""},
	}
	for _, tc := range cases {
		chart, repo := helmrelease.Reference(tc.repository, tc.chart)
		if chart != tc.wantChart || repo != tc.wantRepo {
			t.Errorf("%s %s = %q, %q; want %q, %q", tc.repository, tc.chart, chart, repo, tc.wantChart, tc.wantRepo)
		}
	}
}
