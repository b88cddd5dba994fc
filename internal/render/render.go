package render

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"

	"karpenter-gpu/catalog"
	"karpenter-gpu/config"
	"karpenter-gpu/internal/charts"
	"karpenter-gpu/internal/crdschema"
	"karpenter-gpu/internal/fakecloud"
	"karpenter-gpu/internal/gomod"
	"karpenter-gpu/internal/stackfile"
	"karpenter-gpu/karpenter"
	"karpenter-gpu/stack"
	"karpenter-gpu/versions"
	"karpenter-gpu/wellknown"
)

// Options say what to render.
type Options struct {
	// ConfigFile is a Pulumi stack file (Pulumi.<stack>.yaml).
	ConfigFile string
	// ClusterFile holds `aws eks describe-cluster` output; empty for the example cluster.
	ClusterFile string
	// Stack names the stack in URNs.
	Stack string
	// Karpenter, when set, is the version of a Karpenter someone else runs
	// in the cluster (namespace karpenter): the case karpenter.install false
	// is for.
	Karpenter string
	// AwsAuthFile holds `kubectl get configmap aws-auth -n kube-system -o
	// yaml` of the cluster of ClusterFile; empty: an aws-auth with no
	// entries, where the cluster's authentication mode reads one.
	AwsAuthFile string
	// Addons are the EKS add-ons of the cluster of ClusterFile; nil: not
	// known.
	Addons []string
}

// Render runs the stack program under the engine's mocks and returns the
// files to write, by relative path.
func Render(opts Options) (map[string][]byte, error) {
	cfg, err := stackfile.Read(opts.ConfigFile)
	if os.IsNotExist(err) {
		if _, e := os.Stat(opts.ConfigFile + ".example"); e == nil {
			return nil, fmt.Errorf("%w: render the example with -config %s.example, or copy it to %s and set your cluster's values", err, opts.ConfigFile, opts.ConfigFile)
		}
	}
	if err != nil {
		return nil, err
	}
	cluster, err := clusterFacts(opts.ClusterFile, cfg)
	if err != nil {
		return nil, err
	}
	if err := awsAuth(opts, &cluster); err != nil {
		return nil, err
	}
	if opts.Addons != nil {
		if opts.ClusterFile == "" {
			return nil, fmt.Errorf("-addons needs -cluster: the built-in example cluster has its own add-ons")
		}
		cluster.Addons, cluster.AddonsUnknown = opts.Addons, false
	}
	if err := sameRegion(opts, cfg, cluster); err != nil {
		return nil, err
	}
	if opts.Karpenter != "" {
		// With the alpha CRDs current releases ship; its feature gates are
		// not known offline.
		cluster.Karpenter = &fakecloud.Karpenter{Namespace: "karpenter", Version: opts.Karpenter, OptionalCRDs: karpenter.OptionalCRDs}
	}
	// A node role the configuration names exists in the modelled account.
	var nodeRole struct {
		Name string `json:"name"`
	}
	if raw, ok := cfg[config.Namespace+":nodeRole"]; ok && json.Unmarshal([]byte(raw), &nodeRole) == nil && nodeRole.Name != "" {
		cluster.Roles = map[string]string{nodeRole.Name: nodeRole.Name}
	}
	cloud := fakecloud.New(cluster, config.Namespace, opts.Stack)
	var observed stack.Observed
	if err := cloud.Run(cfg, stack.Program(stack.Options{Connect: cloud.Connect, OpenReservations: cloud.OpenReservations, ConfigKeys: slices.Collect(maps.Keys(cfg)), Observe: func(o stack.Observed) { observed = o }})); err != nil {
		return nil, err
	}
	outputs := observed.Outputs
	out, err := files(cloud, cluster, opts, observed)
	if err != nil {
		return nil, err
	}
	// As `pulumi stack output --json` prints them; values the fake cloud made
	// up (ARNs, generated names) stand where a deployment has real ones.
	b, err := json.MarshalIndent(outputs, "", "  ")
	if err != nil {
		return nil, err
	}
	out["outputs.json"] = append(b, '\n')
	out[Manifest] = manifest(out)
	return out, nil
}

