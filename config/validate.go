// Validation: every key checked before any resource is registered; the
// stack-wide keys here, node classes and pools in files of their own.

package config

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

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

// ControllerKeys are the keys that configure the Karpenter controller this
// stack installs; with karpenter.install false they have nothing to act on.
var ControllerKeys = []string{
	"karpenter.awsFeatureGates", "karpenter.chartRepository", "karpenter.cpu", "karpenter.createOidcProvider", "karpenter.featureGates",
	"karpenter.identity", "karpenter.logLevel", "karpenter.memory", "karpenter.replicas", "karpenter.values",
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

// controllerSetting is the value of one of ControllerKeys.
func controllerSetting(k Karpenter, key string) any {
	var fields map[string]any
	raw, _ := json.Marshal(k)
	_ = json.Unmarshal(raw, &fields)
	return fields[strings.TrimPrefix(key, "karpenter.")]
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
