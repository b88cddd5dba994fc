package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"karpenter-gpu/internal/render"
)

// Each scenario stack file of examples/stacks renders against the
// built-in example cluster, and its render shows what its header promises.
func TestExampleStacksRender(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		karpenter string
		want      map[string][]string // file of the render → what it holds
		absent    []string            // files it must not have
	}{
		"inference-tokyo": {want: map[string][]string{
			"plan.md": {"ap-northeast-1"},
			"kubernetes/nodeoverlay-shared-sharing-1gpu.yaml": {"nvidia.com/gpu: \"4\""},
			"kubernetes/nodepool-shared.yaml":                 {"minValues: 2", "- spot"},
		}},
		"h200-capacity-block": {want: map[string][]string{
			"kubernetes/nodepool-h200.yaml":     {"- reserved", "p5en.48xlarge", "expireAfter: Never"},
			"kubernetes/ec2nodeclass-h200.yaml": {"purpose: h200-block"},
			"plan.md":                           {"selects reservations by tags"},
		}},
		"bottlerocket-soci": {want: map[string][]string{
			"kubernetes/ec2nodeclass-bottlerocket.yaml": {"alias: bottlerocket@v1.50.0"},
		}},
		"notebooks-aws-auth": {want: map[string][]string{
			"kubernetes/configmap-patch-aws-auth.yaml": {"# Added by this stack: arn:aws:iam::123456789012:role/karpenter-node-"},
			"kubernetes/nodepool-notebooks.yaml":       {"expireAfter: Never", "- on-demand"},
		}},
		"pools-only": {karpenter: "1.15.1", want: map[string][]string{
			"plan.md":                          {"## Relies on"},
			"kubernetes/ec2nodeclass-gpu.yaml": {"role: KarpenterNodeRole-shared-platform"},
		}, absent: []string{"helm/karpenter.yaml", "helm/karpenter-crd.yaml", "charts/karpenter.yaml"}},
	}
	files, err := filepath.Glob("../examples/stacks/Pulumi.*.yaml")
	if err != nil || len(files) != len(cases) {
		t.Fatalf("examples/stacks holds %d stack files (%v), the test knows %d", len(files), err, len(cases))
	}
	doc, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(file), "Pulumi."), ".yaml")
		c, ok := cases[name]
		if !ok {
			t.Errorf("no case for %s", file)
			continue
		}
		if !strings.Contains(string(doc), "| `"+filepath.Base(file)+"` |") {
			t.Errorf("docs/configuration.md's scenario table does not list %s", filepath.Base(file))
		}
		t.Run(name, func(t *testing.T) {
			out, err := render.Render(render.Options{ConfigFile: file, Stack: name, Karpenter: c.karpenter})
			if err != nil {
				t.Fatal(err)
			}
			for path, wants := range c.want {
				content, ok := out[path]
				if !ok {
					t.Errorf("the render has no %s", path)
					continue
				}
				for _, w := range wants {
					if !strings.Contains(string(content), w) {
						t.Errorf("%s lacks %q", path, w)
					}
				}
			}
			for _, path := range c.absent {
				if _, ok := out[path]; ok {
					t.Errorf("the render has %s", path)
				}
			}
		})
	}
}
