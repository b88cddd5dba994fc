package catalog

// InstanceType is one EC2 instance type with NVIDIA GPUs.
type InstanceType struct {
	Name     string
	Family   string
	Arch     string // amd64 or arm64
	VCPUs    int
	MemoryMi int // instance memory, MiB
	// GPUName, GPUCount and GPUMemoryMi are the values of Karpenter's
	// instance-gpu-name, instance-gpu-count and instance-gpu-memory labels.
	// Fractional-GPU types (g6f, gr6f) have GPUCount 0.
	GPUName     string
	GPUCount    int
	GPUMemoryMi int
	// Source says where the row comes from (see Sources).
	Source string
}

// Sources of the catalogue rows.
const (
	// SourceReference: transcribed from Karpenter's instance-type reference
	// (website/content/en/docs/reference/instance-types.md at commit
	// 0c5e7d8112409aff07b0f17a0f51c87bdba52ed1 of aws/karpenter-provider-aws),
	// read on 2026-11-28.
	SourceReference = "karpenter-reference"
	// SourceReferenceV114: transcribed from the v1.14 instance-type
	// reference (website/content/en/v1.14/reference/instance-types.md at
	// commit 1d927085dd81a9df9301e613f371dac5b4d16bfe), the newest readable
	// on 2026-11-29; it supersedes SourceReference where both list a type.
	SourceReferenceV114 = "karpenter-reference-v1.14"
	// SourceFakeEC2: matches the EC2 data recorded in the pinned Karpenter
	// module (pkg/fake/zz_generated.describe_instance_types.go); a test
	// compares them.
	SourceFakeEC2 = "karpenter-fake-ec2"
)

