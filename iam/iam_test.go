package iam_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"karpenter-gpu/iam"
)

var scope = iam.ControllerScope{
	Partition:   "aws",
	Region:      "us-west-2",
	AccountID:   "123456789012",
	ClusterName: "ml-prod",
	ClusterARN:  "arn:aws:eks:us-west-2:123456789012:cluster/ml-prod",
	NodeRoleARN: "arn:aws:iam::123456789012:role/karpenter-node-1a2b3c4",
	QueueARN:    "arn:aws:sqs:us-west-2:123456789012:karpenter-interruption-1a2b3c4",
}

type cond = map[string]map[string]any

// expected is our hand restatement of the scoped controller permissions of
// Karpenter's getting-started CloudFormation template, statement by
// statement. The pinned module does not ship that template (it lives in
// the project's website, outside the Go module), so this cannot be derived
// from upstream here: it guards against an edit that drops an action, a
// resource or a condition. Whether the policies let the real controller do
// its work is judged upstream of us in the end-to-end run, which turns
// every AWS call Karpenter's own controller makes into the IAM requests it
// needs and judges them against these policies (e2e/iamsim).
var expected = map[string]map[string]iam.Statement{
	"node-lifecycle": {
		"AllowScopedEC2InstanceAccessActions": {
			Action: []string{"ec2:RunInstances", "ec2:CreateFleet"},
			Resource: []string{
				"arn:aws:ec2:us-west-2::image/*", "arn:aws:ec2:us-west-2::snapshot/*",
				"arn:aws:ec2:us-west-2:*:security-group/*", "arn:aws:ec2:us-west-2:*:subnet/*",
				"arn:aws:ec2:us-west-2:*:capacity-reservation/*", "arn:aws:ec2:us-west-2:*:placement-group/*",
			},
		},
		"AllowScopedEC2LaunchTemplateAccessActions": {
			Action:   []string{"ec2:RunInstances", "ec2:CreateFleet"},
			Resource: []string{"arn:aws:ec2:us-west-2:*:launch-template/*"},
			Condition: cond{
				"StringEquals": {"aws:ResourceTag/kubernetes.io/cluster/ml-prod": "owned"},
				"StringLike":   {"aws:ResourceTag/karpenter.sh/nodepool": "*"},
			},
		},
		"AllowScopedEC2InstanceActionsWithTags": {
			Action:   []string{"ec2:RunInstances", "ec2:CreateFleet", "ec2:CreateLaunchTemplate"},
			Resource: launched,
			Condition: cond{
				"StringEquals": {"aws:RequestTag/kubernetes.io/cluster/ml-prod": "owned", "aws:RequestTag/eks:eks-cluster-name": "ml-prod"},
				"StringLike":   {"aws:RequestTag/karpenter.sh/nodepool": "*"},
			},
		},
		"AllowScopedResourceCreationTagging": {
			Action:   []string{"ec2:CreateTags"},
			Resource: launched,
			Condition: cond{
				"StringEquals": {
					"aws:RequestTag/kubernetes.io/cluster/ml-prod": "owned",
					"aws:RequestTag/eks:eks-cluster-name":          "ml-prod",
					"ec2:CreateAction":                             []any{"RunInstances", "CreateFleet", "CreateLaunchTemplate"},
				},
				"StringLike": {"aws:RequestTag/karpenter.sh/nodepool": "*"},
			},
		},
		"AllowScopedResourceTagging": {
			Action:   []string{"ec2:CreateTags"},
			Resource: []string{"arn:aws:ec2:us-west-2:*:instance/*"},
			Condition: cond{
				"StringEquals":              {"aws:ResourceTag/kubernetes.io/cluster/ml-prod": "owned"},
				"StringLike":                {"aws:ResourceTag/karpenter.sh/nodepool": "*"},
				"StringEqualsIfExists":      {"aws:RequestTag/eks:eks-cluster-name": "ml-prod"},
				"ForAllValues:StringEquals": {"aws:TagKeys": []any{"eks:eks-cluster-name", "karpenter.sh/nodeclaim", "Name"}},
			},
		},
		"AllowScopedDeletion": {
			Action:   []string{"ec2:TerminateInstances", "ec2:DeleteLaunchTemplate"},
			Resource: []string{"arn:aws:ec2:us-west-2:*:instance/*", "arn:aws:ec2:us-west-2:*:launch-template/*"},
			Condition: cond{
				"StringEquals": {"aws:ResourceTag/kubernetes.io/cluster/ml-prod": "owned"},
				"StringLike":   {"aws:ResourceTag/karpenter.sh/nodepool": "*"},
			},
		},
	},
	"iam-integration": {
		"AllowPassingInstanceRole": {
			Action:    []string{"iam:PassRole"},
			Resource:  []string{scope.NodeRoleARN},
			Condition: cond{"StringEquals": {"iam:PassedToService": []any{"ec2.amazonaws.com", "ec2.amazonaws.com.cn"}}},
		},
		"AllowScopedInstanceProfileCreationActions": {
			Action:   []string{"iam:CreateInstanceProfile"},
			Resource: []string{profiles},
			Condition: cond{
				"StringEquals": {
					"aws:RequestTag/kubernetes.io/cluster/ml-prod": "owned",
					"aws:RequestTag/eks:eks-cluster-name":          "ml-prod",
					"aws:RequestTag/topology.kubernetes.io/region": "us-west-2",
				},
				"StringLike": {"aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*"},
			},
		},
		"AllowScopedInstanceProfileTagActions": {
			Action:   []string{"iam:TagInstanceProfile"},
			Resource: []string{profiles},
			Condition: cond{
				"StringEquals": {
					"aws:ResourceTag/kubernetes.io/cluster/ml-prod": "owned",
					"aws:ResourceTag/topology.kubernetes.io/region": "us-west-2",
					"aws:RequestTag/kubernetes.io/cluster/ml-prod":  "owned",
					"aws:RequestTag/eks:eks-cluster-name":           "ml-prod",
					"aws:RequestTag/topology.kubernetes.io/region":  "us-west-2",
				},
				"StringLike": {"aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*", "aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*"},
			},
		},
		"AllowScopedInstanceProfileActions": {
			Action:   []string{"iam:AddRoleToInstanceProfile", "iam:RemoveRoleFromInstanceProfile", "iam:DeleteInstanceProfile"},
			Resource: []string{profiles},
			Condition: cond{
				"StringEquals": {"aws:ResourceTag/kubernetes.io/cluster/ml-prod": "owned", "aws:ResourceTag/topology.kubernetes.io/region": "us-west-2"},
				"StringLike":   {"aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*"},
			},
		},
		"AllowInstanceProfileReadActions":        {Action: []string{"iam:GetInstanceProfile"}, Resource: []string{profiles}},
		"AllowUnscopedInstanceProfileListAction": {Action: []string{"iam:ListInstanceProfiles"}, Resource: []string{"*"}},
	},
	"eks-integration": {
		"AllowAPIServerEndpointDiscovery": {Action: []string{"eks:DescribeCluster"}, Resource: []string{scope.ClusterARN}},
	},
	"interruption": {
		"AllowInterruptionQueueActions": {Action: []string{"sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"}, Resource: []string{scope.QueueARN}},
	},
	"resource-discovery": {
		"AllowRegionalReadActions": {
			Action: []string{
				"ec2:DescribeCapacityReservations", "ec2:DescribeImages", "ec2:DescribeInstances",
				"ec2:DescribeInstanceStatus", "ec2:DescribeInstanceTypeOfferings", "ec2:DescribeInstanceTypes",
				"ec2:DescribeLaunchTemplates", "ec2:DescribePlacementGroups", "ec2:DescribeSecurityGroups",
				"ec2:DescribeSpotPriceHistory", "ec2:DescribeSubnets",
			},
			Resource:  []string{"*"},
			Condition: cond{"StringEquals": {"aws:RequestedRegion": "us-west-2"}},
		},
		"AllowSSMReadActions":     {Action: []string{"ssm:GetParameter"}, Resource: []string{"arn:aws:ssm:us-west-2::parameter/aws/service/*"}},
		"AllowPricingReadActions": {Action: []string{"pricing:GetProducts"}, Resource: []string{"*"}},
		"AllowZonalShiftReadActions": {
			Action:    []string{"arc-zonal-shift:GetManagedResource"},
			Resource:  []string{"*"},
			Condition: cond{"StringEquals": {"arc-zonal-shift:ResourceIdentifier": scope.ClusterARN}},
		},
	},
}

