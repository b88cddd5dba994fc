package fakecloud

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"karpenter-gpu/ami"
	"karpenter-gpu/wellknown"
)

// amiRelease is one NVIDIA AMI release and the Kubernetes minor versions
// (1.Min to 1.Max) it was published for.
type amiRelease struct {
	family, release string
	min, max        int
	published       string
}

// amiReleases is what the fake cloud's SSM knows, oldest first: the offline
// render and the tests answer the stack's AMI check from it. Dated
// 2026-11-28.
//
// AL2023: the amazon-eks-ami release notes list which Kubernetes versions
// each release was built for (1.35 first in v20260114, 1.36 first in
// v20260610); the oldest version of each follows EKS's end of extended
// support (1.28 ended 2025-11-26, 1.29 on 2026-03-23).
//
// Bottlerocket: not transcribed from its release notes; the row assumes the
// Kubernetes variants of the AL2023 release of the same month. A live
// `pulumi preview` reads the real parameters.
var amiReleases = []amiRelease{
	{family: wellknown.AMIFamilyAL2023, release: "v20251120", min: 29, max: 34, published: "2025-11-20"},
	{family: wellknown.AMIFamilyBottlerocket, release: "v1.50.0", min: 29, max: 34, published: "2025-11"},
	{family: wellknown.AMIFamilyAL2023, release: "v20260114", min: 29, max: 35, published: "2026-01-14"},
	{family: wellknown.AMIFamilyAL2023, release: "v20260610", min: 30, max: 36, published: "2026-06-10"},
}

func (r amiRelease) covers(kubernetes string) bool {
	minor, ok := strings.CutPrefix(kubernetes, "1.")
	n, err := strconv.Atoi(minor)
	return ok && err == nil && n >= r.min && n <= r.max
}

// SSMParameter answers a public SSM parameter of an AMI alias the way SSM
// would, from amiReleases; ok is false for a parameter that does not exist.
func SSMParameter(name string) (value string, ok bool) {
	family := familyOf(name)
	for _, kubernetes := range kubernetesVersions() {
		for _, arch := range []string{"amd64", "arm64"} {
			var newest *amiRelease
			for i, r := range amiReleases {
				if r.family != family || !r.covers(kubernetes) {
					continue
				}
				if name == ami.ImageParameter(r.family, r.release, kubernetes, arch) {
					return imageID(name), true
				}
				newest = &amiReleases[i] // listed oldest first
			}
			if newest == nil {
				continue
			}
			switch name {
			case ami.ImageParameter(family, "latest", kubernetes, arch):
				return imageID(name), true
			case ami.NewestParameter(family, kubernetes, arch):
				if family == wellknown.AMIFamilyBottlerocket {
					return strings.TrimPrefix(newest.release, "v") + "-" + imageID(name)[4:12], true
				}
				return fmt.Sprintf("%s.0-%s", kubernetes, strings.TrimPrefix(newest.release, "v")), true
			}
		}
	}
	return "", false
}

// NVIDIAImages are the image parameters of the NVIDIA AMIs published for
// a Kubernetes version, by parameter name: one per release that covers it
// and architecture, as SSM holds them whichever alias a stack pins.
func NVIDIAImages(kubernetes string) map[string]string {
	out := map[string]string{}
	for _, r := range amiReleases {
		if !r.covers(kubernetes) {
			continue
		}
		for _, arch := range []string{"amd64", "arm64"} {
			name := ami.ImageParameter(r.family, r.release, kubernetes, arch)
			if value, ok := SSMParameter(name); ok {
				out[name] = value
			}
		}
	}
	return out
}

func familyOf(parameter string) string {
	if strings.HasPrefix(parameter, "/aws/service/bottlerocket/") {
		return wellknown.AMIFamilyBottlerocket
	}
	return wellknown.AMIFamilyAL2023
}

// kubernetesVersions are the versions any release covers.
func kubernetesVersions() []string {
	var out []string
	for _, r := range amiReleases {
		for n := r.min; n <= r.max; n++ {
			out = append(out, fmt.Sprintf("1.%d", n))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func imageID(parameter string) string {
	sum := sha256.Sum256([]byte(parameter))
	return "ami-" + hex.EncodeToString(sum[:])[:17]
}