// Manifest is the file of a render that names the others: a folder whose
// files it names is a previous render, which the next may replace.
const Manifest = ".render-files"

func manifest(files map[string][]byte) []byte {
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	return []byte(strings.Join(names, "\n") + "\n")
}

func clusterFacts(file string, cfg map[string]string) (fakecloud.Cluster, error) {
	if file != "" {
		raw, err := os.ReadFile(file)
		if err != nil {
			return fakecloud.Cluster{}, err
		}
		return fakecloud.FromDescribeCluster(raw)
	}
	return fakecloud.ExampleIn(cfg[config.Namespace+":clusterName"], cfg["aws:region"]), nil
}

// awsAuth models the aws-auth ConfigMap of a described cluster: the one
// the user saved, or one without entries where the cluster's
// authentication mode reads aws-auth, since describe-cluster cannot show it.
func awsAuth(opts Options, cluster *fakecloud.Cluster) error {
	if opts.AwsAuthFile == "" {
		if opts.ClusterFile != "" && strings.Contains(cluster.AuthenticationMode, "CONFIG_MAP") {
			cluster.AwsAuthMapRoles = "[]\n"
		}
		return nil
	}
	if opts.ClusterFile == "" {
		return fmt.Errorf("-aws-auth %s needs -cluster: the built-in example cluster has its own aws-auth", opts.AwsAuthFile)
	}
	raw, err := os.ReadFile(opts.AwsAuthFile)
	if err != nil {
		return err
	}
	var cm struct {
		Kind     string                `json:"kind"`
		Metadata struct{ Name string } `json:"metadata"`
		Data     map[string]string     `json:"data"`
	}
	if err := yaml.Unmarshal(raw, &cm); err != nil || cm.Kind != "ConfigMap" || cm.Metadata.Name != "aws-auth" {
		return fmt.Errorf("%s is not the aws-auth ConfigMap (save it with `kubectl get configmap aws-auth -n kube-system -o yaml`): %v", opts.AwsAuthFile, err)
	}
	cluster.AwsAuthMapRoles = cmp.Or(cm.Data["mapRoles"], "[]\n")
	return nil
}

// awsAuthNote heads the rendered aws-auth patch: which entries the stack
// adds and where the others were read from.
func awsAuthNote(opts Options, cluster fakecloud.Cluster, data map[string]any) ([]byte, error) {
	var before, after []map[string]any
	if err := yaml.Unmarshal([]byte(cluster.AwsAuthMapRoles), &before); err != nil {
		return nil, fmt.Errorf("the aws-auth mapRoles read: %w", err)
	}
	merged, _ := data["mapRoles"].(string)
	if err := yaml.Unmarshal([]byte(merged), &after); err != nil {
		return nil, fmt.Errorf("the aws-auth mapRoles declared: %w", err)
	}
	existing := map[string]bool{}
	for _, e := range before {
		existing[fmt.Sprint(e["rolearn"])] = true
	}
	var added []string
	for _, e := range after {
		if !existing[fmt.Sprint(e["rolearn"])] {
			added = append(added, fmt.Sprint(e["rolearn"]))
		}
	}
	what := cmp.Or(strings.Join(added, ", "), "nothing (the node role's entry is there already)")
	var note string
	switch {
	case opts.AwsAuthFile != "":
		note = fmt.Sprintf("# Added by this stack: %s. The other %d entries are the cluster's own, read from %s and kept as they are.\n", what, len(after)-len(added), opts.AwsAuthFile)
	case opts.ClusterFile != "":
		note = fmt.Sprintf("# Added by this stack: %s. The cluster's own entries are not known offline: modelled as none; pass -aws-auth FILE (`kubectl get configmap aws-auth -n kube-system -o yaml`) to see them merged.\n", what)
	default:
		note = fmt.Sprintf("# Added by this stack: %s. The other %d entries are the built-in example cluster's own, kept as they are.\n", what, len(after)-len(added))
	}
	return []byte(note), nil
}