var launched = []string{
	"arn:aws:ec2:us-west-2:*:fleet/*", "arn:aws:ec2:us-west-2:*:instance/*", "arn:aws:ec2:us-west-2:*:volume/*",
	"arn:aws:ec2:us-west-2:*:network-interface/*", "arn:aws:ec2:us-west-2:*:launch-template/*", "arn:aws:ec2:us-west-2:*:spot-instances-request/*",
}

const profiles = "arn:aws:iam::123456789012:instance-profile/*"

// decoded is a statement as IAM reads the JSON.
type decoded struct {
	Sid       string
	Effect    string
	Action    []string
	Resource  []string
	Condition map[string]map[string]any
}

func decode(t *testing.T, doc iam.Document) []decoded {
	t.Helper()
	raw, err := doc.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Version   string
		Statement []decoded
	}
	if err := json.Unmarshal([]byte(raw), &d); err != nil {
		t.Fatal(err)
	}
	if d.Version != "2012-10-17" {
		t.Errorf("Version = %q", d.Version)
	}
	return d.Statement
}

func normalize(c map[string]map[string]any) map[string]map[string]any {
	b, _ := json.Marshal(c)
	var out map[string]map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}

func TestControllerPoliciesAreOurRestatementOfKarpentersTemplate(t *testing.T) {
	policies := iam.ControllerPolicies(scope)
	if len(policies) != len(expected) {
		t.Fatalf("%d policies, want %d", len(policies), len(expected))
	}
	for _, p := range policies {
		want, ok := expected[p.Name]
		if !ok {
			t.Errorf("unexpected policy %s", p.Name)
			continue
		}
		got := decode(t, p.Document)
		if len(got) != len(want) {
			t.Errorf("%s: %d statements, want %d", p.Name, len(got), len(want))
		}
		for _, s := range got {
			w, ok := want[s.Sid]
			if !ok {
				t.Errorf("%s: unexpected statement %s", p.Name, s.Sid)
				continue
			}
			if s.Effect != "Allow" {
				t.Errorf("%s: Effect = %s", s.Sid, s.Effect)
			}
			if !reflect.DeepEqual(s.Action, w.Action) {
				t.Errorf("%s: actions = %v, want %v", s.Sid, s.Action, w.Action)
			}
			if !reflect.DeepEqual(s.Resource, w.Resource) {
				t.Errorf("%s: resources = %v, want %v", s.Sid, s.Resource, w.Resource)
			}
			if !reflect.DeepEqual(normalize(s.Condition), normalize(w.Condition)) {
				t.Errorf("%s: conditions = %v, want %v", s.Sid, s.Condition, w.Condition)
			}
		}
	}
}

