package wellknown

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"karpenter-gpu/internal/gomod"
)

// source is one upstream module's folder, read by path so that this
// package's tests link no Karpenter code.
type source struct {
	name, dir string
	// group is the module's apis.Group, which its constants build on.
	group string
}

func (s source) read(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.dir, rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// constant evaluates the Go constant ident in file: a string literal, or
// apis.Group + a string literal.
func (s source) constant(t *testing.T, file, ident string) string {
	t.Helper()
	re := regexp.MustCompile(`\b` + ident + `\s+(?:[\w.]+\s+)?=\s+(apis\.Group\s*\+\s*)?"([^"]*)"`)
	m := re.FindStringSubmatch(s.read(t, file))
	if m == nil {
		t.Fatalf("%s: no constant %s in %s", s.name, ident, file)
	}
	if m[1] != "" {
		return s.group + m[2]
	}
	return m[2]
}

func modules(t *testing.T) (provider, core, api source) {
	t.Helper()
	dir := func(find func() (string, error)) string {
		d, err := find()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	provider = source{name: gomod.Karpenter, dir: dir(func() (string, error) { return gomod.Dir(gomod.Karpenter) })}
	core = source{name: gomod.KarpenterCore, dir: dir(gomod.KarpenterCoreDir)}
	api = source{name: "k8s.io/api", dir: dir(func() (string, error) { return gomod.Dir("k8s.io/api") })}
	for _, s := range []*source{&provider, &core} {
		s.group = s.constant(t, "pkg/apis/apis.go", "Group")
	}
	return provider, core, api
}

// Every label, taint, annotation, resource, finalizer and value copied
// from Karpenter (and the two Kubernetes labels its requirements use) is
// the pinned modules' own.
func TestConstantsAreKarpentersOwn(t *testing.T) {
	provider, core, api := modules(t)
	cases := []struct {
		name, got string
		from      source
		file      string
		ident     string
	}{
		{"LabelNodePool", LabelNodePool, core, "pkg/apis/v1/labels.go", "NodePoolLabelKey"},
		{"LabelCapacityType", LabelCapacityType, core, "pkg/apis/v1/labels.go", "CapacityTypeLabelKey"},
		{"CapacityTypeSpot", CapacityTypeSpot, core, "pkg/apis/v1/labels.go", "CapacityTypeSpot"},
		{"CapacityTypeOnDemand", CapacityTypeOnDemand, core, "pkg/apis/v1/labels.go", "CapacityTypeOnDemand"},
		{"CapacityTypeReserved", CapacityTypeReserved, core, "pkg/apis/v1/labels.go", "CapacityTypeReserved"},
		{"DoNotDisruptAnnotation", DoNotDisruptAnnotation, core, "pkg/apis/v1/labels.go", "DoNotDisruptAnnotationKey"},
		{"UnregisteredTaintKey", UnregisteredTaintKey, core, "pkg/apis/v1/taints.go", "UnregisteredTaintKey"},
		{"LabelEC2NodeClass", LabelEC2NodeClass, provider, "pkg/apis/v1/labels.go", "LabelNodeClass"},
		{"LabelInstanceFamily", LabelInstanceFamily, provider, "pkg/apis/v1/labels.go", "LabelInstanceFamily"},
		{"LabelGPUName", LabelGPUName, provider, "pkg/apis/v1/labels.go", "LabelInstanceGPUName"},
		{"LabelGPUManufacturer", LabelGPUManufacturer, provider, "pkg/apis/v1/labels.go", "LabelInstanceGPUManufacturer"},
		{"LabelGPUCount", LabelGPUCount, provider, "pkg/apis/v1/labels.go", "LabelInstanceGPUCount"},
		{"LabelGPUMemory", LabelGPUMemory, provider, "pkg/apis/v1/labels.go", "LabelInstanceGPUMemory"},
		{"GPUResource", GPUResource, provider, "pkg/apis/v1/labels.go", "ResourceNVIDIAGPU"},
		{"EFAResource", EFAResource, provider, "pkg/apis/v1/labels.go", "ResourceEFA"},
		{"NodeClassTerminationFinalizer", NodeClassTerminationFinalizer, provider, "pkg/apis/v1/labels.go", "TerminationFinalizer"},
		{"NodeClassGroup", NodeClassGroup, provider, "pkg/apis/apis.go", "Group"},
		{"LabelInstanceType", LabelInstanceType, api, "core/v1/well_known_labels.go", "LabelInstanceTypeStable"},
		{"LabelArch", LabelArch, api, "core/v1/well_known_labels.go", "LabelArchStable"},
	}
	for _, tc := range cases {
		if want := tc.from.constant(t, tc.file, tc.ident); tc.got != want {
			t.Errorf("%s is %q; %s's %s (%s) is %q", tc.name, tc.got, tc.from.name, tc.ident, tc.file, want)
		}
	}
	if GPUTaintKey != GPUResource {
		t.Errorf("GPUTaintKey %q: the GPU taint is keyed by the resource name, %q", GPUTaintKey, GPUResource)
	}
}

// crd is what a CRD says of its API: group, kind and served versions.
type crd struct {
	Metadata struct{ Name string }
	Spec     struct {
		Group string
		Names struct{ Kind, Plural string }
		// Versions are the API versions the CRD serves.
		Versions []struct {
			Name   string
			Served bool
			Stored bool `json:"storage"`
		}
	}
}

// The API versions and kinds are those the pinned CRDs serve and store.
func TestAPIVersionsAndKindsAreTheCRDs(t *testing.T) {
	provider, _, _ := modules(t)
	cases := []struct{ file, name, apiVersion, kind string }{
		{"karpenter.k8s.aws_ec2nodeclasses.yaml", EC2NodeClassCRD, NodeClassAPIVersion, NodeClassKind},
		{"karpenter.sh_nodepools.yaml", NodePoolCRD, NodePoolAPIVersion, NodePoolKind},
		{"karpenter.sh_nodeclaims.yaml", NodeClaimCRD, NodeClaimResource.GroupVersion().String(), "NodeClaim"},
		{"karpenter.sh_nodeoverlays.yaml", NodeOverlayCRD, NodeOverlayAPIVersion, NodeOverlayKind},
		{"autoscaling.x-k8s.io_capacitybuffers.yaml", CapacityBufferCRD, CapacityBufferAPIVersion, CapacityBufferKind},
	}
	for _, tc := range cases {
		var c crd
		if err := yaml.Unmarshal([]byte(provider.read(t, filepath.Join("pkg/apis/crds", tc.file))), &c); err != nil {
			t.Fatal(err)
		}
		var stored string
		for _, v := range c.Spec.Versions {
			if v.Served && v.Stored {
				stored = c.Spec.Group + "/" + v.Name
			}
		}
		if tc.apiVersion != stored || tc.kind != c.Spec.Names.Kind || tc.name != c.Metadata.Name {
			t.Errorf("%s is CRD %s, serving and storing %s %s; wellknown has %s %s %s", tc.file, c.Metadata.Name, stored, c.Spec.Names.Kind, tc.name, tc.apiVersion, tc.kind)
		}
		if tc.name == NodeClaimCRD && c.Spec.Names.Plural != NodeClaimResource.Resource {
			t.Errorf("NodeClaims are read as %s, the CRD's plural is %s", NodeClaimResource.Resource, c.Spec.Names.Plural)
		}
	}
	if NodeClassAPIVersion != NodeClassGroup+"/v1" {
		t.Errorf("NodeClassAPIVersion %s is not in NodeClassGroup %s", NodeClassAPIVersion, NodeClassGroup)
	}
}

// The tag keys an EC2NodeClass may not carry are the ones the pinned
// EC2NodeClass CRD restricts, no more and no fewer.
func TestReservedNodeClassTagsAreTheCRDs(t *testing.T) {
	provider, _, _ := modules(t)
	text := provider.read(t, "pkg/apis/crds/karpenter.k8s.aws_ec2nodeclasses.yaml")
	var restricted []string
	for _, m := range regexp.MustCompile(`message: tag contains a restricted tag matching (\S+)`).FindAllStringSubmatch(text, -1) {
		restricted = append(restricted, m[1])
	}
	want := append(slices.Clone(ReservedNodeClassTagKeys), ReservedNodeClassTagPrefix)
	slices.Sort(restricted)
	slices.Sort(want)
	if len(restricted) == 0 || !slices.Equal(slices.Compact(restricted), want) {
		t.Errorf("the CRD restricts tags %v; wellknown reserves %v", restricted, want)
	}
	if !strings.HasSuffix(ReservedNodeClassTagPrefix, "/") {
		t.Errorf("ReservedNodeClassTagPrefix %q is matched as a prefix and must end in /", ReservedNodeClassTagPrefix)
	}
}

// The disruption reasons are those the pinned NodePool CRD's budgets take.
func TestDisruptionReasonsAreTheCRDs(t *testing.T) {
	provider, _, _ := modules(t)
	var c struct {
		Spec struct {
			Versions []struct {
				Schema struct {
					OpenAPIV3Schema struct {
						Properties struct {
							Spec struct {
								Properties struct {
									Disruption struct {
										Properties struct {
											Budgets struct {
												Items struct {
													Properties struct {
														Reasons struct {
															Items struct{ Enum []string }
														}
													}
												}
											}
										}
									}
								}
							}
						}
					} `json:"openAPIV3Schema"`
				}
			}
		}
	}
	if err := yaml.Unmarshal([]byte(provider.read(t, "pkg/apis/crds/karpenter.sh_nodepools.yaml")), &c); err != nil {
		t.Fatal(err)
	}
	got := c.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties.Spec.Properties.Disruption.Properties.Budgets.Items.Properties.Reasons.Items.Enum
	if !slices.Equal(got, DisruptionReasons) {
		t.Errorf("the NodePool CRD's budget reasons are %v; wellknown has %v", got, DisruptionReasons)
	}
}
