package ami_test

import (
	"strings"
	"testing"

	"karpenter-gpu/ami"
)

// What an AMI release drives: g7 needs AL2023 v20260917 or later; on
// Bottlerocket it is not known, so a warning; other families pass.
func TestDriverProblem(t *testing.T) {
	cases := []struct {
		alias, family string
		refuse, warn  string
	}{
		{"al2023@v20260610", "g7", "al2023@v20260610 cannot drive g7: its RTX PRO 4500 GPUs need NVIDIA driver 595 or newer", ""},
		{"al2023@v20260610", "g7", "pin al2023@v20260917 or later", ""},
		{"al2023@v20260917", "g7", "", ""},
		{"al2023@v20261015", "g7", "", ""},
		{"al2023@latest", "g7", "", ""},
		{"bottlerocket@v1.50.0", "g7", "", "bottlerocket@v1.50.0: whether bottlerocket AMIs drive g7 is not known here"},
		{"al2023@v20260610", "g6e", "", ""},
		{"bottlerocket@v1.50.0", "p5", "", ""},
	}
	for _, tc := range cases {
		refuse, warn := ami.DriverProblem(tc.alias, tc.family)
		if (tc.refuse == "") != (refuse == "") || !strings.Contains(refuse, tc.refuse) || (tc.warn == "") != (warn == "") || !strings.Contains(warn, tc.warn) {
			t.Errorf("%s on %s: refuse %q, warn %q; want %q, %q", tc.family, tc.alias, refuse, warn, tc.refuse, tc.warn)
		}
	}
}

// The drivers known are the releases' own (their release notes).
func TestDriverOf(t *testing.T) {
	if d, ok := ami.DriverOf("al2023@v20260610"); !ok || d.String() != "NVIDIA 580.159.03 (CUDA 13.0 and older)" {
		t.Errorf("v20260610: %v %v", d, ok)
	}
	for _, unknown := range []string{"bottlerocket@v1.50.0", "al2023@latest", "al2023@v20200101"} {
		if _, ok := ami.DriverOf(unknown); ok {
			t.Errorf("%s: a driver is known", unknown)
		}
	}
}
