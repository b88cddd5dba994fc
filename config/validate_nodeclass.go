// Validation of nodeClasses: AMI, volumes, capacity, EFA and placement.

package config

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"karpenter-gpu/versions"
	"karpenter-gpu/wellknown"
)

// validateNodeClasses checks each entry of nodeClasses.
func (c *Stack) validateNodeClasses(p *problems) {
	seen := map[string]bool{}
	for i, nc := range c.NodeClasses {
		key := entryKey(p, "nodeClasses", "node class", i, nc.Name, seen)
		nc.validate(p, key)
	}
}

func (n *NodeClass) validate(p *problems, key string) {
	family, version, hasVersion := strings.Cut(n.AMI, "@")
	switch {
	case !slices.Contains(amiFamilies, family):
		p.add(key+".ami", n.AMI, "want an AMI alias family@version with family one of "+strings.Join(amiFamilies, ", ")+" (Amazon Linux 2 AMIs ended with Kubernetes 1.32)")
	case !hasVersion:
		p.add(key+".ami", n.AMI, "pin the AMI release, e.g. "+amiVersionExample[family]+"; "+family+"@latest also works with allowLatestAmi: true, but rolls every GPU node on each AMI release")
	case !amiVersionPattern[family].MatchString(version):
		p.add(key+".ami", n.AMI, "want a release such as "+amiVersionExample[family])
	case version == "latest" && !n.AllowLatestAMI:
		p.add(key+".ami", n.AMI, "@latest replaces every GPU node whenever AWS publishes an AMI; pin a release such as "+amiVersionExample[family]+", or set allowLatestAmi: true to accept that")
	}
	v := n.RootVolume
	intRange(p, key+".rootVolume.sizeGiB", v.SizeGiB, 50, gp3MaxSizeGiB)
	intRange(p, key+".rootVolume.iops", v.IOPS, 3000, gp3MaxIOPS)
	intRange(p, key+".rootVolume.throughputMiBps", v.ThroughputMiBps, 125, gp3MaxThroughput)
	if v.SizeGiB > 0 && v.IOPS > gp3IOPSPerGiB*v.SizeGiB {
		p.add(key+".rootVolume.iops", v.IOPS, fmt.Sprintf("gp3 allows at most %d IOPS per GiB: %d at most for %d GiB", gp3IOPSPerGiB, gp3IOPSPerGiB*v.SizeGiB, v.SizeGiB))
	}
	if float64(v.ThroughputMiBps) > gp3ThroughputPerOps*float64(v.IOPS) {
		p.add(key+".rootVolume.throughputMiBps", v.ThroughputMiBps, fmt.Sprintf("gp3 allows at most %.2f MiB/s per IOPS: %d at most with %d IOPS", gp3ThroughputPerOps, int(gp3ThroughputPerOps*float64(v.IOPS)), v.IOPS))
	}
	oneOf(p, key+".instanceStorePolicy", n.InstanceStorePolicy, "", "RAID0")
	for i, r := range n.CapacityReservations {
		validateReservation(p, fmt.Sprintf("%s.capacityReservations[%d]", key, i), r)
	}
	if e := n.EFA; e.NetworkCards != 0 {
		intRange(p, key+".efa.networkCards", e.NetworkCards, 1, 64)
		if len(n.SubnetIDs) == 0 {
			p.add(key+".subnetIds", nil, "an EFA class needs the subnets of one availability zone: EFA traffic does not cross zones, and a cluster placement group lives in one")
		}
	}
	if pg := n.PlacementGroup; pg.Name != "" && pg.ID != "" {
		p.add(key+".placementGroup", map[string]string{"name": pg.Name, "id": pg.ID}, "set name or id, not both")
	} else if pg.ID != "" && !placementGroupIDPattern.MatchString(pg.ID) {
		p.add(key+".placementGroup.id", pg.ID, "want a placement group ID such as pg-0123456789abcdef0")
	}
	eachMatches(p, key+".subnetIds", n.SubnetIDs, subnetIDPattern, "want subnet IDs such as subnet-0123456789abcdef0")
	if n.SOCI {
		validateSOCI(p, key, n)
	}
	if snap := n.DataVolumeSnapshot; snap.SnapshotID != "" || snap.InitializationRateMiBps != 0 {
		switch {
		case n.Family() != wellknown.AMIFamilyBottlerocket:
			p.add(key+".dataVolumeSnapshot", snap, "only Bottlerocket keeps images on a separate data volume that a snapshot can fill")
		case !snapshotIDPattern.MatchString(snap.SnapshotID):
			p.add(key+".dataVolumeSnapshot.snapshotId", snap.SnapshotID, "want an EBS snapshot ID such as snap-0123456789abcdef0")
		}
		if r := snap.InitializationRateMiBps; r != 0 {
			intRange(p, key+".dataVolumeSnapshot.initializationRateMiBps", r, 100, 300)
		}
	}
	validateAWSTags(p, key+".tags", n.Tags)
	for _, k := range slices.Sorted(maps.Keys(n.Tags)) {
		if slices.Contains(wellknown.ReservedNodeClassTagKeys, k) || strings.HasPrefix(k, wellknown.ReservedNodeClassTagPrefix) {
			p.add(key+".tags."+k, n.Tags[k], "Karpenter sets this tag itself and rejects it in an EC2NodeClass; reserved: "+strings.Join(wellknown.ReservedNodeClassTagKeys, ", ")+", "+wellknown.ReservedNodeClassTagPrefix+"*")
		}
	}
}