// sameRegion refuses what pulumi up would not do: run without a region,
// or look for the cluster in a region other than the cluster file's.
func sameRegion(opts Options, cfg map[string]string, cluster fakecloud.Cluster) error {
	region := cfg["aws:region"]
	switch {
	case region == "":
		return fmt.Errorf("%s sets no aws:region: pulumi up would look for cluster %s in the region of AWS_REGION or the AWS profile, whichever the deploying machine has; set it in the stack file (pulumi config set aws:region REGION) so that the region is part of what is reviewed",
			opts.ConfigFile, cluster.Name)
	case opts.ClusterFile != "" && region != cluster.Region:
		return fmt.Errorf("%s sets aws:region %s, but the cluster in %s is in %s (its ARN): pulumi up would look for cluster %s in %s; set aws:region %s, or describe the cluster of %s",
			opts.ConfigFile, region, opts.ClusterFile, cluster.Region, cluster.Name, region, cluster.Region, region)
	}
	return nil
}

var unsafe = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func fileName(parts ...string) string {
	return unsafe.ReplaceAllString(strings.Join(parts, "-"), "_")
}

// jsonDocuments names the JSON document input of each AWS resource type that
// has one, and where its rendered file goes.
var jsonDocuments = map[string]struct {
	dir, input string
	suffix     []string
}{
	"aws:iam/role:Role":                  {dir: "iam", input: "assumeRolePolicy", suffix: []string{"trust"}},
	"aws:iam/policy:Policy":              {dir: "iam", input: "policy"},
	"aws:sqs/queuePolicy:QueuePolicy":    {dir: "sqs", input: "policy", suffix: []string{"policy"}},
	"aws:cloudwatch/eventRule:EventRule": {dir: "events", input: "eventPattern"},
}

func files(cloud *fakecloud.Cloud, cluster fakecloud.Cluster, opts Options, observed stack.Observed) (map[string][]byte, error) {
	out := map[string][]byte{}
	schema, err := crdschema.KarpenterWithCapacityBuffer()
	if err != nil {
		return nil, err
	}
	var checked []string
	for _, r := range cloud.Resources() {
		in := r.Inputs
		switch {
		case r.Type == "kubernetes:helm.sh/v3:Release":
			b, err := helmFile(in)
			if err != nil {
				return nil, err
			}
			out[path.Join("helm", fileName(r.Name)+".yaml")] = b
			if in["chart"] == versions.KarpenterChartRepository+"/karpenter" {
				if out[path.Join("charts", "karpenter.yaml")], err = karpenterManifests(in, cluster.Version); err != nil {
					return nil, err
				}
			}
		case strings.HasPrefix(r.Type, "kubernetes:") && in["kind"] != nil:
			obj := map[string]any{}
			for _, k := range []string{"apiVersion", "kind", "metadata", "spec", "data"} {
				if v, ok := in[k]; ok {
					obj[k] = v
				}
			}
			if strings.Contains(r.Type, "karpenter") || strings.Contains(r.Type, "CapacityBuffer") {
				if err := schema.Validate(obj); err != nil {
					return nil, err
				}
				meta, _ := in["metadata"].(map[string]any)
				checked = append(checked, fmt.Sprintf("%s/%s", in["kind"], meta["name"]))
			}
			b, err := yaml.Marshal(obj)
			if err != nil {
				return nil, err
			}
			kind := strings.ToLower(fmt.Sprint(in["kind"]))
			if strings.HasSuffix(r.Type, "Patch") {
				kind += "-patch"
			}
			name := r.Name
			if meta, ok := in["metadata"].(map[string]any); ok && meta["name"] != nil {
				name = fmt.Sprint(meta["name"])
			}
			if kind == "configmap-patch" && name == "aws-auth" {
				data, _ := in["data"].(map[string]any)
				note, err := awsAuthNote(opts, cluster, data)
				if err != nil {
					return nil, err
				}
				b = append(note, b...)
			}
			out[path.Join("kubernetes", fileName(kind, name)+".yaml")] = b
		case r.Type == "aws:eks/addon:Addon":
			// What the add-on runs follows from its version and values.
			addon := map[string]any{"addonName": in["addonName"], "addonVersion": in["addonVersion"]}
			if raw, ok := in["configurationValues"].(string); ok {
				var values any
				if err := json.Unmarshal([]byte(raw), &values); err != nil {
					return nil, fmt.Errorf("add-on %s configurationValues: %w", r.Name, err)
				}
				addon["configurationValues"] = values
			}
			b, err := json.Marshal(addon)
			if err != nil {
				return nil, err
			}
			if err := jsonFile(out, path.Join("addons", fileName(r.Name)+".json"), string(b)); err != nil {
				return nil, err
			}
		default:
			doc, ok := jsonDocuments[r.Type]
			if !ok {
				continue
			}
			name := path.Join(doc.dir, fileName(append([]string{r.Name}, doc.suffix...)...)+".json")
			if err := jsonFile(out, name, in[doc.input]); err != nil {
				return nil, err
			}
		}
	}
	out["plan.md"] = []byte(planMarkdown(cloud, cluster, opts, checked, observed))
	return out, nil
}