// readOnly are the unscoped actions that only read; every other action must
// name its resources.
func readOnly(action string) bool {
	_, verb, _ := strings.Cut(action, ":")
	return strings.HasPrefix(verb, "Describe") || strings.HasPrefix(verb, "Get") || strings.HasPrefix(verb, "List")
}

func TestNoWriteActionOnEveryResource(t *testing.T) {
	for _, p := range iam.ControllerPolicies(scope) {
		for _, s := range decode(t, p.Document) {
			if !slices.Contains(s.Resource, "*") {
				continue
			}
			for _, a := range s.Action {
				if !readOnly(a) {
					t.Errorf("%s/%s: write action %s on Resource \"*\"", p.Name, s.Sid, a)
				}
			}
		}
	}
}

func TestPoliciesFitIAMLimitsForLongClusterNames(t *testing.T) {
	long := scope
	long.ClusterName = strings.Repeat("c", 100)
	long.ClusterARN = "arn:aws-us-gov:eks:us-gov-west-1:123456789012:cluster/" + long.ClusterName
	long.Partition, long.Region = "aws-us-gov", "us-gov-west-1"
	long.NodeRoleARN = "arn:aws-us-gov:iam::123456789012:role/" + strings.Repeat("r", 64)
	long.QueueARN = "arn:aws-us-gov:sqs:us-gov-west-1:123456789012:" + strings.Repeat("q", 80)
	for _, p := range iam.ControllerPolicies(long) {
		raw, err := p.Document.JSON()
		if err != nil {
			t.Fatal(err)
		}
		if n := len(strings.Join(strings.Fields(raw), "")); n > iam.MaxManagedPolicyChars {
			t.Errorf("%s: %d characters, IAM allows %d", p.Name, n, iam.MaxManagedPolicyChars)
		}
	}
}

