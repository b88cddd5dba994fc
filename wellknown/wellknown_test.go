package wellknown

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"karpenter-gpu/internal/gomod"
)

// The node class finalizer is Karpenter's: apis.Group + "/termination" in
// the pinned module.
func TestNodeClassTerminationFinalizerIsKarpenters(t *testing.T) {
	dir, err := gomod.Dir(gomod.Karpenter)
	if err != nil {
		t.Fatal(err)
	}
	read := func(rel string) string {
		b, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	group := regexp.MustCompile(`\bGroup\s+= "([^"]+)"`).FindStringSubmatch(read("pkg/apis/apis.go"))
	suffix := regexp.MustCompile(`\bTerminationFinalizer\s+= apis\.Group \+ "([^"]+)"`).FindStringSubmatch(read("pkg/apis/v1/labels.go"))
	if group == nil || suffix == nil {
		t.Fatal("Karpenter's apis.Group or TerminationFinalizer not found in the module")
	}
	if got := group[1] + suffix[1]; got != NodeClassTerminationFinalizer {
		t.Fatalf("Karpenter's finalizer is %q, wellknown says %q", got, NodeClassTerminationFinalizer)
	}
}