// karpenterManifests renders the pinned Karpenter module's controller
// chart with the release's values, as Helm would install it on a cluster of
// the given Kubernetes version, so that a change to the values shows up as
// a change to the Deployment.
func karpenterManifests(in map[string]any, kubernetes string) ([]byte, error) {
	dir, err := charts.KarpenterChart("karpenter")
	if err != nil {
		return nil, err
	}
	values, _ := in["values"].(map[string]any)
	objects, err := charts.Render(dir, charts.Release{Name: fmt.Sprint(in["name"]), Namespace: fmt.Sprint(in["namespace"]), Kubernetes: kubernetes}, values)
	if err != nil {
		return nil, err
	}
	b := []byte(fmt.Sprintf("# Release %s rendered from the karpenter chart folder of %s (the module pinned in go.mod;\n"+
		"# labelled 1.14.1 at the %s tag) with the values in helm/karpenter.yaml, for Kubernetes %s.\n", in["name"], gomod.Karpenter, versions.Karpenter, kubernetes))
	for _, obj := range objects {
		doc, err := yaml.Marshal(obj)
		if err != nil {
			return nil, err
		}
		b = append(append(b, "---\n"...), doc...)
	}
	return b, nil
}

func helmFile(in map[string]any) ([]byte, error) {
	chart := fmt.Sprint(in["chart"])
	if repo, ok := in["repositoryOpts"].(map[string]any); ok && repo["repo"] != nil {
		chart = fmt.Sprintf("%s (repository %s)", chart, repo["repo"])
	}
	header := fmt.Sprintf("# Helm release %s in namespace %s\n# chart: %s\n# version: %s\n", in["name"], in["namespace"], chart, in["version"])
	if in["skipCrds"] == true {
		header += "# skipCrds: true (CRDs come from the karpenter-crd release)\n"
	}
	values, _ := in["values"].(map[string]any)
	if values == nil {
		values = map[string]any{}
	}
	body, err := yaml.Marshal(values)
	if err != nil {
		return nil, err
	}
	return append([]byte(header), body...), nil
}

// jsonFile writes a JSON document string indented.
func jsonFile(out map[string][]byte, name string, doc any) error {
	s, _ := doc.(string)
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	out[name] = append(b, '\n')
	return nil
}