func TestIRSATrustNamesExactlyTheKarpenterServiceAccount(t *testing.T) {
	const issuer = "https://oidc.eks.us-west-2.amazonaws.com/id/0123456789ABCDEF"
	provider := "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/0123456789ABCDEF"
	raw, err := iam.IRSATrust(provider, issuer, "kube-system", "karpenter").JSON()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + provider + `"},` +
		`"Action":["sts:AssumeRoleWithWebIdentity"],"Condition":{"StringEquals":{` +
		`"oidc.eks.us-west-2.amazonaws.com/id/0123456789ABCDEF:aud":"sts.amazonaws.com",` +
		`"oidc.eks.us-west-2.amazonaws.com/id/0123456789ABCDEF:sub":"system:serviceaccount:kube-system:karpenter"}}}]}`
	if raw != want {
		t.Fatalf("got  %s\nwant %s", raw, want)
	}
}

func TestServiceTrusts(t *testing.T) {
	cases := map[string]struct {
		doc  iam.Document
		want string
	}{
		"node":          {iam.NodeTrust("amazonaws.com"), `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":["sts:AssumeRole"]}]}`},
		"node in China": {iam.NodeTrust("amazonaws.com.cn"), `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com.cn"},"Action":["sts:AssumeRole"]}]}`},
		"pod identity":  {iam.PodIdentityTrust(), `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"]}]}`},
	}
	for name, tc := range cases {
		raw, err := tc.doc.JSON()
		if err != nil {
			t.Fatal(err)
		}
		if raw != tc.want {
			t.Errorf("%s: got %s", name, raw)
		}
	}
}

// rebootForRepair adds exactly one statement: reboot, scoped like
// termination to this cluster's Karpenter instances.
func TestRebootForRepairGrantsScopedReboot(t *testing.T) {
	has := func(s iam.ControllerScope) []decoded {
		var out []decoded
		for _, p := range iam.ControllerPolicies(s) {
			for _, st := range decode(t, p.Document) {
				if slices.Contains(st.Action, "ec2:RebootInstances") {
					out = append(out, st)
				}
			}
		}
		return out
	}
	if got := has(scope); len(got) != 0 {
		t.Fatalf("reboot granted without the gate: %+v", got)
	}
	withReboot := scope
	withReboot.RebootForRepair = true
	got := has(withReboot)
	if len(got) != 1 {
		t.Fatalf("%d reboot statements", len(got))
	}
	st := got[0]
	wantCondition := map[string]map[string]any{
		"StringEquals": {"aws:ResourceTag/kubernetes.io/cluster/" + scope.ClusterName: "owned"},
		"StringLike":   {"aws:ResourceTag/karpenter.sh/nodepool": "*"},
	}
	if !reflect.DeepEqual(st.Action, []string{"ec2:RebootInstances"}) || !reflect.DeepEqual(st.Resource, []string{"arn:aws:ec2:us-west-2:*:instance/*"}) ||
		!reflect.DeepEqual(normalize(st.Condition), normalize(wantCondition)) {
		t.Errorf("reboot statement = %+v", st)
	}
}
