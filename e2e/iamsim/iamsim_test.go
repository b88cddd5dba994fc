package iamsim

import (
	"encoding/json"
	"strings"
	"testing"
)

// policy is shaped like the controller's node lifecycle statements.
const policy = `{"Version":"2012-10-17","Statement":[
 {"Sid":"Launch","Effect":"Allow","Action":["ec2:RunInstances","ec2:CreateFleet"],
  "Resource":["arn:aws:ec2:us-west-2::image/*","arn:aws:ec2:us-west-2:*:subnet/*","arn:aws:ec2:us-west-2:*:security-group/*"]},
 {"Sid":"LaunchTemplate","Effect":"Allow","Action":["ec2:RunInstances","ec2:CreateFleet"],"Resource":"arn:aws:ec2:us-west-2:*:launch-template/*",
  "Condition":{"StringEquals":{"aws:ResourceTag/kubernetes.io/cluster/ml-dev":"owned"},"StringLike":{"aws:ResourceTag/karpenter.sh/nodepool":"*"}}},
 {"Sid":"Create","Effect":"Allow","Action":["ec2:RunInstances","ec2:CreateFleet","ec2:CreateLaunchTemplate"],
  "Resource":["arn:aws:ec2:us-west-2:*:fleet/*","arn:aws:ec2:us-west-2:*:instance/*","arn:aws:ec2:us-west-2:*:launch-template/*"],
  "Condition":{"StringEquals":{"aws:RequestTag/kubernetes.io/cluster/ml-dev":"owned","aws:RequestTag/eks:eks-cluster-name":"ml-dev"},"StringLike":{"aws:RequestTag/karpenter.sh/nodepool":"*"}}},
 {"Sid":"TagOnCreate","Effect":"Allow","Action":"ec2:CreateTags",
  "Resource":["arn:aws:ec2:us-west-2:*:fleet/*","arn:aws:ec2:us-west-2:*:instance/*","arn:aws:ec2:us-west-2:*:launch-template/*"],
  "Condition":{"StringEquals":{"aws:RequestTag/kubernetes.io/cluster/ml-dev":"owned","ec2:CreateAction":["RunInstances","CreateFleet","CreateLaunchTemplate"]},"StringLike":{"aws:RequestTag/karpenter.sh/nodepool":"*"}}},
 {"Sid":"Tag","Effect":"Allow","Action":"ec2:CreateTags","Resource":"arn:aws:ec2:us-west-2:*:instance/*",
  "Condition":{"StringEquals":{"aws:ResourceTag/kubernetes.io/cluster/ml-dev":"owned"},"StringLike":{"aws:ResourceTag/karpenter.sh/nodepool":"*"},
   "ForAllValues:StringEquals":{"aws:TagKeys":["eks:eks-cluster-name","karpenter.sh/nodeclaim","Name"]}}},
 {"Sid":"Delete","Effect":"Allow","Action":"ec2:TerminateInstances","Resource":"arn:aws:ec2:us-west-2:*:instance/*",
  "Condition":{"StringEquals":{"aws:ResourceTag/kubernetes.io/cluster/ml-dev":"owned"},"StringLike":{"aws:ResourceTag/karpenter.sh/nodepool":"*"}}},
 {"Sid":"DeleteTemplate","Effect":"Allow","Action":"ec2:DeleteLaunchTemplate","Resource":"arn:aws:ec2:us-west-2:*:launch-template/*",
  "Condition":{"StringEquals":{"aws:ResourceTag/kubernetes.io/cluster/ml-dev":"owned"},"StringLike":{"aws:ResourceTag/karpenter.sh/nodepool":"*"}}},
 {"Sid":"Read","Effect":"Allow","Action":["ec2:DescribeSubnets"],"Resource":"*","Condition":{"StringEquals":{"aws:RequestedRegion":"us-west-2"}}}
]}`

var account = Account{Partition: "aws", Region: "us-west-2", ID: "123456789012", Cluster: "ml-dev", Queue: "ml-dev-karpenter"}

const ownedTags = `[{"Key":"kubernetes.io/cluster/ml-dev","Value":"owned"},{"Key":"eks:eks-cluster-name","Value":"ml-dev"},{"Key":"karpenter.sh/nodepool","Value":"inference"}]`

func launchTemplate(tags string) string {
	return `{"LaunchTemplateName":"karpenter.k8s.aws/1","TagSpecifications":[{"ResourceType":"launch-template","Tags":` + tags + `}]}`
}

func fleet(tags string) string {
	return `{"LaunchTemplateConfigs":[{"LaunchTemplateSpecification":{"LaunchTemplateName":"karpenter.k8s.aws/1"},"Overrides":[{"SubnetId":"subnet-0aa11bb22cc33dd44","InstanceType":"g6.xlarge"}]}],
	 "TagSpecifications":[{"ResourceType":"fleet","Tags":` + tags + `},{"ResourceType":"instance","Tags":` + tags + `}]}`
}

type call struct{ action, input, output string }

func judge(t *testing.T, calls []call) error {
	t.Helper()
	p, err := Parse("controller", policy)
	if err != nil {
		t.Fatal(err)
	}
	replay := NewCalls(account)
	for _, c := range calls {
		var out json.RawMessage
		if c.output != "" {
			out = json.RawMessage(c.output)
		}
		reqs, err := replay.Requests(c.action, json.RawMessage(c.input), out)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range reqs {
			if v := Evaluate([]Policy{p}, r); !v.Allowed {
				return &denied{r, v}
			}
		}
	}
	return nil
}

