package karpenter_test

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	admapi "github.com/awslabs/amazon-eks-ami/nodeadm/api"
	admv1alpha1 "github.com/awslabs/amazon-eks-ami/nodeadm/api/v1alpha1"
	"sigs.k8s.io/yaml"

	"karpenter-gpu/config"
	"karpenter-gpu/internal/charts"
	"karpenter-gpu/internal/crdschema"
	"karpenter-gpu/internal/gomod"
	"karpenter-gpu/karpenter"
	"karpenter-gpu/versions"
	"karpenter-gpu/wellknown"
)

func schema(t *testing.T) *crdschema.Validator {
	t.Helper()
	v, err := crdschema.Karpenter()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func nodeClassSettings(mutate func(*config.NodeClass)) karpenter.NodeClassSettings {
	nc := config.Defaults().NodeClasses[0]
	if mutate != nil {
		mutate(&nc)
	}
	return karpenter.NodeClassSettings{
		NodeClass: nc, Subnets: karpenter.Selection{TagValue: "ml-prod"}, SecurityGroups: karpenter.Selection{TagValue: "ml-prod"}, RoleName: "karpenter-node-1a2b3c4", Tags: map[string]string{"team": "ml"},
	}
}

func TestNodeClassPassesKarpenterSchema(t *testing.T) {
	v := schema(t)
	cases := map[string]func(*config.NodeClass){
		"default":      nil,
		"bottlerocket": func(nc *config.NodeClass) { nc.AMI = "bottlerocket@v1.50.0" },
		"raid0":        func(nc *config.NodeClass) { nc.InstanceStorePolicy = "RAID0" },
		"latest":       func(nc *config.NodeClass) { nc.AMI, nc.AllowLatestAMI = "al2023@latest", true },
		"tags":         func(nc *config.NodeClass) { nc.Tags = map[string]string{"cost-center": "42"} },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			if err := v.Validate(karpenter.NodeClassObject(nodeClassSettings(mutate))); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestNodeClassIsSafeByDefault(t *testing.T) {
	obj := karpenter.NodeClassObject(nodeClassSettings(nil))
	spec := obj["spec"].(map[string]any)
	if spec["role"] != "karpenter-node-1a2b3c4" {
		t.Errorf("role = %v", spec["role"])
	}
	wantMeta := map[string]any{"httpEndpoint": "enabled", "httpProtocolIPv6": "disabled", "httpPutResponseHopLimit": 1, "httpTokens": "required"}
	if !reflect.DeepEqual(spec["metadataOptions"], wantMeta) {
		t.Errorf("metadataOptions = %v", spec["metadataOptions"])
	}
	if got := spec["amiSelectorTerms"]; !reflect.DeepEqual(got, []any{map[string]any{"alias": versions.DefaultAMI}}) {
		t.Errorf("amiSelectorTerms = %v", got)
	}
	discovery := []any{map[string]any{"tags": map[string]any{wellknown.DiscoveryTagKey: "ml-prod"}}}
	if !reflect.DeepEqual(spec["subnetSelectorTerms"], discovery) || !reflect.DeepEqual(spec["securityGroupSelectorTerms"], discovery) {
		t.Errorf("selector terms = %v / %v", spec["subnetSelectorTerms"], spec["securityGroupSelectorTerms"])
	}
	disks := spec["blockDeviceMappings"].([]any)
	if len(disks) != 1 {
		t.Fatalf("blockDeviceMappings = %v", disks)
	}
	root := disks[0].(map[string]any)
	ebs := root["ebs"].(map[string]any)
	if root["deviceName"] != "/dev/xvda" || root["rootVolume"] != true || ebs["encrypted"] != true || ebs["volumeType"] != "gp3" ||
		ebs["volumeSize"] != "200Gi" || ebs["iops"] != 3000 || ebs["throughput"] != 250 {
		t.Errorf("root volume = %v", root)
	}
	if _, ok := spec["instanceStorePolicy"]; ok {
		t.Error("instanceStorePolicy set without being asked for")
	}
	if !reflect.DeepEqual(spec["tags"], map[string]any{"team": "ml"}) {
		t.Errorf("tags = %v", spec["tags"])
	}
}

func TestBottlerocketSizesTheDataVolume(t *testing.T) {
	obj := karpenter.NodeClassObject(nodeClassSettings(func(nc *config.NodeClass) { nc.AMI = "bottlerocket@v1.50.0" }))
	disks := obj["spec"].(map[string]any)["blockDeviceMappings"].([]any)
	if len(disks) != 2 {
		t.Fatalf("blockDeviceMappings = %v", disks)
	}
	root, data := disks[0].(map[string]any), disks[1].(map[string]any)
	if root["deviceName"] != "/dev/xvda" || root["ebs"].(map[string]any)["volumeSize"] != fmt.Sprintf("%dGi", karpenter.BottlerocketRootGiB) {
		t.Errorf("OS volume = %v", root)
	}
	if data["deviceName"] != "/dev/xvdb" || data["ebs"].(map[string]any)["volumeSize"] != "200Gi" {
		t.Errorf("data volume = %v", data)
	}
}

// The OS volume must be at least what Karpenter itself gives Bottlerocket:
// read from the pinned module's source, so that a Karpenter bump that grows
// it fails here.
func TestBottlerocketRootMatchesKarpenter(t *testing.T) {
	dir, err := gomod.Dir(gomod.Karpenter)
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(dir, "pkg/providers/amifamily/bottlerocket.go"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`xvdaEBS\.VolumeSize = lo\.ToPtr\(resource\.MustParse\("([0-9]+)Gi"\)\)`).FindSubmatch(src)
	if m == nil {
		t.Fatal("Karpenter's Bottlerocket root volume size not found in amifamily/bottlerocket.go")
	}
	if want, _ := strconv.Atoi(string(m[1])); karpenter.BottlerocketRootGiB < want {
		t.Errorf("Bottlerocket root volume %d GiB, Karpenter uses %d GiB", karpenter.BottlerocketRootGiB, want)
	}
}

// The schema check must reject what Karpenter rejects, in Karpenter's words.
func TestKarpenterSchemaRejectsBadNodeClasses(t *testing.T) {
	v := schema(t)
	cases := []struct {
		name   string
		mutate func(spec map[string]any)
		want   string
	}{
		{"alias beside id", func(s map[string]any) {
			s["amiSelectorTerms"] = []any{map[string]any{"alias": "al2023@v20251120"}, map[string]any{"id": "ami-0123456789abcdef0"}}
		}, "'alias' is mutually exclusive, cannot be set with a combination of other amiSelectorTerms"},
		{"role and instance profile", func(s map[string]any) { s["instanceProfile"] = "KarpenterNodeInstanceProfile" },
			"must specify exactly one of ['role', 'instanceProfile']"},
		{"reserved tag", func(s map[string]any) { s["tags"] = map[string]any{"karpenter.sh/nodepool": "x"} },
			"tag contains a restricted tag matching karpenter.sh/nodepool"},
		{"hop limit out of range", func(s map[string]any) {
			s["metadataOptions"].(map[string]any)["httpPutResponseHopLimit"] = 99
		}, "spec.metadataOptions.httpPutResponseHopLimit"},
		{"unknown field", func(s map[string]any) { s["amiFamily2"] = "AL2023" }, "field not declared in schema"},
		{"no subnets", func(s map[string]any) { s["subnetSelectorTerms"] = []any{} }, "subnetSelectorTerms cannot be empty"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := karpenter.NodeClassObject(nodeClassSettings(nil))
			tc.mutate(obj["spec"].(map[string]any))
			err := v.Validate(obj)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func controllerSettings(identity config.Identity, extra map[string]any) karpenter.ControllerSettings {
	k := config.Defaults().Karpenter
	k.Identity, k.Values = identity, extra
	return karpenter.ControllerSettings{
		Owner:       "karpenter-gpu/prod",
		ClusterName: "ml-prod", ClusterEndpoint: "https://EXAMPLE.gr7.us-west-2.eks.amazonaws.com",
		QueueName: "karpenter-interruption-1a2b3c4",
		RoleARN:   "arn:aws:iam::123456789012:role/karpenter-controller-1a2b3c4", Karpenter: k,
	}
}

// get walks a values tree by dotted path.
func get(t *testing.T, values map[string]any, path string) any {
	t.Helper()
	var cur any = values
	for _, key := range strings.Split(path, "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			t.Fatalf("%s: %v is not an object", path, cur)
		}
		cur = m[key]
	}
	return cur
}

func TestControllerValues(t *testing.T) {
	values := karpenter.ControllerValues(controllerSettings(config.IdentityIRSA, nil))
	want := map[string]any{
		"settings/clusterName":                                  "ml-prod",
		"settings/clusterEndpoint":                              "https://EXAMPLE.gr7.us-west-2.eks.amazonaws.com",
		"settings/interruptionQueue":                            "karpenter-interruption-1a2b3c4",
		"serviceAccount/name":                                   "karpenter",
		"serviceAccount/annotations/eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/karpenter-controller-1a2b3c4",
		"replicas":                             2,
		"logLevel":                             "info",
		"controller/resources/requests/cpu":    "1",
		"controller/resources/requests/memory": "1Gi",
		"controller/resources/limits/cpu":      "1",
		"controller/resources/limits/memory":   "1Gi",
	}
	for path, w := range want {
		// Keys with '/' in them (the role annotation) are looked up whole.
		var got any
		if strings.Contains(path, "eks.amazonaws.com") {
			got = values["serviceAccount"].(map[string]any)["annotations"].(map[string]any)[wellknown.ServiceAccountRoleAnnotation]
		} else {
			got = get(t, values, path)
		}
		if !reflect.DeepEqual(got, w) {
			t.Errorf("%s = %v, want %v", path, got, w)
		}
	}
	// Scheduling is the chart's: its selectors follow its own pod labels.
	for _, restated := range []string{"affinity", "topologySpreadConstraints", "priorityClassName"} {
		if _, ok := values[restated]; ok {
			t.Errorf("values restate the chart's default %s", restated)
		}
	}
	if _, ok := get(t, values, "settings").(map[string]any)["featureGates"]; ok {
		t.Error("feature gates set without being asked for")
	}
}

func TestPodIdentityHasNoRoleAnnotation(t *testing.T) {
	values := karpenter.ControllerValues(controllerSettings(config.IdentityPodIdentity, nil))
	if _, ok := values["serviceAccount"].(map[string]any)["annotations"]; ok {
		t.Fatalf("service account annotated under Pod Identity: %v", values["serviceAccount"])
	}
}

func TestExtraValuesMergeOverDefaults(t *testing.T) {
	extra := map[string]any{
		"settings":   map[string]any{"featureGates": map[string]any{"spotToSpotConsolidation": true}},
		"logLevel":   "debug",
		"controller": map[string]any{"resources": map[string]any{"limits": map[string]any{"memory": "2Gi"}}},
	}
	values := karpenter.ControllerValues(controllerSettings(config.IdentityIRSA, extra))
	if get(t, values, "settings/clusterName") != "ml-prod" || get(t, values, "settings/featureGates/spotToSpotConsolidation") != true {
		t.Errorf("settings = %v", values["settings"])
	}
	if values["logLevel"] != "debug" || get(t, values, "controller/resources/limits/memory") != "2Gi" || get(t, values, "controller/resources/limits/cpu") != "1" {
		t.Errorf("merge lost or ignored values: %v", values)
	}
}

func TestTrainingNodeClass(t *testing.T) {
	s := nodeClassSettings(func(nc *config.NodeClass) {
		nc.CapacityReservations = []config.CapacityReservation{
			{ID: "cr-0123456789abcdef0"},
			{Tags: map[string]string{"purpose": "training"}, OwnerID: "123456789012"},
			{InstanceMatchCriteria: "open"},
		}
		nc.EFA = config.EFA{NetworkCards: 32}
		nc.PlacementGroup = config.PlacementGroup{Name: "training"}
		nc.SubnetIDs = []string{"subnet-0aa11bb22cc33dd44"}
	})
	s.EFASecurityGroupID = "sg-0efa0efa0efa0efa0"
	obj := karpenter.NodeClassObject(s)
	if err := schema(t).Validate(obj); err != nil {
		t.Fatal(err)
	}
	spec := obj["spec"].(map[string]any)
	wantReservations := []any{
		map[string]any{"id": "cr-0123456789abcdef0"},
		map[string]any{"tags": map[string]any{"purpose": "training"}, "ownerID": "123456789012"},
		map[string]any{"instanceMatchCriteria": "open"},
	}
	if !reflect.DeepEqual(spec["capacityReservationSelectorTerms"], wantReservations) {
		t.Errorf("reservations = %v", spec["capacityReservationSelectorTerms"])
	}
	nics := spec["networkInterfaces"].([]any)
	if len(nics) != 33 || !reflect.DeepEqual(nics[0], map[string]any{"networkCardIndex": 0, "deviceIndex": 0, "interfaceType": "interface"}) ||
		!reflect.DeepEqual(nics[32], map[string]any{"networkCardIndex": 31, "deviceIndex": 0, "interfaceType": "efa-only"}) {
		t.Errorf("network interfaces = %v", nics)
	}
	if !reflect.DeepEqual(spec["placementGroupSelector"], map[string]any{"name": "training"}) {
		t.Errorf("placement group = %v", spec["placementGroupSelector"])
	}
	if !reflect.DeepEqual(spec["subnetSelectorTerms"], []any{map[string]any{"id": "subnet-0aa11bb22cc33dd44"}}) {
		t.Errorf("subnets = %v", spec["subnetSelectorTerms"])
	}
	wantGroups := []any{map[string]any{"tags": map[string]any{wellknown.DiscoveryTagKey: "ml-prod"}}, map[string]any{"id": "sg-0efa0efa0efa0efa0"}}
	if !reflect.DeepEqual(spec["securityGroupSelectorTerms"], wantGroups) {
		t.Errorf("security groups = %v", spec["securityGroupSelectorTerms"])
	}
	// Karpenter's own rules: a second EFA device on one card is refused.
	spec["networkInterfaces"] = append(nics, map[string]any{"networkCardIndex": 1, "deviceIndex": 1, "interfaceType": "efa-only"})
	if err := schema(t).Validate(obj); err == nil || !strings.Contains(err.Error(), "at most one efa device per network card") {
		t.Errorf("err = %v", err)
	}
}

// The gate names the configuration accepts are the pinned chart's.
func TestFeatureGatesAreTheCharts(t *testing.T) {
	dir, err := charts.KarpenterChart("karpenter")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var values struct {
		Settings struct {
			FeatureGates    map[string]any `json:"featureGates"`
			AWSFeatureGates map[string]any `json:"awsFeatureGates"`
		} `json:"settings"`
	}
	if err := yaml.Unmarshal(raw, &values); err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(values.Settings.FeatureGates)); !reflect.DeepEqual(got, wellknown.KarpenterFeatureGates) {
		t.Errorf("chart gates %v, known %v", got, wellknown.KarpenterFeatureGates)
	}
	if got := slices.Sorted(maps.Keys(values.Settings.AWSFeatureGates)); !reflect.DeepEqual(got, wellknown.KarpenterAWSFeatureGates) {
		t.Errorf("chart AWS gates %v, known %v", got, wellknown.KarpenterAWSFeatureGates)
	}
}

func TestColdStartOptionsOnBottlerocket(t *testing.T) {
	obj := karpenter.NodeClassObject(nodeClassSettings(func(nc *config.NodeClass) {
		nc.AMI, nc.SOCI = "bottlerocket@v1.50.0", true
		nc.DataVolumeSnapshot = config.DataVolumeSnapshot{SnapshotID: "snap-0123456789abcdef0", InitializationRateMiBps: 300}
	}))
	if err := schema(t).Validate(obj); err != nil {
		t.Fatal(err)
	}
	spec := obj["spec"].(map[string]any)
	var settings struct {
		Settings struct {
			ContainerRuntime struct {
				Snapshotter string `toml:"snapshotter"`
			} `toml:"container-runtime"`
			Plugins struct {
				SOCI struct {
					PullMode string `toml:"pull-mode"`
				} `toml:"soci-snapshotter"`
			} `toml:"container-runtime-plugins"`
		} `toml:"settings"`
	}
	if _, err := toml.Decode(spec["userData"].(string), &settings); err != nil {
		t.Fatal(err)
	}
	if settings.Settings.ContainerRuntime.Snapshotter != "soci" || settings.Settings.Plugins.SOCI.PullMode != "parallel-pull-unpack" {
		t.Errorf("user data = %q", spec["userData"])
	}
	data := spec["blockDeviceMappings"].([]any)[1].(map[string]any)["ebs"].(map[string]any)
	if data["snapshotID"] != "snap-0123456789abcdef0" || data["volumeInitializationRate"] != 300 {
		t.Errorf("data volume = %v", data)
	}
	// Karpenter's own rule: a rate without a snapshot is refused.
	delete(data, "snapshotID")
	if err := schema(t).Validate(obj); err == nil {
		t.Error("a volume initialization rate without a snapshot passed")
	}
}

// The AL2023 class's user data is a NodeConfig of the nodeadm API that
// Karpenter's own bootstrap is built on; Karpenter passes YAML user data on
// as a NodeConfig part, which nodeadm merges with the one Karpenter writes.
func TestSOCIOnAL2023(t *testing.T) {
	obj := karpenter.NodeClassObject(nodeClassSettings(func(nc *config.NodeClass) {
		nc.AMI, nc.SOCI = "al2023@v20260610", true
	}))
	if err := schema(t).Validate(obj); err != nil {
		t.Fatal(err)
	}
	var nodeConfig struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Spec       struct {
			FeatureGates map[string]bool `json:"featureGates"`
		} `json:"spec"`
	}
	userData := obj["spec"].(map[string]any)["userData"].(string)
	if err := yaml.UnmarshalStrict([]byte(userData), &nodeConfig); err != nil {
		t.Fatal(err)
	}
	if nodeConfig.APIVersion != admv1alpha1.GroupVersion.String() || nodeConfig.Kind != admapi.KindNodeConfig {
		t.Errorf("user data is %s %s, not nodeadm's %s %s", nodeConfig.APIVersion, nodeConfig.Kind, admv1alpha1.GroupVersion, admapi.KindNodeConfig)
	}
	if !reflect.DeepEqual(nodeConfig.Spec.FeatureGates, map[string]bool{"FastImagePull": true}) {
		t.Errorf("feature gates = %v", nodeConfig.Spec.FeatureGates)
	}
}
