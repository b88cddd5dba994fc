// Preflight: the Karpenter objects judged by the pinned release's CRD
// schemas before anything exists.

package stack

import (
	"fmt"

	"karpenter-gpu/config"
	"karpenter-gpu/gpu"
	"karpenter-gpu/internal/crdschema"
	"karpenter-gpu/karpenter"
	"karpenter-gpu/versions"
)

// checkKarpenterObjects validates the EC2NodeClasses, NodePools and
// NodeOverlays against the CRD schemas of the pinned Karpenter release
// before anything exists: the API server would otherwise reject them only
// after the AWS side is built.
func checkKarpenterObjects(cfg *config.Stack) error {
	schema, err := crdschema.Karpenter()
	if err != nil {
		return err
	}
	subnets, groups := cfg.Discovery.SubnetIDs, cfg.Discovery.SecurityGroupIDs
	if len(subnets) == 0 {
		subnets = []string{placeholderSubnet}
	}
	if len(groups) == 0 {
		groups = []string{placeholderSecurityGroup}
	}
	var objects []map[string]any
	for _, nc := range cfg.NodeClasses {
		s := nodeClassSettings(cfg, nc, subnets, groups)
		s.RoleName, s.EFASecurityGroupID = placeholderRole, placeholderSecurityGroup
		objects = append(objects, karpenter.NodeClassObject(s))
	}
	for _, pool := range cfg.GPUPools {
		objects = append(objects, gpu.NodePoolObject(pool))
		objects = append(objects, gpu.SharingOverlayObjects(pool)...)
	}
	for _, obj := range objects {
		if err := schema.Validate(obj); err != nil {
			return fmt.Errorf("this configuration would be rejected by Karpenter %s: %w", versions.Karpenter, err)
		}
	}
	return nil
}

// Placeholders stand for names and IDs the cloud assigns later; they have
// the form Karpenter's schema checks.
const (
	placeholderRole          = "karpenter-node-0000000"
	placeholderSecurityGroup = "sg-00000000000000000"
	placeholderSubnet        = "subnet-00000000000000000"
)