// InstanceTypes is the catalogue. Dated 2026-11-29; families AWS added
// later are missing until added here.
var InstanceTypes = []InstanceType{
	{"g4dn.xlarge", "g4dn", "amd64", 4, 16384, "t4", 1, 16384, SourceReference},
	{"g4dn.2xlarge", "g4dn", "amd64", 8, 32768, "t4", 1, 16384, SourceReference},
	{"g4dn.4xlarge", "g4dn", "amd64", 16, 65536, "t4", 1, 16384, SourceReference},
	{"g4dn.8xlarge", "g4dn", "amd64", 32, 131072, "t4", 1, 16384, SourceFakeEC2},
	{"g4dn.12xlarge", "g4dn", "amd64", 48, 196608, "t4", 4, 16384, SourceReference},
	{"g4dn.16xlarge", "g4dn", "amd64", 64, 262144, "t4", 1, 16384, SourceReference},
	{"g4dn.metal", "g4dn", "amd64", 96, 393216, "t4", 8, 16384, SourceReference},

	{"g5.xlarge", "g5", "amd64", 4, 16384, "a10g", 1, 22888, SourceReference},
	{"g5.2xlarge", "g5", "amd64", 8, 32768, "a10g", 1, 22888, SourceReference},
	{"g5.4xlarge", "g5", "amd64", 16, 65536, "a10g", 1, 22888, SourceReference},
	{"g5.8xlarge", "g5", "amd64", 32, 131072, "a10g", 1, 22888, SourceReference},
	{"g5.12xlarge", "g5", "amd64", 48, 196608, "a10g", 4, 22888, SourceReference},
	{"g5.16xlarge", "g5", "amd64", 64, 262144, "a10g", 1, 22888, SourceReference},
	{"g5.24xlarge", "g5", "amd64", 96, 393216, "a10g", 4, 22888, SourceReference},
	{"g5.48xlarge", "g5", "amd64", 192, 786432, "a10g", 8, 22888, SourceReference},

	{"g5g.xlarge", "g5g", "arm64", 4, 8192, "t4g", 1, 16384, SourceReference},
	{"g5g.2xlarge", "g5g", "arm64", 8, 16384, "t4g", 1, 16384, SourceReference},
	{"g5g.4xlarge", "g5g", "arm64", 16, 32768, "t4g", 1, 16384, SourceReference},
	{"g5g.8xlarge", "g5g", "arm64", 32, 65536, "t4g", 1, 16384, SourceReference},
	{"g5g.16xlarge", "g5g", "arm64", 64, 131072, "t4g", 2, 16384, SourceReference},
	{"g5g.metal", "g5g", "arm64", 64, 131072, "t4g", 2, 16384, SourceReference},

	{"g6.xlarge", "g6", "amd64", 4, 16384, "l4", 1, 22888, SourceReference},
	{"g6.2xlarge", "g6", "amd64", 8, 32768, "l4", 1, 22888, SourceReference},
	{"g6.4xlarge", "g6", "amd64", 16, 65536, "l4", 1, 22888, SourceReference},
	{"g6.8xlarge", "g6", "amd64", 32, 131072, "l4", 1, 22888, SourceReference},
	{"g6.12xlarge", "g6", "amd64", 48, 196608, "l4", 4, 22888, SourceFakeEC2},
	{"g6.16xlarge", "g6", "amd64", 64, 262144, "l4", 1, 22888, SourceReference},
	{"g6.24xlarge", "g6", "amd64", 96, 393216, "l4", 4, 22888, SourceReference},
	{"g6.48xlarge", "g6", "amd64", 192, 786432, "l4", 8, 22888, SourceReference},

	{"g6e.xlarge", "g6e", "amd64", 4, 32768, "l40s", 1, 45776, SourceReference},
	{"g6e.2xlarge", "g6e", "amd64", 8, 65536, "l40s", 1, 45776, SourceReference},
	{"g6e.4xlarge", "g6e", "amd64", 16, 131072, "l40s", 1, 45776, SourceReference},
	{"g6e.8xlarge", "g6e", "amd64", 32, 262144, "l40s", 1, 45776, SourceReference},
	{"g6e.12xlarge", "g6e", "amd64", 48, 393216, "l40s", 4, 45776, SourceReference},
	{"g6e.16xlarge", "g6e", "amd64", 64, 524288, "l40s", 1, 45776, SourceReference},
	{"g6e.24xlarge", "g6e", "amd64", 96, 786432, "l40s", 4, 45776, SourceReference},
	{"g6e.48xlarge", "g6e", "amd64", 192, 1572864, "l40s", 8, 45776, SourceReference},

	{"g6f.large", "g6f", "amd64", 2, 8192, "l4", 0, 2861, SourceReference},
	{"g6f.xlarge", "g6f", "amd64", 4, 16384, "l4", 0, 2861, SourceReference},
	{"g6f.2xlarge", "g6f", "amd64", 8, 32768, "l4", 0, 5722, SourceReference},
	{"g6f.4xlarge", "g6f", "amd64", 16, 65536, "l4", 0, 11444, SourceReference},
	{"gr6.4xlarge", "gr6", "amd64", 16, 131072, "l4", 1, 22888, SourceReference},
	{"gr6.8xlarge", "gr6", "amd64", 32, 262144, "l4", 1, 22888, SourceReference},
	{"gr6f.4xlarge", "gr6f", "amd64", 16, 131072, "l4", 0, 11444, SourceReference},

	{"g7.2xlarge", "g7", "amd64", 8, 32768, "rtx-pro-4500", 1, 32768, SourceReferenceV114},
	{"g7.4xlarge", "g7", "amd64", 16, 65536, "rtx-pro-4500", 1, 32768, SourceReferenceV114},
	{"g7.8xlarge", "g7", "amd64", 32, 131072, "rtx-pro-4500", 1, 32768, SourceReferenceV114},
	{"g7.12xlarge", "g7", "amd64", 48, 196608, "rtx-pro-4500", 2, 32768, SourceReferenceV114},
	{"g7.24xlarge", "g7", "amd64", 96, 393216, "rtx-pro-4500", 4, 32768, SourceReferenceV114},
	{"g7.48xlarge", "g7", "amd64", 192, 786432, "rtx-pro-4500", 8, 32768, SourceReferenceV114},

	{"g7e.2xlarge", "g7e", "amd64", 8, 65536, "rtx-pro-server-6000", 1, 98304, SourceReferenceV114},
	{"g7e.4xlarge", "g7e", "amd64", 16, 131072, "rtx-pro-server-6000", 1, 98304, SourceReferenceV114},
	{"g7e.8xlarge", "g7e", "amd64", 32, 262144, "rtx-pro-server-6000", 1, 98304, SourceReferenceV114},
	{"g7e.12xlarge", "g7e", "amd64", 48, 524288, "rtx-pro-server-6000", 2, 98304, SourceReferenceV114},
	{"g7e.24xlarge", "g7e", "amd64", 96, 1048576, "rtx-pro-server-6000", 4, 98304, SourceReferenceV114},
	{"g7e.48xlarge", "g7e", "amd64", 192, 2097152, "rtx-pro-server-6000", 8, 98304, SourceReferenceV114},

	{"p3.2xlarge", "p3", "amd64", 8, 62464, "v100", 1, 16384, SourceReference},
	{"p3.8xlarge", "p3", "amd64", 32, 249856, "v100", 4, 16384, SourceReference},
	{"p3.16xlarge", "p3", "amd64", 64, 499712, "v100", 8, 16384, SourceReference},
	{"p3dn.24xlarge", "p3dn", "amd64", 96, 786432, "v100", 8, 32768, SourceReference},
	{"p4d.24xlarge", "p4d", "amd64", 96, 1179648, "a100", 8, 40960, SourceReference},
	{"p4de.24xlarge", "p4de", "amd64", 96, 1179648, "a100", 8, 81920, SourceReference},
	{"p5.4xlarge", "p5", "amd64", 16, 262144, "h100", 1, 81920, SourceReferenceV114},
	{"p5.48xlarge", "p5", "amd64", 192, 2097152, "h100", 8, 81920, SourceFakeEC2},
	{"p5e.48xlarge", "p5e", "amd64", 192, 2097152, "h200", 8, 144384, SourceReference},
	{"p5en.48xlarge", "p5en", "amd64", 192, 2097152, "h200", 8, 144384, SourceReference},
	{"p6-b200.48xlarge", "p6-b200", "amd64", 192, 2097152, "b200", 8, 183359, SourceReference},
	{"p6-b300.48xlarge", "p6-b300", "amd64", 192, 4194304, "b300", 8, 275040, SourceReferenceV114},
}