// AMI families the EC2NodeClass may boot (both pick their NVIDIA variant by
// themselves), with the form of their release versions and an example.
var (
	amiFamilies       = []string{wellknown.AMIFamilyAL2023, wellknown.AMIFamilyBottlerocket}
	amiVersionPattern = map[string]*regexp.Regexp{
		wellknown.AMIFamilyAL2023:       regexp.MustCompile(`^(v[0-9]{8}|latest)$`),
		wellknown.AMIFamilyBottlerocket: regexp.MustCompile(`^(v[0-9]+\.[0-9]+\.[0-9]+|latest)$`),
	}
	amiVersionExample = map[string]string{wellknown.AMIFamilyAL2023: versions.DefaultAMI, wellknown.AMIFamilyBottlerocket: "bottlerocket@v1.50.0"}
)

// gp3 limits: EBS allows 80,000 IOPS and 2,000 MiB/s since 2025, at most
// 500 IOPS per GiB and 0.25 MiB/s per IOPS; the size is capped by the
// pinned EC2NodeClass CRD's volumeSize pattern (59000Gi).
const (
	gp3MaxSizeGiB       = 59000
	gp3MaxIOPS          = 80000
	gp3MaxThroughput    = 2000
	gp3IOPSPerGiB       = 500
	gp3ThroughputPerOps = 0.25
)

// SOCI parallel pull needs an AMI that ships the snapshotter (AL2023 since
// the v20250829 release, through nodeadm's FastImagePull gate) and pulls
// slower than containerd's default below about 600 MiB/s of volume
// throughput, which AWS documents for the mode.
const (
	sociMinAL2023Release   = "v20250829"
	sociMinThroughputMiBps = 600
)

func validateSOCI(p *problems, key string, n *NodeClass) {
	if _, version, _ := strings.Cut(n.AMI, "@"); n.Family() == wellknown.AMIFamilyAL2023 && version != "latest" && version < sociMinAL2023Release {
		p.add(key+".soci", true, fmt.Sprintf("%s predates SOCI in the AL2023 AMI; pin %s or later", n.AMI, sociMinAL2023Release))
	}
	// With RAID0 the images land on the instance store, not on EBS.
	if t := n.RootVolume.ThroughputMiBps; t < sociMinThroughputMiBps && n.InstanceStorePolicy != "RAID0" {
		p.add(key+".soci", true, fmt.Sprintf("parallel pull is slower than the default below %d MiB/s of volume throughput; set %s.rootVolume.throughputMiBps to %d or more (it is %d), or keep images on the instance store with instanceStorePolicy RAID0", sociMinThroughputMiBps, key, sociMinThroughputMiBps, t))
	}
}

func validateReservation(p *problems, key string, r CapacityReservation) {
	const forms = "want one of {id}, {tags, ownerId}, {instanceMatchCriteria: open|targeted}"
	switch {
	case r.ID != "" && (len(r.Tags) > 0 || r.OwnerID != "" || r.InstanceMatchCriteria != ""):
		p.add(key, r, "id selects one reservation and goes alone; "+forms)
	case r.ID != "":
		if !reservationIDPattern.MatchString(r.ID) {
			p.add(key+".id", r.ID, "want a capacity reservation ID such as cr-0123456789abcdef0")
		}
	case len(r.Tags) == 0 && r.InstanceMatchCriteria == "":
		p.add(key, r, forms)
	}
	if r.OwnerID != "" && !accountIDPattern.MatchString(r.OwnerID) {
		p.add(key+".ownerId", r.OwnerID, "want the 12-digit account ID that owns the reservation")
	}
	if r.InstanceMatchCriteria != "" {
		oneOf(p, key+".instanceMatchCriteria", r.InstanceMatchCriteria, "open", "targeted")
	}
	for _, k := range slices.Sorted(maps.Keys(r.Tags)) {
		if k == "" || r.Tags[k] == "" {
			p.add(key+".tags", r.Tags, "empty tag keys or values select nothing")
		}
	}
}
