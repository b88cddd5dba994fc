package catalog_test

import (
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"karpenter-gpu/catalog"
	"karpenter-gpu/internal/gomod"
)

func lookup(t *testing.T, name string) catalog.InstanceType {
	t.Helper()
	for _, it := range catalog.InstanceTypes {
		if it.Name == name {
			return it
		}
	}
	t.Fatalf("no %s in the catalogue", name)
	return catalog.InstanceType{}
}

func TestOperators(t *testing.T) {
	g5 := lookup(t, "g5.12xlarge") // 4 × a10g, 48 vCPUs
	cases := []struct {
		r    catalog.Requirement
		want bool
	}{
		{catalog.Requirement{Key: "karpenter.k8s.aws/instance-gpu-name", Operator: "In", Values: []string{"a10g", "l4"}}, true},
		{catalog.Requirement{Key: "karpenter.k8s.aws/instance-gpu-name", Operator: "NotIn", Values: []string{"a10g"}}, false},
		{catalog.Requirement{Key: "karpenter.k8s.aws/instance-family", Operator: "Exists"}, true},
		{catalog.Requirement{Key: "karpenter.k8s.aws/instance-family", Operator: "DoesNotExist"}, false},
		{catalog.Requirement{Key: "karpenter.k8s.aws/instance-gpu-count", Operator: "Gt", Values: []string{"4"}}, false},
		{catalog.Requirement{Key: "karpenter.k8s.aws/instance-gpu-count", Operator: "Gte", Values: []string{"4"}}, true},
		{catalog.Requirement{Key: "karpenter.k8s.aws/instance-gpu-count", Operator: "Lt", Values: []string{"4"}}, false},
		{catalog.Requirement{Key: "karpenter.k8s.aws/instance-gpu-count", Operator: "Lte", Values: []string{"4"}}, true},
		{catalog.Requirement{Key: "karpenter.k8s.aws/instance-gpu-memory", Operator: "Gte", Values: []string{"22888"}}, true},
		{catalog.Requirement{Key: "karpenter.k8s.aws/instance-gpu-memory", Operator: "Gte", Values: []string{"24576"}}, false},
		{catalog.Requirement{Key: "karpenter.k8s.aws/instance-cpu", Operator: "Lt", Values: []string{"64"}}, true},
		// Labels that do not tell types apart hold for every type.
		{catalog.Requirement{Key: "karpenter.sh/capacity-type", Operator: "In", Values: []string{"spot"}}, true},
	}
	for _, tc := range cases {
		got, err := g5.Matches(tc.r)
		if err != nil || got != tc.want {
			t.Errorf("%s %s %v on g5.12xlarge = %v (%v), want %v", tc.r.Key, tc.r.Operator, tc.r.Values, got, err, tc.want)
		}
	}
	if _, err := g5.Matches(catalog.Requirement{Key: "karpenter.k8s.aws/instance-gpu-count", Operator: "Gte", Values: []string{"many"}}); err == nil {
		t.Error("a non-numeric bound was accepted")
	}
}

func req(key, op string, values ...string) catalog.Requirement {
	return catalog.Requirement{Key: key, Operator: op, Values: values}
}

func TestMatchSaysWhyNothingMatches(t *testing.T) {
	cases := []struct {
		name string
		reqs []catalog.Requirement
		want string
	}{
		{"t4g on amd64", []catalog.Requirement{req("karpenter.k8s.aws/instance-gpu-name", "In", "t4g"), req("kubernetes.io/arch", "In", "amd64")},
			"requirement kubernetes.io/arch In [amd64] rules out the 6 instance types that meet the others (g5g.xlarge"},
		{"a count no type offers", []catalog.Requirement{req("karpenter.k8s.aws/instance-gpu-count", "Gte", "3"), req("karpenter.k8s.aws/instance-gpu-count", "Lte", "3")},
			"requirement karpenter.k8s.aws/instance-gpu-count Gte [3] and karpenter.k8s.aws/instance-gpu-count Lte [3] rules out the 68 instance types that meet the others (g4dn.xlarge"},
		{"fractional GPUs with a whole-GPU count", []catalog.Requirement{req("karpenter.k8s.aws/instance-family", "In", "g6f", "gr6f"), req("karpenter.k8s.aws/instance-gpu-count", "Gte", "1")},
			"requirement karpenter.k8s.aws/instance-gpu-count Gte [1] rules out the 5 instance types that meet the others (g6f.large"},
	}
	for _, tc := range cases {
		types, err := catalog.Match(tc.reqs)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, %v; want an error containing %q", tc.name, types, err, tc.want)
		}
	}
	types, err := catalog.Match([]catalog.Requirement{req("karpenter.k8s.aws/instance-gpu-name", "In", "h100"), req("karpenter.k8s.aws/instance-gpu-count", "Gte", "8")})
	if err != nil || len(types) != 1 || types[0].Name != "p5.48xlarge" {
		t.Errorf("8 × h100 = %v, %v", types, err)
	}
}

