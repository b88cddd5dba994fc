// Package ami checks, before anything is created, that each node class's
// AMI alias resolves for the cluster: Karpenter resolves an alias through
// public SSM parameters per Kubernetes version and architecture, and an
// alias that resolves to nothing launches no node, silently.
package ami

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"karpenter-gpu/wellknown"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ssm"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// ssmArch is how SSM parameter paths name an architecture.
var ssmArch = map[string]string{"amd64": "x86_64", "arm64": "arm64"}

// ImageParameter is the SSM parameter whose value is the image ID of the
// NVIDIA variant that alias family@release resolves to, as Karpenter builds
// it (pkg/providers/amifamily in the pinned module).
func ImageParameter(family, release, kubernetes, arch string) string {
	a := ssmArch[arch]
	switch family {
	case wellknown.AMIFamilyBottlerocket:
		return fmt.Sprintf("/aws/service/bottlerocket/aws-k8s-%s-nvidia/%s/%s/image_id", kubernetes, a, strings.TrimLeft(release, "v"))
	default:
		name := "recommended"
		if release != "latest" {
			name = fmt.Sprintf("amazon-eks-node-al2023-%s-nvidia-%s-%s", a, kubernetes, release)
		}
		return fmt.Sprintf("/aws/service/eks/optimized-ami/%s/amazon-linux-2023/%s/nvidia/%s/image_id", kubernetes, a, name)
	}
}

// NewestParameter is the SSM parameter that names the newest release of the
// family's NVIDIA variant for a Kubernetes version and architecture.
func NewestParameter(family, kubernetes, arch string) string {
	a := ssmArch[arch]
	if family == wellknown.AMIFamilyBottlerocket {
		return fmt.Sprintf("/aws/service/bottlerocket/aws-k8s-%s-nvidia/%s/latest/image_version", kubernetes, a)
	}
	return fmt.Sprintf("/aws/service/eks/optimized-ami/%s/amazon-linux-2023/%s/nvidia/recommended/release_version", kubernetes, a)
}

var (
	al2023Release       = regexp.MustCompile(`-([0-9]{8})$`)              // 1.35.0-20260114
	bottlerocketRelease = regexp.MustCompile(`^([0-9]+\.[0-9]+\.[0-9]+)`) // 1.50.0-abcdef01
)

// NewestAlias turns the value of NewestParameter into an alias.
func NewestAlias(family, value string) string {
	re, prefix := al2023Release, wellknown.AMIFamilyAL2023+"@v"
	if family == wellknown.AMIFamilyBottlerocket {
		re, prefix = bottlerocketRelease, wellknown.AMIFamilyBottlerocket+"@v"
	}
	if m := re.FindStringSubmatch(value); m != nil {
		return prefix + m[1]
	}
	return family + " " + value
}

// Class is one node class to check: its configuration key, its alias, and
// the architectures of the pools that launch from it.
type Class struct {
	Key           string
	Alias         string
	Architectures []string
}

// Verify reads, for every class and architecture, the SSM parameter the
// alias resolves through, and returns one error naming every class whose
// alias has no NVIDIA AMI for the cluster's Kubernetes version, with the
// newest release SSM offers for it.
func Verify(ctx *pulumi.Context, kubernetes string, classes []Class) error {
	var errs []error
	for _, c := range classes {
		family, release, _ := strings.Cut(c.Alias, "@")
		for _, arch := range slices.Sorted(slices.Values(c.Architectures)) {
			path := ImageParameter(family, release, kubernetes, arch)
			found, err := exists(ctx, path)
			if err != nil {
				return err
			}
			if found {
				continue
			}
			newest := "SSM has no release of it for that version at all"
			if value, ok, err := read(ctx, NewestParameter(family, kubernetes, arch)); err != nil {
				return err
			} else if ok {
				newest = "the newest release for it is " + NewestAlias(family, value)
			}
			errs = append(errs, fmt.Errorf("%s: %q: no NVIDIA %s AMI of this release exists for Kubernetes %s on %s (SSM parameter %s); %s",
				c.Key, c.Alias, family, kubernetes, ssmArch[arch], path, newest))
		}
	}
	return errors.Join(errs...)
}

func exists(ctx *pulumi.Context, path string) (bool, error) {
	_, ok, err := read(ctx, path)
	return ok, err
}

// read returns a parameter's value; ok is false when it does not exist.
func read(ctx *pulumi.Context, path string) (value string, ok bool, err error) {
	p, err := ssm.LookupParameter(ctx, &ssm.LookupParameterArgs{Name: path})
	switch {
	case err != nil && strings.Contains(err.Error(), "ParameterNotFound"):
		return "", false, nil
	case err != nil:
		return "", false, fmt.Errorf("reading public SSM parameter %s: %w", path, err)
	}
	return p.Value, true, nil
}