// PricesRegion is the region of OnDemandHourlyUSD.
const PricesRegion = "us-east-1"

// OnDemandHourlyUSD are on-demand list prices per hour in us-east-1, from
// the pinned Karpenter module's generated price table
// (pkg/providers/pricing/zz_generated.pricing_aws.go, "generated at
// 2026-07-20T13:44:30Z for us-east-1"; a test compares them). Types EC2
// sells only as capacity blocks (p5e) have none. Karpenter itself falls
// back to these prices where it cannot read the pricing API.
var OnDemandHourlyUSD = map[string]float64{
	"g4dn.xlarge": 0.526, "g4dn.2xlarge": 0.752, "g4dn.4xlarge": 1.204, "g4dn.8xlarge": 2.176,
	"g4dn.12xlarge": 3.912, "g4dn.16xlarge": 4.352, "g4dn.metal": 7.824,
	"g5.xlarge": 1.006, "g5.2xlarge": 1.212, "g5.4xlarge": 1.624, "g5.8xlarge": 2.448,
	"g5.12xlarge": 5.672, "g5.16xlarge": 4.096, "g5.24xlarge": 8.144, "g5.48xlarge": 16.288,
	"g5g.xlarge": 0.42, "g5g.2xlarge": 0.556, "g5g.4xlarge": 0.828, "g5g.8xlarge": 1.372,
	"g5g.16xlarge": 2.744, "g5g.metal": 2.744,
	"g6.xlarge": 0.8048, "g6.2xlarge": 0.9776, "g6.4xlarge": 1.3232, "g6.8xlarge": 2.0144,
	"g6.12xlarge": 4.6016, "g6.16xlarge": 3.3968, "g6.24xlarge": 6.6752, "g6.48xlarge": 13.3504,
	"g6e.xlarge": 1.861, "g6e.2xlarge": 2.24208, "g6e.4xlarge": 3.00424, "g6e.8xlarge": 4.52856,
	"g6e.12xlarge": 10.49264, "g6e.16xlarge": 7.57719, "g6e.24xlarge": 15.06559, "g6e.48xlarge": 30.13118,
	"g6f.large": 0.202, "g6f.xlarge": 0.2375, "g6f.2xlarge": 0.475, "g6f.4xlarge": 0.95,
	"gr6.4xlarge": 1.5392, "gr6.8xlarge": 2.4464, "gr6f.4xlarge": 1.066,
	"g7.2xlarge": 2.52, "g7.4xlarge": 3.04208, "g7.8xlarge": 4.08624,
	"g7.12xlarge": 7.12832, "g7.24xlarge": 14.25664, "g7.48xlarge": 28.51328,
	"g7e.2xlarge": 3.36312, "g7e.4xlarge": 3.99816, "g7e.8xlarge": 5.26824,
	"g7e.12xlarge": 8.28608, "g7e.24xlarge": 16.57216, "g7e.48xlarge": 33.14432,
	"p3.2xlarge": 3.06, "p3.8xlarge": 12.24, "p3.16xlarge": 24.48, "p3dn.24xlarge": 31.212,
	"p4d.24xlarge": 21.957642, "p4de.24xlarge": 27.44705,
	"p5.4xlarge": 6.88, "p5.48xlarge": 55.04, "p5en.48xlarge": 63.296,
	"p6-b200.48xlarge": 113.9328, "p6-b300.48xlarge": 142.416,
}

// QuotaClass is the EC2 vCPU quota an instance type counts against: "G"
// (G and VT instances) or "P".
func (t InstanceType) QuotaClass() string {
	if t.Family[0] == 'p' {
		return "P"
	}
	return "G"
}
