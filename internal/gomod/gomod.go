// Package gomod finds the modules go.mod pins where the go command keeps
// them, so that tests and tools read upstream files (CRDs, charts, source)
// at the pinned version. It links nothing but the standard library.
package gomod

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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

// KarpenterCore is Karpenter's core module, which holds the labels, taints
// and annotations of karpenter.sh. The Go module proxy does not serve the
// v1.15.1 the pinned provider requires, so its source is read at the
// release the end-to-end controller runs, the newest served (see
// e2e/controller/go.mod).
const KarpenterCore = "sigs.k8s.io/karpenter"

// KarpenterCoreDir is where the go command keeps Karpenter's core module
// at the version e2e/controller/go.mod requires, downloading it if needed.
func KarpenterCoreDir() (string, error) {
	root, err := goList("karpenter-gpu")
	if err != nil {
		return "", err
	}
	file := filepath.Join(root, "e2e", "controller", "go.mod")
	raw, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if fields := strings.Fields(line); len(fields) >= 2 && fields[0] == KarpenterCore {
			return DirAt(KarpenterCore, fields[1])
		}
	}
	return "", fmt.Errorf("%s requires no %s", file, KarpenterCore)
}

// DirAt is where the go command keeps module at version, downloading it
// through the module proxy if it is not there yet.
func DirAt(module, version string) (string, error) {
	out, err := exec.Command("go", "mod", "download", "-json", module+"@"+version).Output()
	if err != nil {
		return "", fmt.Errorf("go mod download %s@%s: %v", module, version, err)
	}
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(out, &info); err != nil {
		return "", err
	}
	if info.Dir == "" {
		return "", fmt.Errorf("go mod download %s@%s: %s", module, version, info.Error)
	}
	return info.Dir, nil
}
