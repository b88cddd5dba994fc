package catalog

// NetworkCards are each type's network cards, as the pinned Karpenter
// module records them (pkg/providers/instancetype/zz_generated.vpclimits.go,
// which Karpenter's compatibility check reads: a node class that attaches
// interfaces on more cards than a type has never launches it). A test
// compares them with the module.
var NetworkCards = map[string]int{
	"g4dn.xlarge": 1, "g4dn.2xlarge": 1, "g4dn.4xlarge": 1, "g4dn.8xlarge": 1, "g4dn.12xlarge": 1, "g4dn.16xlarge": 1, "g4dn.metal": 1,
	"g5.xlarge": 1, "g5.2xlarge": 1, "g5.4xlarge": 1, "g5.8xlarge": 1, "g5.12xlarge": 1, "g5.16xlarge": 1, "g5.24xlarge": 1, "g5.48xlarge": 1,
	"g5g.xlarge": 1, "g5g.2xlarge": 1, "g5g.4xlarge": 1, "g5g.8xlarge": 1, "g5g.16xlarge": 1, "g5g.metal": 1,
	"g6.xlarge": 1, "g6.2xlarge": 1, "g6.4xlarge": 1, "g6.8xlarge": 1, "g6.12xlarge": 1, "g6.16xlarge": 1, "g6.24xlarge": 1, "g6.48xlarge": 1,
	"g6e.xlarge": 1, "g6e.2xlarge": 1, "g6e.4xlarge": 1, "g6e.8xlarge": 1, "g6e.12xlarge": 1, "g6e.16xlarge": 1, "g6e.24xlarge": 2, "g6e.48xlarge": 4,
	"g6f.large": 1, "g6f.xlarge": 1, "g6f.2xlarge": 1, "g6f.4xlarge": 1,
	"gr6.4xlarge": 1, "gr6.8xlarge": 1,
	"gr6f.4xlarge": 1,
	"g7.2xlarge":   1, "g7.4xlarge": 1, "g7.8xlarge": 1, "g7.12xlarge": 1, "g7.24xlarge": 1, "g7.48xlarge": 2,
	"g7e.2xlarge": 1, "g7e.4xlarge": 1, "g7e.8xlarge": 1, "g7e.12xlarge": 1, "g7e.24xlarge": 2, "g7e.48xlarge": 4,
	"p3.2xlarge": 1, "p3.8xlarge": 1, "p3.16xlarge": 1,
	"p3dn.24xlarge": 1,
	"p4d.24xlarge":  4,
	"p4de.24xlarge": 4,
	"p5.4xlarge":    1, "p5.48xlarge": 32,
	"p5e.48xlarge":     32,
	"p5en.48xlarge":    16,
	"p6-b200.48xlarge": 8,
	"p6-b300.48xlarge": 17,
}
