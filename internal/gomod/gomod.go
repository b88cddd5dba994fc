// Package gomod finds the modules go.mod pins where the go command keeps
// them, so that tests and tools read upstream files (CRDs, charts, source)
// at the pinned version. It links nothing but the standard library.
package gomod

import (
	"fmt"
	"os/exec"
	"strings"
	"sync"
)

// Karpenter is the Karpenter AWS provider's module: its CRDs, its chart
// folders (charts/karpenter and charts/karpenter-crd; at the v1.15.1 tag
// both are still labelled 1.14.1, as the release bumps them after tagging,
// and the 1.15.1 OCI charts are the same templates at that label) and its
// source.
const Karpenter = "github.com/aws/karpenter-provider-aws"

// Dir is where the go command keeps the module at the version go.mod
// requires. It asks `go list` once per process, so it must run inside this
// module.
func Dir(module string) (string, error) {
	dirs.Lock()
	defer dirs.Unlock()
	if dir, ok := dirs.found[module]; ok {
		return dir, nil
	}
	dir, err := goList(module)
	if err == nil {
		dirs.found[module] = dir
	}
	return dir, err
}

var dirs = struct {
	sync.Mutex
	found map[string]string
}{found: map[string]string{}}

func goList(module string) (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", module).Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		return "", fmt.Errorf("locating module %s (go list -m): %v %s", module, err, stderr)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return "", fmt.Errorf("module %s is not downloaded; run go mod download %s", module, module)
	}
	return dir, nil
}