func planMarkdown(cloud *fakecloud.Cloud, cluster fakecloud.Cluster, opts Options, checked []string, observed stack.Observed) string {
	resources := cloud.Resources()
	byURN := map[string]fakecloud.Resource{}
	for _, r := range resources {
		byURN[r.URN] = r
	}
	label := func(urn string) string {
		r, ok := byURN[urn]
		if !ok {
			return "-"
		}
		return "`" + r.Name + "` (" + shortType(r.Type) + ")"
	}
	chain := longestChain(resources, byURN)

	var b strings.Builder
	fmt.Fprintf(&b, "# Plan of stack `%s`\n\n", opts.Stack)
	fmt.Fprintf(&b, "Rendered offline from `%s` against cluster `%s` (Kubernetes %s, %s, account %s, authentication %s).\n\n",
		path.Base(opts.ConfigFile), cluster.Name, cluster.Version, cluster.Region, cluster.AccountID, cluster.AuthenticationMode)
	if opts.ClusterFile != "" {
		b.WriteString("The cluster's facts are yours (from the cluster file); the account's are not known offline: its EC2 quotas were not checked, " +
			"instance types were taken as offered in every zone and as the catalogue describes their GPUs, " +
			"placement groups and reservations named by ID as existing in the class's zones, and IAM roles as absent. `pulumi preview` checks them.")
		b.WriteString(" Its subnets were all taken as private, since describe-cluster does not say which are public: unless `discovery.subnetIds` names the ones GPU nodes use, each gets the discovery tag, public ones too; subnets the configuration names beyond the file's were taken as in its VPC, zone unknown.")
		if cluster.AddonsUnknown {
			b.WriteString(" The cluster's EKS add-ons are not known (pass `-addons` to render with them).")
		} else {
			fmt.Fprintf(&b, " The cluster's EKS add-ons are those given: %s.", cmp.Or(strings.Join(cluster.Addons, ", "), "none"))
		}
		if cluster.AuthenticationMode == "CONFIG_MAP" && opts.AwsAuthFile == "" {
			b.WriteString(" The cluster's aws-auth ConfigMap was modelled with no entries (pass `-aws-auth FILE` to render with yours).")
		}
		b.WriteString("\n\n")
	}
	fmt.Fprintf(&b, "- Resources: %d\n", len(resources))
	fmt.Fprintf(&b, "- Longest dependency chain: %d resources\n", len(chain))
	fmt.Fprintf(&b, "- Karpenter objects checked against the pinned CRD schemas: %s\n\n", strings.Join(checked, ", "))
	if k := cluster.Karpenter; k != nil {
		fmt.Fprintf(&b, "## Relies on\n\nThis stack installs no Karpenter (`karpenter.install: false`). It relies on what the cluster already runs:\n\n"+
			"- the Karpenter controller `%s/karpenter` (%s) with its CRDs, interruption handling and controller role; the objects here were proven against Karpenter %s's CRDs;\n"+
			"- the node role the node classes name, which that controller may pass to instances and which already lets its nodes join the cluster (unless `nodeAccess` asks for an access entry);\n"+
			"- that controller's `nodeOverlay` feature gate, if a pool shares its GPUs.\n\n", k.Namespace, k.Version, versions.Karpenter)
	}
	if len(observed.Warnings) > 0 {
		b.WriteString("## Warnings (as preview prints them)\n\n")
		if opts.ClusterFile == "" {
			b.WriteString("Rendered against the built-in example account: its quotas, IAM roles and add-ons are the example's, not yours. " +
				"`-cluster FILE` renders against your cluster; `pulumi preview` reads your account.\n\n")
		}
		for _, w := range observed.Warnings {
			fmt.Fprintf(&b, "- %s\n", w)
		}
		b.WriteString("\n")
	}
	poolsSection(&b, observed.Outputs, cluster.Region)
	budgetsSection(&b, resources)
	b.WriteString("## Longest dependency chain\n\n")
	for i, urn := range chain {
		fmt.Fprintf(&b, "%d. %s\n", i+1, label(urn))
	}
	b.WriteString("\n## Resources\n\n| Type | Name | Parent | Depends on |\n|---|---|---|---|\n")
	for _, r := range resources {
		deps := make([]string, len(r.Dependencies))
		for i, d := range r.Dependencies {
			deps[i] = label(d)
		}
		parent := "-"
		if p, ok := byURN[r.Parent]; ok {
			parent = "`" + p.Name + "`"
		}
		name := "`" + r.Name + "`"
		if r.ReadID != "" {
			name += " (read " + r.ReadID + ")"
		}
		if r.ImportID != "" {
			name += " (adopted: import " + r.ImportID + ")"
		}
		if r.RetainOnDelete {
			name += " (kept on destroy)"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", r.Type, name, parent, strings.Join(deps, ", "))
	}
	return b.String()
}

// poolsSection lists, per pool, the instance types it may launch and the
// most it can cost per hour, from the gpuPools output.
func poolsSection(b *strings.Builder, outputs map[string]any, region string) {
	pools, _ := outputs["gpuPools"].(map[string]any)
	if len(pools) == 0 {
		return
	}
	b.WriteString("## GPU pools\n\n| Pool | Max GPUs | Instance types it may launch (on-demand price per hour) | Cost ceiling per hour (on demand) | With draining nodes |\n|---|---|---|---|---|\n")
	var bases []string
	for _, name := range slices.Sorted(maps.Keys(pools)) {
		pool := pools[name].(map[string]any)
		ceiling := pool["hourlyCostCeiling"].(map[string]any)
		byType, _ := ceiling["usdPerHourByType"].(map[string]any)
		var types []string
		for _, t := range pool["instanceTypes"].([]any) {
			if usd, priced := byType[fmt.Sprint(t)]; priced {
				types = append(types, fmt.Sprintf("%s ($%.2f)", t, usd))
			} else {
				types = append(types, fmt.Sprintf("%s (no on-demand price)", t))
			}
		}
		cost, drains := "no list price known", "no list price known"
		if ceiling["usdPerHour"] != nil {
			cost = fmt.Sprintf("$%.2f (%s prices; set by %s)", ceiling["usdPerHour"], ceiling["region"], ceiling["setBy"])
			drains = fmt.Sprintf("$%.2f (%v GPUs more)", ceiling["usdPerHourWithDrains"], ceiling["drainingGPUs"])
		}
		fmt.Fprintf(b, "| `%s` | %v | %s | %s | %s |\n", name, pool["maxGPUs"], strings.Join(types, ", "), cost, drains)
		bases = append(bases, fmt.Sprintf("- `%s`: %s.", name, ceiling["basis"]))
	}
	b.WriteString("\nWhat each ceiling bounds:\n\n" + strings.Join(bases, "\n") + "\n")
	b.WriteString("\nThe NVIDIA driver of each pool's AMI (job authors choose CUDA images by it):\n\n")
	for _, name := range slices.Sorted(maps.Keys(pools)) {
		fmt.Fprintf(b, "- `%s`: %v\n", name, pools[name].(map[string]any)["nvidiaDriver"])
	}
	var unreserved []string
	for _, name := range slices.Sorted(maps.Keys(pools)) {
		capacity, _ := pools[name].(map[string]any)["capacityTypes"].([]string)
		if !slices.Contains(capacity, wellknown.CapacityTypeReserved) {
			unreserved = append(unreserved, "`"+name+"`")
		}
	}
	if len(unreserved) > 0 {
		fmt.Fprintf(b, "\nOpen capacity reservations: Karpenter launches on-demand and spot capacity with the capacity reservation preference `none`, so the account's open On-Demand Capacity Reservations for the types of %s stay unused (and billed) beside them. To launch into them, select them in the node class (`capacityReservations: [{instanceMatchCriteria: open}]`) and add `reserved` to the pool's `capacityTypes`. Preview reads the account's active open reservations (ec2:DescribeCapacityReservations, with the AWS SDK's credentials) and warns of each that a pool would leave idle.\n", strings.Join(unreserved, ", "))
	}
	// Every pool's ceiling has the same prices.
	ceiling := pools[slices.Sorted(maps.Keys(pools))[0]].(map[string]any)["hourlyCostCeiling"].(map[string]any)
	if ceiling["priceSource"] == catalog.PricesPinned && region != catalog.PricesRegion {
		fmt.Fprintf(b, "\nPrices are %s: %s's could not be read at preview (its warning says why), and differ.\n", catalog.PricesPinned, region)
	} else {
		fmt.Fprintf(b, "\nPrices are %s on-demand prices, from %s.\n", ceiling["region"], ceiling["priceSource"])
	}
	b.WriteString("\n")
}

// budgetsSection lists each NodePool's disruption budgets as Karpenter
// reads them: a schedule is a cron expression in UTC.
func budgetsSection(b *strings.Builder, resources []fakecloud.Resource) {
	var rows []string
	for _, r := range resources {
		if r.Type != "kubernetes:karpenter.sh/v1:NodePool" {
			continue
		}
		meta, _ := r.Inputs["metadata"].(map[string]any)
		spec, _ := r.Inputs["spec"].(map[string]any)
		disruption, _ := spec["disruption"].(map[string]any)
		budgets, _ := disruption["budgets"].([]any)
		for _, raw := range budgets {
			budget, _ := raw.(map[string]any)
			reasons := "all"
			if rs, ok := budget["reasons"].([]any); ok && len(rs) > 0 {
				var names []string
				for _, reason := range rs {
					names = append(names, fmt.Sprint(reason))
				}
				reasons = strings.Join(names, ", ")
			}
			when := "always"
			if schedule, ok := budget["schedule"].(string); ok {
				when = fmt.Sprintf("`%s` UTC, for %v", schedule, budget["duration"])
			}
			rows = append(rows, fmt.Sprintf("| `%v` | %v | %s | %s |", meta["name"], budget["nodes"], reasons, when))
		}
	}
	if len(rows) == 0 {
		return
	}
	b.WriteString("## Disruption budgets\n\nKarpenter reads each schedule in UTC; outside a budget's window the budget does not apply. Budgets do not limit expiration (`expireAfter`), interruptions or EC2 status failures, which are forceful. " +
		"Every node being deleted, for whatever reason, counts against every budget: a budget for all reasons that a node draining a long job uses up stops repair, drift and consolidation of the pool for as long as that drain; give each reason a budget of its own.\n\n")
	b.WriteString("| NodePool | Nodes at once | Reasons | When |\n|---|---|---|---|\n")
	b.WriteString(strings.Join(rows, "\n") + "\n\n")
}

func shortType(t string) string { return t[strings.LastIndex(t, ":")+1:] }

// longestChain is the longest path through explicit and implicit dependencies:
// the number of resources the engine must create one after the other.
func longestChain(resources []fakecloud.Resource, byURN map[string]fakecloud.Resource) []string {
	memo := map[string][]string{}
	var walk func(urn string) []string
	walk = func(urn string) []string {
		if c, ok := memo[urn]; ok {
			return c
		}
		memo[urn] = nil // guards against cycles, which the engine would reject anyway
		var best []string
		deps := append([]string(nil), byURN[urn].Dependencies...)
		sort.Strings(deps)
		for _, d := range deps {
			if _, ok := byURN[d]; !ok {
				continue
			}
			if c := walk(d); len(c) > len(best) {
				best = c
			}
		}
		memo[urn] = append(append([]string(nil), best...), urn)
		return memo[urn]
	}
	var longest []string
	for _, r := range resources {
		if c := walk(r.URN); len(c) > len(longest) {
			longest = c
		}
	}
	return longest
}