func TestCostCeilingAndVCPUs(t *testing.T) {
	types := []catalog.InstanceType{lookup(t, "g5.xlarge"), lookup(t, "g5.12xlarge"), lookup(t, "g6f.large")}
	usd, setBy, ok := catalog.CostCeiling(types, 10, catalog.PinnedPrices())
	// g5.12xlarge: $5.672 / 4 GPUs = $1.418 per GPU > g5.xlarge $1.006; g6f has no whole GPU.
	if !ok || setBy != "g5.12xlarge" || math.Abs(usd-14.18) > 1e-9 {
		t.Errorf("ceiling = %v by %s (%v)", usd, setBy, ok)
	}
	if _, _, ok := catalog.CostCeiling([]catalog.InstanceType{lookup(t, "p5e.48xlarge")}, 8, catalog.PinnedPrices()); ok {
		t.Error("a ceiling from a type without a list price")
	}
	// 10 GPUs: 10 × g5.xlarge = 40 vCPUs; 3 × g5.12xlarge = 144.
	if vcpus, setBy := catalog.VCPUsNeeded(types, 10); vcpus != 144 || setBy != "g5.12xlarge" {
		t.Errorf("vCPUs = %d by %s", vcpus, setBy)
	}
}

func moduleFile(t *testing.T, path string) string {
	t.Helper()
	dir, err := gomod.Dir(gomod.Karpenter)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, path))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Every type the pinned module's recorded EC2 data has must agree with
// the catalogue, and every row marked as from it must be there.
func TestCatalogueAgreesWithKarpentersRecordedEC2Data(t *testing.T) {
	src := moduleFile(t, "pkg/fake/zz_generated.describe_instance_types.go")
	blocks := regexp.MustCompile(`InstanceType:\s+"([^"]+)"`).FindAllStringSubmatchIndex(src, -1)
	seen := map[string]bool{}
	for i, b := range blocks {
		end := len(src)
		if i+1 < len(blocks) {
			end = blocks[i+1][0]
		}
		name, block := src[b[2]:b[3]], src[b[0]:end]
		gpu := regexp.MustCompile(`Name:\s+aws.String\("([^"]+)"\),\s+Manufacturer:\s+aws.String\("NVIDIA"\),\s+Count:\s+aws.Int32\((\d+)\),\s+MemoryInfo:[^}]*SizeInMiB:\s+aws.Int32\((\d+)\)`).FindStringSubmatch(block)
		if gpu == nil {
			continue
		}
		seen[name] = true
		vcpus := regexp.MustCompile(`DefaultVCpus:\s+aws.Int32\((\d+)\)`).FindStringSubmatch(block)
		memory := regexp.MustCompile(`MemoryInfo:\s+&ec2types.MemoryInfo\{\s+SizeInMiB:\s+aws.Int64\((\d+)\)`).FindStringSubmatch(block)
		it := lookup(t, name)
		count, _ := strconv.Atoi(gpu[2])
		gpuMemory, _ := strconv.Atoi(gpu[3])
		if it.GPUName != strings.ToLower(gpu[1]) || it.GPUCount != count || it.GPUMemoryMi != gpuMemory {
			t.Errorf("%s: catalogue %s × %d (%d MiB), Karpenter's data %s × %d (%d MiB)", name, it.GPUName, it.GPUCount, it.GPUMemoryMi, gpu[1], count, gpuMemory)
		}
		if vcpus == nil || memory == nil || vcpus[1] != strconv.Itoa(it.VCPUs) || memory[1] != strconv.Itoa(it.MemoryMi) {
			t.Errorf("%s: catalogue %d vCPUs %d MiB, Karpenter's data %v %v", name, it.VCPUs, it.MemoryMi, vcpus, memory)
		}
	}
	for _, it := range catalog.InstanceTypes {
		if it.Source == catalog.SourceFakeEC2 && !seen[it.Name] {
			t.Errorf("%s claims Karpenter's recorded data, which has no such NVIDIA type", it.Name)
		}
	}
	if len(seen) < 4 {
		t.Errorf("only %d NVIDIA types found in Karpenter's data: the parser broke", len(seen))
	}
}