type denied struct {
	r Request
	v Verdict
}

func (d *denied) Error() string { return d.r.String() + ": " + d.v.Statement + " lacks " + d.v.Missing }

func TestKarpenterLifecycleAgainstScopedPolicy(t *testing.T) {
	launched := `{"Instances":[{"InstanceIds":["i-0abc"]}]}`
	for _, c := range []struct {
		name  string
		calls []call
		// denied names the statement that came closest, and what it lacked.
		denied string
	}{
		{name: "launch, tag and terminate what it launched", calls: []call{
			{"ec2:DescribeSubnets", `{}`, ""},
			{"ec2:CreateLaunchTemplate", launchTemplate(ownedTags), ""},
			{"ec2:CreateFleet", fleet(ownedTags), launched},
			{"ec2:CreateTags", `{"Resources":["i-0abc"],"Tags":[{"Key":"karpenter.sh/nodeclaim","Value":"inference-x7k2p"},{"Key":"Name","Value":"inference-x7k2p"}]}`, ""},
			{"ec2:TerminateInstances", `{"InstanceIds":["i-0abc"]}`, ""},
		}},
		{name: "deleting its launch template by ID", calls: []call{
			{"ec2:CreateLaunchTemplate", launchTemplate(ownedTags), `{"LaunchTemplate":{"LaunchTemplateId":"lt-0123","LaunchTemplateName":"karpenter.k8s.aws/1"}}`},
			{"ec2:DeleteLaunchTemplate", `{"LaunchTemplateId":"lt-0123"}`, ""},
		}},
		{name: "deleting a launch template it did not create", calls: []call{
			{"ec2:DeleteLaunchTemplate", `{"LaunchTemplateId":"lt-0999"}`, ""},
		}, denied: "controller/DeleteTemplate lacks StringEquals aws:ResourceTag/kubernetes.io/cluster/ml-dev"},
		{name: "a launch without the pool tag", calls: []call{
			{"ec2:CreateLaunchTemplate", launchTemplate(ownedTags), ""},
			{"ec2:CreateFleet", fleet(`[{"Key":"kubernetes.io/cluster/ml-dev","Value":"owned"},{"Key":"eks:eks-cluster-name","Value":"ml-dev"}]`), launched},
		}, denied: "controller/Create lacks StringLike aws:RequestTag/karpenter.sh/nodepool"},
		{name: "a tag key the scoped tagging leaves out", calls: []call{
			{"ec2:CreateLaunchTemplate", launchTemplate(ownedTags), ""},
			{"ec2:CreateFleet", fleet(ownedTags), launched},
			{"ec2:CreateTags", `{"Resources":["i-0abc"],"Tags":[{"Key":"team","Value":"ml"}]}`, ""},
		}, denied: "controller/Tag lacks ForAllValues:StringEquals aws:TagKeys"},
		{name: "terminating an instance Karpenter did not launch", calls: []call{
			{"ec2:TerminateInstances", `{"InstanceIds":["i-0system"]}`, ""},
		}, denied: "controller/Delete lacks StringEquals aws:ResourceTag/kubernetes.io/cluster/ml-dev"},
		{name: "an action no statement has", calls: []call{
			{"sqs:ReceiveMessage", `{}`, ""},
		}, denied: "no statement allows sqs:ReceiveMessage"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := judge(t, c.calls)
			switch {
			case c.denied == "" && err != nil:
				t.Fatal(err)
			case c.denied != "" && (err == nil || !strings.Contains(err.Error(), c.denied)):
				t.Fatalf("verdict %v, want a denial saying %q", err, c.denied)
			}
		})
	}
}

func TestUnknownConditionOperatorIsRefused(t *testing.T) {
	_, err := Parse("p", `{"Statement":[{"Sid":"S","Effect":"Allow","Action":"ec2:CreateTags","Resource":"*","Condition":{"ArnNotLike":{"aws:SourceArn":"x"}}}]}`)
	if err == nil || !strings.Contains(err.Error(), "ArnNotLike") {
		t.Fatalf("err %v, want the operator named", err)
	}
}

// Launching with a launch template whose instance profile holds a role
// passes that role to EC2, as IAM authorizes RunInstances and CreateFleet.
func TestLaunchPassesTheProfilesRole(t *testing.T) {
	replay := NewCalls(account)
	for _, c := range []call{
		{"iam:AddRoleToInstanceProfile", `{"InstanceProfileName":"ml-dev_123","RoleName":"KarpenterNodeRole-ml-dev"}`, ""},
		{"ec2:CreateLaunchTemplate", `{"LaunchTemplateName":"karpenter.k8s.aws/1","LaunchTemplateData":{"IamInstanceProfile":{"Name":"ml-dev_123"}}}`, ""},
	} {
		if _, err := replay.Requests(c.action, json.RawMessage(c.input), nil); err != nil {
			t.Fatal(err)
		}
	}
	reqs, err := replay.Requests("ec2:CreateFleet", json.RawMessage(fleet(ownedTags)), nil)
	if err != nil {
		t.Fatal(err)
	}
	var passed []string
	for _, r := range reqs {
		if r.Action == "iam:PassRole" {
			passed = append(passed, r.Resource+" to "+strings.Join(r.Context["iam:PassedToService"], ","))
		}
	}
	if want := "arn:aws:iam::123456789012:role/KarpenterNodeRole-ml-dev to ec2.amazonaws.com"; len(passed) != 1 || passed[0] != want {
		t.Fatalf("the launch passes %v, want %s", passed, want)
	}
}
