package ami

import (
	"fmt"
	"slices"
	"strings"

	"karpenter-gpu/wellknown"
)

// Driver is the NVIDIA driver an AMI release's NVIDIA variant runs, as its
// release notes list it (the kmod-nvidia-latest-dkms package of the AL2023
// NVIDIA AMIs), and the newest CUDA that driver runs (NVIDIA's CUDA
// release notes: CUDA 13.0 needs a driver of the R580 branch or newer).
type Driver struct {
	// Versions are the drivers the release carries; a release with two
	// picks one per instance type at first boot.
	Versions []string
	CUDA     string
}

// String says it as plan.md and the outputs do.
func (d Driver) String() string {
	return fmt.Sprintf("NVIDIA %s (CUDA %s and older)", strings.Join(d.Versions, " or "), d.CUDA)
}

// al2023Drivers are the AL2023 NVIDIA AMI releases whose drivers are known
// here, from the amazon-eks-ami CHANGELOG (the AMI details of each
// release), read on 2026-12-04.
var al2023Drivers = map[string]Driver{
	"v20251120": {Versions: []string{"580.105.08"}, CUDA: "13.0"},
	"v20260114": {Versions: []string{"580.105.08"}, CUDA: "13.0"},
	"v20260610": {Versions: []string{"580.159.03"}, CUDA: "13.0"},
}

// DriverOf is the driver of an alias's release, ok false where it is not
// known here (Bottlerocket, an AL2023 release not transcribed, @latest).
func DriverOf(alias string) (Driver, bool) {
	family, release, _ := strings.Cut(alias, "@")
	if family != wellknown.AMIFamilyAL2023 {
		return Driver{}, false
	}
	d, ok := al2023Drivers[release]
	return d, ok
}

// GPUDriverNeed is what an instance family's GPUs need of an AMI family's
// release: the first release that drives them, "" where that is not known.
type GPUDriverNeed struct {
	Family string
	// FirstRelease by AMI family; an AMI family missing is not known to
	// drive them.
	FirstRelease map[string]string
	// Why, with the sources.
	Why string
}

// gpuDriverNeeds are the instance families whose GPUs need more than every
// release the stack accepts carries.
//
//   - g7 (RTX PRO 4500 Blackwell) needs NVIDIA driver 595 or newer. AL2023
//     NVIDIA AMIs before v20260917 carry driver 580 only: a g7 node loads
//     the wrong kernel module and advertises no GPU (awslabs/amazon-eks-ami
//     issue 2768). From v20260917 they carry 580 and 595 and pick one per
//     instance type at first boot (the v20260917 release notes, as the
//     issue's closing comment cites them; pull 2747 on driver 595).
//     Bottlerocket's NVIDIA variants: no release known here to drive g7
//     (bottlerocket-os/bottlerocket issue 4889, open: v1.62.1 picks the
//     proprietary driver on g7 and the node never joins).
var gpuDriverNeeds = []GPUDriverNeed{
	{Family: "g7", FirstRelease: map[string]string{wellknown.AMIFamilyAL2023: "v20260917"},
		Why: "its RTX PRO 4500 GPUs need NVIDIA driver 595 or newer, which AL2023 NVIDIA AMIs carry from v20260917 (before it, driver 580 loads and the node advertises no GPU: amazon-eks-ami issue 2768)"},
}

// DriverProblem says whether alias's release drives the GPUs of an
// instance family: refuse when it is known not to (naming the release that
// does), warn when that is not known, nothing when it does.
func DriverProblem(alias, instanceFamily string) (refuse, warn string) {
	i := slices.IndexFunc(gpuDriverNeeds, func(n GPUDriverNeed) bool { return n.Family == instanceFamily })
	if i < 0 {
		return "", ""
	}
	need := gpuDriverNeeds[i]
	family, release, _ := strings.Cut(alias, "@")
	first, known := need.FirstRelease[family]
	switch {
	case !known:
		return "", fmt.Sprintf("%s: whether %s AMIs drive %s is not known here: %s", alias, family, instanceFamily, need.Why)
	case release == "latest" || release >= first:
		return "", ""
	}
	return fmt.Sprintf("%s cannot drive %s: %s; pin %s@%s or later", alias, instanceFamily, need.Why, family, first), ""
}