// The prices are the pinned module's us-east-1 table, type for type.
func TestPricesAreKarpentersUSEast1Table(t *testing.T) {
	src := moduleFile(t, "pkg/providers/pricing/zz_generated.pricing_aws.go")
	if !strings.Contains(src, "for us-east-1") {
		t.Fatal("the price table is not us-east-1's")
	}
	for _, it := range catalog.InstanceTypes {
		m := regexp.MustCompile(`"` + regexp.QuoteMeta(it.Name) + `":\s*([0-9.]+)`).FindStringSubmatch(src)
		price, listed := catalog.OnDemandHourlyUSD[it.Name]
		switch {
		case m == nil && listed:
			t.Errorf("%s has a price here but none in Karpenter's table", it.Name)
		case m != nil && !listed:
			t.Errorf("%s has no price here but %s in Karpenter's table", it.Name, m[1])
		case m != nil:
			if want, _ := strconv.ParseFloat(m[1], 64); math.Abs(want-price) > 1e-9 {
				t.Errorf("%s: $%v here, $%v in Karpenter's table", it.Name, price, want)
			}
		}
	}
}

func TestRowsAreConsistent(t *testing.T) {
	names := map[string]bool{}
	for _, it := range catalog.InstanceTypes {
		if names[it.Name] {
			t.Errorf("%s listed twice", it.Name)
		}
		names[it.Name] = true
		gpu, ok := catalog.LookupGPU(it.GPUName)
		if !ok || it.GPUMemoryMi > gpu.MaxMemoryMiB {
			t.Errorf("%s: GPU %s (%d MiB) not within the GPU table (%+v)", it.Name, it.GPUName, it.GPUMemoryMi, gpu)
		}
		if !strings.HasPrefix(it.Name, it.Family+".") || (it.Arch != "amd64" && it.Arch != "arm64") {
			t.Errorf("%s: family %s, arch %s", it.Name, it.Family, it.Arch)
		}
	}
}

// Karpenter's GPU names for the product names in the pinned module's DRA
// metadata (what nvidia-smi reports on each type). A product name not
// here fails TestCatalogueCoversKarpentersGPUData: a new GPU must be named.
var draProducts = map[string]string{
	"NVIDIA A100-SXM4-40GB": "a100", "NVIDIA A100-SXM4-80GB": "a100", "NVIDIA A10G": "a10g",
	"NVIDIA B200": "b200", "NVIDIA B300 SXM6 AC": "b300", "NVIDIA H100 80GB HBM3": "h100", "NVIDIA H200": "h200",
	"NVIDIA L4": "l4", "NVIDIA L40S": "l40s", "NVIDIA T4G": "t4g", "Tesla T4": "t4", "Tesla V100-SXM2-32GB": "v100",
	// vGPU profiles of the fractional types: one slice of an L4, which
	// Karpenter counts as no whole GPU (instance-gpu-count 0).
	"NVIDIA L4-3Q": "l4", "NVIDIA L4-6Q": "l4", "NVIDIA L4-12Q": "l4",
}

// GPU instance families of the pinned module's us-east-1 price table that
// the catalogue leaves out, and why.
var leftOutFamilies = map[string]string{
	"g2":   "NVIDIA GRID K520, a generation Karpenter's v1.14 reference no longer lists",
	"g3":   "NVIDIA M60, as g2",
	"g3s":  "NVIDIA M60, as g3",
	"p2":   "NVIDIA K80, as g2",
	"g4ad": "AMD Radeon Pro V520: every pool requires NVIDIA",
}

