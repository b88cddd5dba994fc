package ami_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"karpenter-gpu/ami"
	"karpenter-gpu/internal/gomod"
)

// The parameters must be the ones Karpenter reads: the format strings are
// taken from the pinned module's own amifamily code.
func TestImageParametersAreKarpenters(t *testing.T) {
	dir, err := gomod.Dir(gomod.Karpenter)
	if err != nil {
		t.Fatal(err)
	}
	source := func(file string) string {
		b, err := os.ReadFile(filepath.Join(dir, "pkg/providers/amifamily", file))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	find := func(src, pattern string) string {
		m := regexp.MustCompile(pattern).FindStringSubmatch(src)
		if m == nil {
			t.Fatalf("pattern %s not found in Karpenter's source", pattern)
		}
		return m[1]
	}
	al2023 := source("al2023.go")
	pathFormat := find(al2023, `return fmt\.Sprintf\("(/aws/service/eks/optimized-ami/[^"]+)"`)
	nameFormat := find(al2023, `fmt\.Sprintf\("(amazon-eks-node-al2023-[^"]+)"`)
	bottlerocket := find(source("bottlerocket.go"), `fmt\.Sprintf\("(/aws/service/bottlerocket/aws-k8s-%s-nvidia/x86_64/%s/image_id)"`)

	cases := []struct {
		got, want string
	}{
		{ami.ImageParameter("al2023", "v20260610", "1.35", "amd64"),
			fmt.Sprintf(pathFormat, "1.35", "x86_64", "nvidia", fmt.Sprintf(nameFormat, "x86_64", "nvidia", "1.35", "v20260610"))},
		{ami.ImageParameter("al2023", "v20260610", "1.35", "arm64"),
			fmt.Sprintf(pathFormat, "1.35", "arm64", "nvidia", fmt.Sprintf(nameFormat, "arm64", "nvidia", "1.35", "v20260610"))},
		{ami.ImageParameter("al2023", "latest", "1.35", "amd64"), fmt.Sprintf(pathFormat, "1.35", "x86_64", "nvidia", "recommended")},
		{ami.ImageParameter("bottlerocket", "v1.50.0", "1.34", "amd64"), fmt.Sprintf(bottlerocket, "1.34", "1.50.0")},
	}
	for _, tc := range cases {
		if tc.got != tc.want {
			t.Errorf("got  %s\nwant %s", tc.got, tc.want)
		}
	}
}

func TestNewestAlias(t *testing.T) {
	cases := map[[2]string]string{
		{"al2023", "1.35.2-20260114"}:       "al2023@v20260114",
		{"bottlerocket", "1.50.0-0a1b2c3d"}: "bottlerocket@v1.50.0",
		{"al2023", "something unexpected"}:  "al2023 something unexpected",
	}
	for in, want := range cases {
		if got := ami.NewestAlias(in[0], in[1]); got != want {
			t.Errorf("NewestAlias(%q, %q) = %q, want %q", in[0], in[1], got, want)
		}
	}
}
