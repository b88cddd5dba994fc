// Package charts renders Helm charts the way `helm template` does, with the
// Helm Go library, so that what a chart makes of the stack's values is
// judged on the chart itself. The Karpenter charts come from the chart
// folders of the Karpenter Go module that go.mod pins.
package charts

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/releaseutil"
	"sigs.k8s.io/yaml"

	"karpenter-gpu/internal/gomod"
)

// KarpenterChart is the folder of one of the pinned Karpenter module's
// charts: "karpenter" or "karpenter-crd".
func KarpenterChart(name string) (string, error) {
	dir, err := gomod.Dir(gomod.Karpenter)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "charts", name), nil
}

// Release says what a chart is installed as.
type Release struct {
	Name      string
	Namespace string
	// Kubernetes is the cluster's minor version ("1.35"): charts pick API
	// versions by it, and Helm's default is far older than any EKS cluster.
	Kubernetes string
}

// Render renders the chart in dir for a first install with the given
// values, and returns its objects sorted by kind and name.
func Render(dir string, rel Release, values map[string]any) ([]map[string]any, error) {
	chrt, err := loader.Load(dir)
	if err != nil {
		return nil, err
	}
	major, minor, ok := strings.Cut(rel.Kubernetes, ".")
	if !ok {
		return nil, fmt.Errorf("kubernetes version %q is not major.minor", rel.Kubernetes)
	}
	caps := chartutil.DefaultCapabilities.Copy()
	caps.KubeVersion = chartutil.KubeVersion{Version: "v" + rel.Kubernetes + ".0", Major: major, Minor: minor}
	vals, err := chartutil.ToRenderValues(chrt, values, chartutil.ReleaseOptions{
		Name: rel.Name, Namespace: rel.Namespace, Revision: 1, IsInstall: true,
	}, caps)
	if err != nil {
		return nil, fmt.Errorf("chart %s: %w", chrt.Name(), err)
	}
	files, err := engine.Render(chrt, vals)
	if err != nil {
		return nil, fmt.Errorf("chart %s: %w", chrt.Name(), err)
	}
	var objects []map[string]any
	for name, content := range files {
		if !strings.HasSuffix(name, ".yaml") && !strings.HasSuffix(name, ".yml") {
			continue // NOTES.txt and helpers
		}
		for _, doc := range releaseutil.SplitManifests(content) {
			var obj map[string]any
			if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			if len(obj) > 0 {
				objects = append(objects, obj)
			}
		}
	}
	sort.Slice(objects, func(i, j int) bool { return key(objects[i]) < key(objects[j]) })
	return objects, nil
}

func key(obj map[string]any) string {
	meta, _ := obj["metadata"].(map[string]any)
	return fmt.Sprintf("%v/%v/%v", obj["kind"], meta["namespace"], meta["name"])
}

// moduleRoot is the folder of go.mod, above the working directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}