// The catalogue follows the pinned Karpenter module's own generated data:
// every type its DRA metadata knows has a row with that GPU and count (a
// fractional type, a vGPU slice, counts no whole GPU), and every g or p
// family its price table sells has rows, or is named above with the reason
// it is left out. A new family or a changed count cannot go missing
// silently.
func TestCatalogueCoversKarpentersGPUData(t *testing.T) {
	dra := moduleFile(t, "pkg/providers/drametadata/zz_generated_gpu_metadata.go")
	entries := regexp.MustCompile(`(?s)\n\t"([a-z0-9.-]+)": \{\n\t\tCount: (\d+),.*?"productName":\s+\{StringValue: strPtr\("([^"]+)"\)`).FindAllStringSubmatch(dra, -1)
	if len(entries) < 40 {
		t.Fatalf("only %d types read from the DRA metadata: the parser broke", len(entries))
	}
	for _, e := range entries {
		name, product := e[1], e[3]
		count, _ := strconv.Atoi(e[2])
		gpu, known := draProducts[product]
		if !known {
			t.Errorf("%s: the DRA metadata's GPU %q has no Karpenter name in draProducts", name, product)
			continue
		}
		i := slices.IndexFunc(catalog.InstanceTypes, func(it catalog.InstanceType) bool { return it.Name == name })
		if i < 0 {
			t.Errorf("%s (%d × %s) is in Karpenter's DRA metadata and not in the catalogue", name, count, gpu)
			continue
		}
		it := catalog.InstanceTypes[i]
		if strings.HasSuffix(product, "Q") && strings.Contains(product, "-") {
			count = 0 // a vGPU slice
		}
		if it.GPUName != gpu || it.GPUCount != count {
			t.Errorf("%s: catalogue %d × %s, Karpenter's DRA metadata %d × %s (%s)", name, it.GPUCount, it.GPUName, count, gpu, product)
		}
	}

	prices := moduleFile(t, "pkg/providers/pricing/zz_generated.pricing_aws.go")
	start := strings.Index(prices, "// us-east-1")
	end := strings.Index(prices[start:], "\n\t},")
	if start < 0 || end < 0 {
		t.Fatal("no us-east-1 table in the price file")
	}
	families := catalog.Families()
	for _, m := range regexp.MustCompile(`"(([gp][0-9][a-z0-9-]*)\.[a-z0-9]+)":`).FindAllStringSubmatch(prices[start:start+end], -1) {
		name, family := m[1], m[2]
		if _, left := leftOutFamilies[family]; left {
			continue
		}
		if !slices.Contains(families, family) {
			t.Errorf("Karpenter prices %s, of family %s, which the catalogue neither lists nor leaves out with a reason", name, family)
			continue
		}
		if !slices.ContainsFunc(catalog.InstanceTypes, func(it catalog.InstanceType) bool { return it.Name == name }) {
			t.Errorf("Karpenter prices %s, of the catalogue's family %s, and the catalogue has no row for it", name, family)
		}
	}
}

// Every type's network cards are what the pinned module records, the
// numbers Karpenter's compatibility check reads, for every catalogue type.
func TestNetworkCardsAreKarpentersVPCLimits(t *testing.T) {
	src := moduleFile(t, "pkg/providers/instancetype/zz_generated.vpclimits.go")
	entry := regexp.MustCompile(`(?s)\n\t"([a-z0-9.\-]+)": \{(.*?)\n\t\},`)
	cards := regexp.MustCompile(`(?s)NetworkCards:\s*\[\]NetworkCard\{(.*?)\n\t\t\},`)
	recorded := map[string]int{}
	for _, m := range entry.FindAllStringSubmatch(src, -1) {
		if c := cards.FindStringSubmatch(m[2]); c != nil {
			recorded[m[1]] = strings.Count(c[1], "NetworkCardIndex:")
		}
	}
	if len(recorded) < 100 {
		t.Fatalf("read network cards of %d types from the module: its layout changed", len(recorded))
	}
	for _, it := range catalog.InstanceTypes {
		if got, want := catalog.NetworkCards[it.Name], recorded[it.Name]; got != want || want == 0 {
			t.Errorf("%s: NetworkCards %d, the module records %d", it.Name, got, want)
		}
	}
	if len(catalog.NetworkCards) != len(catalog.InstanceTypes) {
		t.Errorf("NetworkCards has %d types, the catalogue %d", len(catalog.NetworkCards), len(catalog.InstanceTypes))
	}
}
