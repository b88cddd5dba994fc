package offerings_test

import (
	"reflect"
	"testing"

	"karpenter-gpu/catalog"
	"karpenter-gpu/offerings"
)

func TestDisagreementsSpeakInKarpentersLabels(t *testing.T) {
	row := catalog.InstanceType{Name: "g7e.2xlarge", GPUName: "rtx-pro-server-6000", GPUCount: 1, GPUMemoryMi: 98304}
	cases := map[string]struct {
		ec2  offerings.GPUs
		want []string
	}{
		"same, as EC2 spells it": {offerings.GPUs{Kinds: 1, Name: offerings.LabelValue("RTX PRO Server 6000"), Count: 1, MemoryMi: 98304}, nil},
		"memory":                 {offerings.GPUs{Kinds: 1, Name: "rtx-pro-server-6000", Count: 1, MemoryMi: 97871}, []string{"instance-gpu-memory: EC2 says 97871, the catalogue 98304"}},
		"two models":             {offerings.GPUs{Kinds: 2}, []string{"EC2 lists 2 GPU models, so Karpenter sets no instance-gpu labels on it; the catalogue has 1 × rtx-pro-server-6000"}},
	}
	for name, tc := range cases {
		if got := tc.ec2.Disagreements(row); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %q, want %q", name, got, tc.want)
		}
	}
}
