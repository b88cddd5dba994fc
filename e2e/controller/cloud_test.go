package main

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// The fake EC2 refuses what EC2 refuses, on network facts from the pinned
// provider module's VPC limits (not the stack's catalogue).
func TestLaunchRefusalFollowsTheModulesNetworkCards(t *testing.T) {
	efaOn := func(name string) ec2types.InstanceTypeInfo {
		return withNetwork(ec2types.InstanceTypeInfo{
			InstanceType:  ec2types.InstanceType(name),
			ProcessorInfo: &ec2types.ProcessorInfo{SupportedArchitectures: []ec2types.ArchitectureType{ec2types.ArchitectureTypeX8664}},
			NetworkInfo:   &ec2types.NetworkInfo{EfaSupported: aws.Bool(true)},
		})
	}
	efaCards := func(n int) ec2types.RequestLaunchTemplateData {
		data := ec2types.RequestLaunchTemplateData{ImageId: aws.String("ami-x86")}
		for card := range n {
			data.NetworkInterfaces = append(data.NetworkInterfaces, ec2types.LaunchTemplateInstanceNetworkInterfaceSpecificationRequest{
				NetworkCardIndex: aws.Int32(int32(card)), InterfaceType: aws.String("efa-only"),
			})
		}
		return data
	}
	arch := map[string]string{"ami-x86": "x86_64", "ami-arm": "arm64"}
	imageArch := func(id string) string { return arch[id] }

	for _, tc := range []struct {
		name    string
		data    ec2types.RequestLaunchTemplateData
		info    ec2types.InstanceTypeInfo
		refusal string
	}{
		{"p5.48xlarge takes 32 EFA interfaces", efaCards(32), efaOn("p5.48xlarge"), ""},
		{"p5en.48xlarge has 16 network cards", efaCards(32), efaOn("p5en.48xlarge"), "Network card index 16 is not supported"},
		{"p5en.48xlarge takes 16", efaCards(16), efaOn("p5en.48xlarge"), ""},
		{"p4d.24xlarge has 4", efaCards(8), efaOn("p4d.24xlarge"), "Network card index 4 is not supported"},
		{"EFA on a type without it", efaCards(1), withNetwork(ec2types.InstanceTypeInfo{InstanceType: "g6.xlarge"}), "exceeds the maximum"},
		{"arm64 image on an x86_64 type", ec2types.RequestLaunchTemplateData{ImageId: aws.String("ami-arm")}, efaOn("g6.xlarge"), "architecture"},
		{"no interfaces, matching image", ec2types.RequestLaunchTemplateData{ImageId: aws.String("ami-x86")}, efaOn("g6.xlarge"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := launchRefusal(tc.data, tc.info, imageArch)
			if tc.refusal == "" && got != "" {
				t.Fatalf("refused: %s", got)
			}
			if !strings.Contains(got, tc.refusal) {
				t.Fatalf("refusal %q, want one containing %q", got, tc.refusal)
			}
		})
	}
}
