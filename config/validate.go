package config

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"karpenter-gpu/catalog"
	"karpenter-gpu/versions"
	"karpenter-gpu/wellknown"
)

var (
	clusterNamePattern = regexp.MustCompile(`^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$`)
	dnsLabelPattern    = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
	semverPattern      = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+$`)
	// AWS's EKS charts are versioned with a leading v.
	efaChartVersionPattern  = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+$`)
	k8sVersionPattern       = regexp.MustCompile(`^1\.[0-9]{2}$`)
	subnetIDPattern         = regexp.MustCompile(`^subnet-[0-9a-f]{8,17}$`)
	sgIDPattern             = regexp.MustCompile(`^sg-[0-9a-f]{8,17}$`)
	vpcIDPattern            = regexp.MustCompile(`^vpc-[0-9a-f]{8,17}$`)
	placementGroupIDPattern = regexp.MustCompile(`^pg-[0-9a-z]+$`)
	reservationIDPattern    = regexp.MustCompile(`^cr-[0-9a-z]+$`)
	accountIDPattern        = regexp.MustCompile(`^[0-9]{12}$`)
	roleNamePattern         = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	snapshotIDPattern       = regexp.MustCompile(`^snap-[0-9a-f]{8,17}$`)
	policyARNPattern        = regexp.MustCompile(`^arn:aws(-cn|-us-gov)?:iam::([0-9]{12}|aws):policy/.+$`)
	quantityPattern         = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?(m|Mi|Gi|Ki)?$`)
	durationPattern         = regexp.MustCompile(`^([0-9]+(s|m|h))+$`)
	budgetNodesPattern      = regexp.MustCompile(`^((100|[0-9]{1,2})%|[0-9]+)$`)
	budgetDurPattern        = regexp.MustCompile(`^([0-9]+h)?([0-9]+m)?$`)
	instanceTypePattern     = regexp.MustCompile(`^[a-z][a-z0-9-]*\.[a-z0-9-]+$`)
	familyPattern           = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
	labelKeyPattern         = regexp.MustCompile(`^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$`)
	labelValuePattern       = regexp.MustCompile(`^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$`)
)

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

func (c *Stack) validate(p *problems) {
	switch {
	case c.ClusterName == "":
		p.add("clusterName", nil, "set the name of the EKS cluster, e.g. `pulumi config set clusterName my-cluster`")
	case !clusterNamePattern.MatchString(c.ClusterName):
		p.add("clusterName", c.ClusterName, "want 1-100 letters, digits, '-' or '_', starting with a letter or digit")
	}
	c.Cluster.validate(p)
	c.Karpenter.validate(p)
	if c.Cluster.Create && c.Karpenter.CreateOIDCProvider {
		p.add("karpenter.createOidcProvider", true, "a cluster created by this stack gets its OIDC provider with it; remove the key")
	}
	oneOf(p, "nodeAccess", string(c.NodeAccess), NodeAccessAuto, NodeAccessAccessEntry, NodeAccessAwsAuth, NodeAccessNone)
	c.validatePoolsOnly(p)
	if c.Cluster.Create && c.NodeAccess == NodeAccessAwsAuth {
		p.add("nodeAccess", string(c.NodeAccess), "a cluster created by this stack uses API authentication only; use auto or accessEntry")
	}
	oneOf(p, "discovery.mode", string(c.Discovery.Mode), DiscoveryTags, DiscoveryIDs)
	if c.Discovery.Mode == DiscoveryIDs && c.Cluster.Create && len(c.Discovery.SecurityGroupIDs) == 0 {
		p.add("discovery.securityGroupIds", nil, "discovery.mode ids selects security groups by ID, and a cluster this stack creates has no ID yet; name the groups, or use mode tags")
	}
	eachMatches(p, "discovery.subnetIds", c.Discovery.SubnetIDs, subnetIDPattern, "want subnet IDs such as subnet-0123456789abcdef0")
	eachMatches(p, "discovery.securityGroupIds", c.Discovery.SecurityGroupIDs, sgIDPattern, "want security group IDs such as sg-0123456789abcdef0")
	eachMatches(p, "nodeRole.extraPolicyArns", c.NodeRole.ExtraPolicyARNs, policyARNPattern, "want IAM policy ARNs such as arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy")
	if n := c.NodeRole; n.Name != "" {
		if !roleNamePattern.MatchString(n.Name) {
			p.add("nodeRole.name", n.Name, "want an IAM role name (1-64 letters, digits, +=,.@_-)")
		}
		if len(n.ExtraPolicyARNs) > 0 || n.PermissionsBoundary != "" {
			p.add("nodeRole", map[string]any{"name": n.Name, "extraPolicyArns": n.ExtraPolicyARNs, "permissionsBoundary": n.PermissionsBoundary},
				"an existing role (nodeRole.name) is not the stack's to change; attach policies to it where it is managed")
		}
	}
	if b := c.NodeRole.PermissionsBoundary; b != "" && !policyARNPattern.MatchString(b) {
		p.add("nodeRole.permissionsBoundary", b, "want an IAM policy ARN")
	}
	validateAWSTags(p, "tags", c.Tags)
	c.validateNodeClasses(p)
	c.validatePools(p)
	if !semverPattern.MatchString(c.DevicePlugin.Version) {
		p.add("devicePlugin.version", c.DevicePlugin.Version, "want a chart version such as 0.20.0")
	}
	chartRepository(p, "karpenter.chartRepository", c.Karpenter.ChartRepository)
	chartRepository(p, "devicePlugin.chartRepository", c.DevicePlugin.ChartRepository)
	chartRepository(p, "efaDevicePlugin.chartRepository", c.EFADevicePlugin.ChartRepository)
	if !efaChartVersionPattern.MatchString(c.EFADevicePlugin.Version) {
		p.add("efaDevicePlugin.version", c.EFADevicePlugin.Version, "want a chart version such as "+versions.EFADevicePlugin)
	}
	if d, err := time.ParseDuration(c.DestroyTimeout); err != nil || d < time.Minute || d > 7*24*time.Hour {
		p.add("destroyTimeout", c.DestroyTimeout, "want a duration from 1m to 168h, such as 30m")
	}
	if !dnsLabelPattern.MatchString(c.DevicePlugin.Namespace) {
		p.add("devicePlugin.namespace", c.DevicePlugin.Namespace, "want a Kubernetes namespace name (lowercase letters, digits, '-')")
	}
}

// ControllerKeys are the keys that configure the Karpenter controller this
// stack installs; with karpenter.install false they have nothing to act on.
var ControllerKeys = []string{
	"karpenter.awsFeatureGates", "karpenter.chartRepository", "karpenter.cpu", "karpenter.createOidcProvider", "karpenter.featureGates",
	"karpenter.identity", "karpenter.logLevel", "karpenter.memory", "karpenter.replicas", "karpenter.values",
}

// controllerSetting is the value of one of ControllerKeys.
func controllerSetting(k Karpenter, key string) any {
	var fields map[string]any
	raw, _ := json.Marshal(k)
	_ = json.Unmarshal(raw, &fields)
	return fields[strings.TrimPrefix(key, "karpenter.")]
}

// validatePoolsOnly checks karpenter.install: false, where the stack adds
// GPU pools to a Karpenter it did not install.
func (c *Stack) validatePoolsOnly(p *problems) {
	if c.Karpenter.Install {
		return
	}
	for _, key := range ControllerKeys {
		if p.set[key] {
			p.add(key, controllerSetting(c.Karpenter, key), "with karpenter.install false the controller is the existing one, whose settings are not this stack's; remove the key")
		}
	}
	if c.NodeRole.Name == "" {
		p.add("nodeRole.name", nil, "with karpenter.install false, name the node role of the existing Karpenter: its controller policy lets it pass only that role to instances")
	}
	if c.Cluster.Create {
		p.add("karpenter.install", false, "a cluster this stack creates runs no Karpenter yet; leave karpenter.install at true")
	}
}

func (c *Cluster) validate(p *problems) {
	if !c.Create {
		if c.VpcID != "" || len(c.SubnetIDs) > 0 {
			p.add("cluster", map[string]any{"vpcId": c.VpcID, "subnetIds": c.SubnetIDs}, "vpcId and subnetIds are only used with cluster.create: true; an existing cluster's network is discovered")
		}
		return
	}
	if !k8sVersionPattern.MatchString(c.Version) {
		p.add("cluster.version", c.Version, "want a Kubernetes minor version such as 1.34")
	}
	if !vpcIDPattern.MatchString(c.VpcID) {
		p.add("cluster.vpcId", nilIfEmpty(c.VpcID), "cluster.create needs the VPC to create the cluster in, e.g. vpc-0123456789abcdef0")
	}
	if len(c.SubnetIDs) < 2 {
		p.add("cluster.subnetIds", c.SubnetIDs, "cluster.create needs at least two private subnets in different availability zones")
	}
	eachMatches(p, "cluster.subnetIds", c.SubnetIDs, subnetIDPattern, "want subnet IDs such as subnet-0123456789abcdef0")
	if !instanceTypePattern.MatchString(c.SystemNodeType) {
		p.add("cluster.systemNodeType", c.SystemNodeType, "want an EC2 instance type such as m7i.large")
	}
	intRange(p, "cluster.systemNodeCount", c.SystemNodeCount, 1, 10)
}

func (k *Karpenter) validate(p *problems) {
	if !dnsLabelPattern.MatchString(k.Namespace) {
		p.add("karpenter.namespace", k.Namespace, "want a Kubernetes namespace name (lowercase letters, digits, '-')")
	}
	oneOf(p, "karpenter.identity", string(k.Identity), IdentityIRSA, IdentityPodIdentity)
	if k.CreateOIDCProvider && k.Identity == IdentityPodIdentity {
		p.add("karpenter.createOidcProvider", true, "only IRSA uses the OIDC provider; remove it or use identity: irsa")
	}
	intRange(p, "karpenter.replicas", k.Replicas, 1, 5)
	oneOf(p, "karpenter.logLevel", k.LogLevel, "debug", "info", "error")
	if !quantityPattern.MatchString(k.CPU) {
		p.add("karpenter.cpu", k.CPU, "want a CPU quantity such as 1 or 500m")
	}
	if !quantityPattern.MatchString(k.Memory) {
		p.add("karpenter.memory", k.Memory, "want a memory quantity such as 1Gi")
	}
	knownKeys(p, "karpenter.featureGates", k.FeatureGates, wellknown.KarpenterFeatureGates)
	knownKeys(p, "karpenter.awsFeatureGates", k.AWSFeatureGates, wellknown.KarpenterAWSFeatureGates)
	if settings, ok := k.Values["settings"].(map[string]any); ok {
		for _, gates := range []string{"featureGates", "awsFeatureGates"} {
			if v, set := settings[gates]; set {
				p.add("karpenter.values.settings."+gates, v, "set feature gates in karpenter."+gates+" only, so that the stack sees them (it turns some on itself)")
			}
		}
	}
}

var chartRepositoryPattern = regexp.MustCompile(`^(oci://[a-z0-9.-]+(:[0-9]+)?(/[A-Za-z0-9._/-]*)?|https?://[^\s]+|\.{0,2}/[^\s]*)$`)

// chartRepository accepts an OCI registry path, an HTTP(S) chart repository
// or a local folder (absolute, or relative to the project: ./ or ../).
func chartRepository(p *problems, key, value string) {
	if !chartRepositoryPattern.MatchString(value) {
		p.add(key, value, "want an OCI registry path (oci://public.ecr.aws/karpenter), an HTTP chart repository (https://…) or a local folder holding the charts (./charts, /srv/charts)")
	}
}

func knownKeys(p *problems, key string, m map[string]bool, known []string) {
	for _, name := range slices.Sorted(maps.Keys(m)) {
		if !slices.Contains(known, name) {
			p.add(key+"."+name, m[name], "unknown feature gate; the pinned Karpenter chart has "+strings.Join(known, ", "))
		}
	}
}

// Family is the AMI family of the node class's alias, e.g. "al2023".
func (n NodeClass) Family() string {
	family, _, _ := strings.Cut(n.AMI, "@")
	return family
}

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

func (c *Stack) validateNodeClasses(p *problems) {
	seen := map[string]bool{}
	for i, nc := range c.NodeClasses {
		key := entryKey(p, "nodeClasses", "node class", i, nc.Name, seen)
		nc.validate(p, key)
	}
}

// entryKey checks the name of entry i of a list (present, a Kubernetes
// object name, not repeated) and returns the key that names the entry in
// messages: by its name, or by its index while it has none.
func entryKey(p *problems, list, what string, i int, name string, seen map[string]bool) string {
	key := fmt.Sprintf("%s[%d]", list, i)
	if name != "" {
		key = fmt.Sprintf("%s[%s]", list, name)
	}
	switch {
	case name == "":
		p.add(key+".name", nil, "every "+what+" needs a name (lowercase letters, digits, '-')")
	case !dnsLabelPattern.MatchString(name):
		p.add(key+".name", name, "want a Kubernetes object name: lowercase letters, digits and '-', at most 63")
	case seen[name]:
		p.add(key+".name", name, what+" names must be unique")
	}
	seen[name] = true
	return key
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

// NodeClass returns the node class of the given name.
func (c *Stack) NodeClass(name string) (NodeClass, bool) {
	i := slices.IndexFunc(c.NodeClasses, func(n NodeClass) bool { return n.Name == name })
	if i < 0 {
		return NodeClass{}, false
	}
	return c.NodeClasses[i], true
}

var (
	capacityTypes  = []string{wellknown.CapacityTypeSpot, wellknown.CapacityTypeOnDemand, wellknown.CapacityTypeReserved}
	architectures  = []string{"amd64", "arm64"}
	consolidations = []string{"WhenEmpty", "WhenEmptyOrUnderutilized"}
	budgetReasons  = []string{"Underutilized", "Empty", "Drifted", "Unhealthy"}
	taintEffects   = []string{"NoSchedule", "PreferNoSchedule", "NoExecute"}
)

// defaultPodGracePeriod is Kubernetes' terminationGracePeriodSeconds.
const defaultPodGracePeriod = "30s"

// applyJobProtection derives, for each pool that protects jobs, what
// Karpenter needs to keep that promise, where the configuration leaves it
// open, and refuses what breaks it. Karpenter never evicts a
// karpenter.sh/do-not-disrupt pod to consolidate; drift and expiration
// drain such a pod only once the NodeClaim's terminationGracePeriod runs
// out (a set grace period makes drift go ahead despite the annotation), so
// it must outlast the longest job plus the pod's own grace period; and a
// node must not expire before a job started on it can finish.
func (c *Stack) applyJobProtection(p *problems) {
	for i := range c.GPUPools {
		pool := &c.GPUPools[i]
		jp := &pool.JobProtection
		if !jp.Enabled() {
			if jp.PodGracePeriod != "" {
				p.add(fmt.Sprintf("gpuPools[%s].jobProtection.longestJob", pool.Name), nil, "set the longest job the pool must let finish, or leave jobProtection out")
			}
			continue
		}
		key := fmt.Sprintf("gpuPools[%s]", pool.Name)
		jp.PodGracePeriod = cmp.Or(jp.PodGracePeriod, defaultPodGracePeriod)
		longest, errLongest := time.ParseDuration(jp.LongestJob)
		if !durationPattern.MatchString(jp.LongestJob) || errLongest != nil || longest <= 0 {
			p.add(key+".jobProtection.longestJob", jp.LongestJob, "want a duration such as 72h")
			continue
		}
		grace, errGrace := time.ParseDuration(jp.PodGracePeriod)
		if !durationPattern.MatchString(jp.PodGracePeriod) || errGrace != nil {
			p.add(key+".jobProtection.podGracePeriod", jp.PodGracePeriod, "want a duration such as 30s: the longest terminationGracePeriodSeconds of the job's pods")
			continue
		}
		need := longest + grace
		if !p.set[key+".terminationGracePeriod"] {
			pool.TerminationGracePeriod = karpenterDuration(need)
		} else if tgp, err := time.ParseDuration(pool.TerminationGracePeriod); err == nil && tgp < need {
			p.add(key+".terminationGracePeriod", pool.TerminationGracePeriod, fmt.Sprintf(
				"jobProtection needs at least longestJob + podGracePeriod (%s): drift and expiration end a do-not-disrupt pod once the grace period runs out; raise it or leave it out", karpenterDuration(need)))
		}
		if pool.ExpireAfter != "Never" {
			if expire, err := time.ParseDuration(pool.ExpireAfter); err == nil && expire < longest {
				p.add(key+".expireAfter", pool.ExpireAfter, fmt.Sprintf(
					"shorter than jobProtection.longestJob (%s): a node would expire under a job started on it; set Never or at least %s", jp.LongestJob, jp.LongestJob))
			}
		}
	}
}

// karpenterDuration writes d as Karpenter's duration pattern wants it
// (hours, minutes, seconds; no fractions).
func karpenterDuration(d time.Duration) string {
	out := ""
	for _, unit := range []struct {
		size   time.Duration
		suffix string
	}{{time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if n := d / unit.size; n > 0 {
			out += fmt.Sprintf("%d%s", n, unit.suffix)
			d -= n * unit.size
		}
	}
	return cmp.Or(out, "0s")
}

func (c *Stack) validatePools(p *problems) {
	seen := map[string]bool{}
	for i, pool := range c.GPUPools {
		key := entryKey(p, "gpuPools", "pool", i, pool.Name, seen)
		pool.validate(p, key)
		c.validatePoolNodeClass(p, key, pool)
	}
}

func (c *Stack) validatePoolNodeClass(p *problems, key string, pool GPUPool) {
	nc, ok := c.NodeClass(pool.NodeClass)
	if !ok {
		names := make([]string, len(c.NodeClasses))
		for i, n := range c.NodeClasses {
			names[i] = n.Name
		}
		p.add(key+".nodeClass", pool.NodeClass, "want the name of an entry of nodeClasses: "+strings.Join(names, ", "))
		return
	}
	if slices.Contains(pool.CapacityTypes, wellknown.CapacityTypeReserved) {
		if len(nc.CapacityReservations) == 0 {
			p.add(key+".capacityTypes", pool.CapacityTypes, fmt.Sprintf("reserved capacity needs reservations to launch into: set nodeClasses[%s].capacityReservations", nc.Name))
		}
		if on, set := c.Karpenter.FeatureGates[wellknown.FeatureGateReservedCapacity]; set && !on {
			p.add(key+".capacityTypes", pool.CapacityTypes, "reserved capacity needs karpenter.featureGates.reservedCapacity, which is set to false")
		}
	}
	if on, set := c.Karpenter.FeatureGates[wellknown.FeatureGateCapacityBuffer]; pool.Headroom != 0 && set && !on {
		p.add(key+".headroom", pool.Headroom, "headroom needs karpenter.featureGates.capacityBuffer, which is set to false")
	}
	if on, set := c.Karpenter.FeatureGates[wellknown.FeatureGateNodeOverlay]; pool.Sharing.Replicas != 0 && set && !on {
		p.add(key+".sharing.replicas", pool.Sharing.Replicas, "sharing needs karpenter.featureGates.nodeOverlay (NodeOverlays tell Karpenter the shared capacity), which is set to false")
	}
	if pool.Sharing.Replicas != 0 && nc.Family() == wellknown.AMIFamilyBottlerocket {
		p.add(key+".sharing.replicas", pool.Sharing.Replicas, fmt.Sprintf(
			"time-slicing is configured through the NVIDIA device plugin DaemonSet, which nodes of nodeClasses[%s] (ami %s) do not run: Bottlerocket brings its own plugin; give the pool an al2023 node class or leave sharing out", nc.Name, nc.AMI))
	}
}

func (g *GPUPool) validate(p *problems, key string) {
	for _, name := range g.GPUs {
		if _, ok := catalog.LookupGPU(name); !ok {
			p.add(key+".gpus", name, "unknown GPU"+suggest(name, catalog.GPUNames())+"; known (as Karpenter names them): "+strings.Join(catalog.GPUNames(), ", "))
		}
	}
	families := catalog.Families()
	for _, family := range g.InstanceFamilies {
		if familyPattern.MatchString(family) && !slices.Contains(families, family) {
			p.add(key+".instanceFamilies", family, "no GPU instance family of that name"+suggest(family, families)+"; known: "+strings.Join(families, ", "))
		}
	}
	types := catalog.Names(catalog.InstanceTypes)
	for _, typ := range g.InstanceTypes {
		if instanceTypePattern.MatchString(typ) && !slices.Contains(types, typ) {
			p.add(key+".instanceTypes", typ, "no GPU instance type of that name"+suggest(typ, types)+"; see the types of a family with instanceFamilies, or plan.md for what a pool launches")
		}
	}
	if len(g.GPUs) == 0 && g.MinGPUMemoryGiB == 0 && len(g.InstanceFamilies) == 0 && len(g.InstanceTypes) == 0 {
		p.add(key, "no GPU selection", "a pool must say which GPUs it launches: set gpus, minGPUMemoryGiB, instanceFamilies or instanceTypes")
	}
	if g.MinGPUMemoryGiB != 0 {
		intRange(p, key+".minGPUMemoryGiB", g.MinGPUMemoryGiB, 1, 1024)
		if most, which := g.mostGPUMemory(); most < g.MinGPUMemoryMiB() {
			p.add(key+".minGPUMemoryGiB", g.MinGPUMemoryGiB, fmt.Sprintf("no GPU %s has that much memory: the most EC2 reports is %d MiB (%s); want %d or less",
				map[bool]string{true: "of those in gpus", false: "known"}[len(g.GPUs) > 0], most, which, most/1024))
		}
	}
	intRange(p, key+".gpuCount.min", g.GPUCount.Min, 1, 16)
	intRange(p, key+".gpuCount.max", g.GPUCount.Max, 1, 16)
	if g.GPUCount.Max < g.GPUCount.Min {
		p.add(key+".gpuCount", map[string]int{"min": g.GPUCount.Min, "max": g.GPUCount.Max}, "max must be at least min")
	}
	eachMatches(p, key+".instanceFamilies", g.InstanceFamilies, familyPattern, "want instance families such as g5 or g6e")
	eachMatches(p, key+".instanceTypes", g.InstanceTypes, instanceTypePattern, "want instance types such as g5.xlarge")
	nonEmptySubset(p, key+".capacityTypes", g.CapacityTypes, capacityTypes)
	nonEmptySubset(p, key+".architectures", g.Architectures, architectures)
	const maxGPUsWant = "want the most GPUs this pool may run at once (a positive whole number): it caps what the pool can cost"
	if g.MaxGPUs == unsetMaxGPUs {
		p.add(key+".maxGPUs", nil, maxGPUsWant)
	} else if g.MaxGPUs < 1 {
		p.add(key+".maxGPUs", g.MaxGPUs, maxGPUsWant)
	} else if g.MaxGPUs < g.GPUCount.Min {
		p.add(key+".maxGPUs", g.MaxGPUs, fmt.Sprintf("below gpuCount.min (%d): the pool could never launch a node", g.GPUCount.Min))
	}
	oneOf(p, key+".consolidation", g.Consolidation, consolidations...)
	if g.ConsolidateAfter != "Never" && !durationPattern.MatchString(g.ConsolidateAfter) {
		p.add(key+".consolidateAfter", g.ConsolidateAfter, "want a duration such as 30s, 1m or 1h30m, or Never")
	}
	if g.ExpireAfter != "Never" && !durationPattern.MatchString(g.ExpireAfter) {
		p.add(key+".expireAfter", g.ExpireAfter, "want a duration such as 720h, or Never")
	}
	if g.TerminationGracePeriod != "" && !durationPattern.MatchString(g.TerminationGracePeriod) {
		p.add(key+".terminationGracePeriod", g.TerminationGracePeriod, "want a duration such as 24h")
	}
	for i, b := range g.Budgets {
		bk := fmt.Sprintf("%s.budgets[%d]", key, i)
		if !budgetNodesPattern.MatchString(b.Nodes) {
			p.add(bk+".nodes", b.Nodes, "want a node count or a percentage such as 10%")
		}
		for _, r := range b.Reasons {
			oneOf(p, bk+".reasons", r, budgetReasons...)
		}
		if (b.Schedule == "") != (b.Duration == "") {
			p.add(bk, map[string]string{"schedule": b.Schedule, "duration": b.Duration}, "schedule and duration go together")
		}
		if b.Duration != "" && !budgetDurPattern.MatchString(b.Duration) {
			p.add(bk+".duration", b.Duration, "want hours and minutes such as 8h or 1h30m")
		}
	}
	if g.Weight != 0 {
		intRange(p, key+".weight", g.Weight, 1, 100)
	}
	for _, k := range slices.Sorted(maps.Keys(g.Labels)) {
		if !labelKeyPattern.MatchString(k) || !labelValuePattern.MatchString(g.Labels[k]) {
			p.add(key+".labels."+k, g.Labels[k], "want a Kubernetes label key and value")
		}
		if k == wellknown.GPUPresentLabel || k == wellknown.GPUPoolLabel || k == wellknown.DevicePluginConfigLabel {
			p.add(key+".labels."+k, g.Labels[k], "the stack sets this label itself")
		}
	}
	for _, mv := range []struct {
		key    string
		n      int
		listed []string
	}{{"instanceFamilies", g.MinValues.InstanceFamilies, g.InstanceFamilies}, {"instanceTypes", g.MinValues.InstanceTypes, g.InstanceTypes}} {
		if mv.n == 0 {
			continue
		}
		intRange(p, key+".minValues."+mv.key, mv.n, 1, 50)
		if len(mv.listed) > 0 && mv.n > len(mv.listed) {
			p.add(key+".minValues."+mv.key, mv.n, fmt.Sprintf("the pool lists only %d %s: Karpenter could never launch", len(mv.listed), mv.key))
		}
	}
	if g.Headroom != 0 {
		intRange(p, key+".headroom", g.Headroom, 1, 64)
		if g.Headroom > g.MaxGPUs && g.MaxGPUs > 0 {
			p.add(key+".headroom", g.Headroom, fmt.Sprintf("above maxGPUs (%d): the pool could never hold it", g.MaxGPUs))
		}
	}
	if r := g.Sharing.Replicas; r != 0 && (r < 2 || r > 48) {
		p.add(key+".sharing.replicas", r, "want 0 (no sharing) or 2-48 pods per GPU")
	}
	for i, t := range g.Taints {
		tk := fmt.Sprintf("%s.taints[%d]", key, i)
		if !labelKeyPattern.MatchString(t.Key) {
			p.add(tk+".key", t.Key, "want a Kubernetes taint key")
		}
		if t.Key == wellknown.GPUTaintKey {
			p.add(tk+".key", t.Key, "the stack sets the GPU taint itself")
		}
		oneOf(p, tk+".effect", t.Effect, taintEffects...)
	}
}

// MinGPUMemoryMiB is minGPUMemoryGiB in the unit of
// karpenter.k8s.aws/instance-gpu-memory; 0 when not set.
func (g GPUPool) MinGPUMemoryMiB() int { return g.MinGPUMemoryGiB * 1024 }

// mostGPUMemory is the most memory per GPU, in MiB, among the GPUs the
// pool allows (all known ones when gpus is empty), and which GPU has it.
func (g GPUPool) mostGPUMemory() (mib int, name string) {
	names := g.GPUs
	if len(names) == 0 {
		names = catalog.GPUNames()
	}
	for _, n := range names {
		if gpu, ok := catalog.LookupGPU(n); ok && gpu.MaxMemoryMiB > mib {
			mib, name = gpu.MaxMemoryMiB, n
		}
	}
	return mib, name
}

func validateAWSTags(p *problems, key string, tags map[string]string) {
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		v := tags[k]
		switch {
		case len(k) == 0 || len(k) > 128:
			p.add(key, k, "tag keys have 1-128 characters")
		case strings.HasPrefix(strings.ToLower(k), "aws:"):
			p.add(key+"."+k, v, "the aws: prefix is reserved by AWS")
		case len(v) > 256:
			p.add(key+"."+k, v, "tag values have at most 256 characters")
		}
	}
}

func oneOf[S ~string](p *problems, key string, value string, allowed ...S) {
	names := make([]string, len(allowed))
	for i, a := range allowed {
		if string(a) == value {
			return
		}
		names[i] = string(a)
		if names[i] == "" {
			names[i] = `"" (off)`
		}
	}
	p.add(key, nilIfEmpty(value), "want one of "+strings.Join(names, ", ")+suggest(value, names))
}

func intRange(p *problems, key string, v, lo, hi int) {
	if v < lo || v > hi {
		p.add(key, v, fmt.Sprintf("want a whole number from %d to %d", lo, hi))
	}
}

func eachMatches(p *problems, key string, values []string, re *regexp.Regexp, want string) {
	for _, v := range values {
		if !re.MatchString(v) {
			p.add(key, v, want)
		}
	}
}

func nonEmptySubset(p *problems, key string, values, allowed []string) {
	if len(values) == 0 {
		p.add(key, []string{}, "want at least one of "+strings.Join(allowed, ", "))
	}
	for _, v := range values {
		oneOf(p, key, v, allowed...)
	}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
