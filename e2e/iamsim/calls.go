package iamsim

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Account is where the calls were made.
type Account struct {
	Partition, Region, ID string
	// Cluster and Queue are the names of the EKS cluster and the
	// interruption queue.
	Cluster, Queue string
}

// Calls turns the AWS calls a controller made, in order, into the IAM
// requests each one is authorized as: one per resource it acts on, with
// the tags the call asks for (aws:RequestTag, aws:TagKeys) and the tags
// the resource already has (aws:ResourceTag, from the calls that created
// or tagged it). A tag-on-create also needs ec2:CreateTags on each
// resource it tags (ec2:CreateAction), as EC2 authorizes it.
type Calls struct {
	account Account
	// tags of the resources the calls created: launch templates by name,
	// instances by ID, instance profiles by name.
	launchTemplates, instances, profiles map[string]map[string]string
	// templateNames are launch template names by ID.
	templateNames map[string]string
	// templateProfiles are the instance profiles launch templates name,
	// profileRoles the roles added to instance profiles: a launch passes
	// that role to EC2.
	templateProfiles, profileRoles map[string]string
}

// NewCalls starts a replay.
func NewCalls(a Account) *Calls {
	return &Calls{account: a, launchTemplates: map[string]map[string]string{}, instances: map[string]map[string]string{},
		profiles: map[string]map[string]string{}, templateNames: map[string]string{},
		templateProfiles: map[string]string{}, profileRoles: map[string]string{}}
}

type tag struct{ Key, Value *string }

type tagSpec struct {
	ResourceType string
	Tags         []tag
}

func tagMap(tags []tag) map[string]string {
	m := map[string]string{}
	for _, t := range tags {
		if t.Key != nil && t.Value != nil {
			m[*t.Key] = *t.Value
		}
	}
	return m
}

// Requests are the requests of one call; output is the call's answer where
// it names what it created (instance IDs), or nil.
func (c *Calls) Requests(action string, input, output json.RawMessage) ([]Request, error) {
	a := c.account
	ec2 := func(kind, id string) string {
		return fmt.Sprintf("arn:%s:ec2:%s:%s:%s/%s", a.Partition, a.Region, a.ID, kind, id)
	}
	regional := func() map[string][]string { return map[string][]string{"aws:RequestedRegion": {a.Region}} }
	service, operation, _ := strings.Cut(action, ":")
	switch {
	case service == "ec2" && strings.HasPrefix(operation, "Describe"):
		return []Request{{Action: action, Resource: "*", Context: regional()}}, nil
	case action == "pricing:GetProducts":
		return []Request{{Action: action, Resource: "*", Context: map[string][]string{}}}, nil
	case action == "ssm:GetParameter":
		var in struct{ Name string }
		if err := json.Unmarshal(input, &in); err != nil {
			return nil, err
		}
		return []Request{{Action: action, Resource: fmt.Sprintf("arn:%s:ssm:%s::parameter%s", a.Partition, a.Region, in.Name), Context: regional()}}, nil
	case action == "eks:DescribeCluster":
		return []Request{{Action: action, Resource: fmt.Sprintf("arn:%s:eks:%s:%s:cluster/%s", a.Partition, a.Region, a.ID, a.Cluster), Context: regional()}}, nil
	case service == "sqs":
		return []Request{{Action: action, Resource: fmt.Sprintf("arn:%s:sqs:%s:%s:%s", a.Partition, a.Region, a.ID, a.Queue), Context: regional()}}, nil
	case action == "ec2:CreateLaunchTemplate":
		var in struct {
			LaunchTemplateName string
			LaunchTemplateData struct {
				IamInstanceProfile *struct{ Name *string }
			}
			TagSpecifications []tagSpec
			DryRun            *bool
		}
		if err := json.Unmarshal(input, &in); err != nil {
			return nil, err
		}
		var tags map[string]string
		for _, s := range in.TagSpecifications {
			if s.ResourceType == "launch-template" {
				tags = tagMap(s.Tags)
			}
		}
		if in.DryRun == nil || !*in.DryRun {
			c.launchTemplates[in.LaunchTemplateName] = tags
			if p := in.LaunchTemplateData.IamInstanceProfile; p != nil && p.Name != nil {
				c.templateProfiles[in.LaunchTemplateName] = *p.Name
			}
			var res struct {
				LaunchTemplate struct{ LaunchTemplateId string }
			}
			if len(output) > 0 && json.Unmarshal(output, &res) == nil && res.LaunchTemplate.LaunchTemplateId != "" {
				c.templateNames[res.LaunchTemplate.LaunchTemplateId] = in.LaunchTemplateName
			}
		}
		return created(action, ec2("launch-template", "*"), tags, "CreateLaunchTemplate"), nil
	case action == "ec2:CreateFleet" || action == "ec2:RunInstances":
		return c.launch(action, input, output, ec2)
	case action == "ec2:CreateTags":
		var in struct {
			Resources []string
			Tags      []tag
		}
		if err := json.Unmarshal(input, &in); err != nil {
			return nil, err
		}
		add := tagMap(in.Tags)
		var out []Request
		for _, id := range in.Resources {
			ctx := withResourceTags(requestTags(add), c.instances[id])
			out = append(out, Request{Action: action, Resource: ec2("instance", id), Context: ctx})
			for k, v := range add {
				if c.instances[id] == nil {
					c.instances[id] = map[string]string{}
				}
				c.instances[id][k] = v
			}
		}
		return out, nil
	case action == "ec2:TerminateInstances" || action == "ec2:RebootInstances":
		var in struct{ InstanceIds []string }
		if err := json.Unmarshal(input, &in); err != nil {
			return nil, err
		}
		var out []Request
		for _, id := range in.InstanceIds {
			out = append(out, Request{Action: action, Resource: ec2("instance", id), Context: withResourceTags(map[string][]string{}, c.instances[id])})
		}
		return out, nil
	case action == "ec2:DeleteLaunchTemplate":
		var in struct{ LaunchTemplateName, LaunchTemplateId *string }
		if err := json.Unmarshal(input, &in); err != nil {
			return nil, err
		}
		var name, id string
		switch {
		case in.LaunchTemplateName != nil:
			name = *in.LaunchTemplateName
		case in.LaunchTemplateId != nil:
			id, name = *in.LaunchTemplateId, c.templateNames[*in.LaunchTemplateId]
		default:
			return nil, fmt.Errorf("%s names no launch template", action)
		}
		if id == "" {
			id = "*"
		}
		return []Request{{Action: action, Resource: ec2("launch-template", id), Context: withResourceTags(map[string][]string{}, c.launchTemplates[name])}}, nil
	case service == "iam":
		return c.iam(action, input)
	}
	return nil, fmt.Errorf("%s: no rule for the resources of this action", action)
}

func (c *Calls) iam(action string, input json.RawMessage) ([]Request, error) {
	a := c.account
	var in struct {
		InstanceProfileName string
		RoleName            string
		Tags                []tag
	}
	if err := json.Unmarshal(input, &in); err != nil {
		return nil, err
	}
	profile := fmt.Sprintf("arn:%s:iam::%s:instance-profile/%s", a.Partition, a.ID, in.InstanceProfileName)
	switch action {
	case "iam:ListInstanceProfiles":
		return []Request{{Action: action, Resource: "*", Context: map[string][]string{}}}, nil
	case "iam:GetRole":
		return []Request{{Action: action, Resource: fmt.Sprintf("arn:%s:iam::%s:role/%s", a.Partition, a.ID, in.RoleName), Context: map[string][]string{}}}, nil
	case "iam:CreateInstanceProfile":
		c.profiles[in.InstanceProfileName] = tagMap(in.Tags)
		return []Request{{Action: action, Resource: profile, Context: requestTags(tagMap(in.Tags))}}, nil
	case "iam:TagInstanceProfile":
		ctx := withResourceTags(requestTags(tagMap(in.Tags)), c.profiles[in.InstanceProfileName])
		for k, v := range tagMap(in.Tags) {
			if c.profiles[in.InstanceProfileName] == nil {
				c.profiles[in.InstanceProfileName] = map[string]string{}
			}
			c.profiles[in.InstanceProfileName][k] = v
		}
		return []Request{{Action: action, Resource: profile, Context: ctx}}, nil
	case "iam:AddRoleToInstanceProfile":
		// Adding a role to a profile passes it.
		c.profileRoles[in.InstanceProfileName] = in.RoleName
		role := fmt.Sprintf("arn:%s:iam::%s:role/%s", a.Partition, a.ID, in.RoleName)
		return []Request{
			{Action: action, Resource: profile, Context: withResourceTags(map[string][]string{}, c.profiles[in.InstanceProfileName])},
			{Action: "iam:PassRole", Resource: role, Context: map[string][]string{"iam:PassedToService": {"ec2.amazonaws.com"}}},
		}, nil
	case "iam:GetInstanceProfile", "iam:RemoveRoleFromInstanceProfile", "iam:DeleteInstanceProfile":
		return []Request{{Action: action, Resource: profile, Context: withResourceTags(map[string][]string{}, c.profiles[in.InstanceProfileName])}}, nil
	}
	return nil, fmt.Errorf("%s: no rule for the resources of this action", action)
}

// launch: a CreateFleet or RunInstances acts on the image, subnets,
// security groups and launch template it uses, and creates the resources
// its tag specifications name (fleet, instances, volumes, ...), each with
// its request tags and a tag-on-create.
func (c *Calls) launch(action string, input, output json.RawMessage, ec2 func(kind, id string) string) ([]Request, error) {
	var in struct {
		DryRun                *bool
		LaunchTemplateConfigs []struct {
			LaunchTemplateSpecification struct{ LaunchTemplateName *string }
			Overrides                   []struct{ SubnetId, ImageId *string }
		}
		LaunchTemplate    *struct{ LaunchTemplateName *string }
		TagSpecifications []tagSpec
		SubnetId          *string
		ImageId           *string
	}
	if err := json.Unmarshal(input, &in); err != nil {
		return nil, err
	}
	var out []Request
	used := func(kind, id string) {
		out = append(out, Request{Action: action, Resource: ec2(kind, id), Context: map[string][]string{}})
	}
	templates := map[string]bool{}
	for _, ltc := range in.LaunchTemplateConfigs {
		if n := ltc.LaunchTemplateSpecification.LaunchTemplateName; n != nil {
			templates[*n] = true
		}
		for _, o := range ltc.Overrides {
			if o.SubnetId != nil {
				used("subnet", *o.SubnetId)
			}
		}
	}
	if in.LaunchTemplate != nil && in.LaunchTemplate.LaunchTemplateName != nil {
		templates[*in.LaunchTemplate.LaunchTemplateName] = true
	}
	if in.SubnetId != nil {
		used("subnet", *in.SubnetId)
	}
	for name := range templates {
		out = append(out, Request{Action: action, Resource: ec2("launch-template", "*"), Context: withResourceTags(map[string][]string{}, c.launchTemplates[name])})
		// Launching with an instance profile passes its role to EC2.
		if role, ok := c.profileRoles[c.templateProfiles[name]]; ok {
			out = append(out, Request{Action: "iam:PassRole", Resource: fmt.Sprintf("arn:%s:iam::%s:role/%s", c.account.Partition, c.account.ID, role),
				Context: map[string][]string{"iam:PassedToService": {"ec2.amazonaws.com"}}})
		}
	}
	var instanceTags map[string]string
	for _, s := range in.TagSpecifications {
		tags := tagMap(s.Tags)
		if s.ResourceType == "instance" {
			instanceTags = tags
		}
		createAction := strings.TrimPrefix(action, "ec2:")
		out = append(out, created(action, ec2(s.ResourceType, "*"), tags, createAction)...)
	}
	if in.DryRun == nil || !*in.DryRun {
		var res struct {
			Instances []struct{ InstanceIds []string }
		}
		if len(output) > 0 {
			_ = json.Unmarshal(output, &res)
		}
		for _, i := range res.Instances {
			for _, id := range i.InstanceIds {
				c.instances[id] = instanceTags
			}
		}
	}
	return out, nil
}

// created are the requests of creating a resource with tags: the action
// with the request tags, and the tag-on-create.
func created(action, resource string, tags map[string]string, createAction string) []Request {
	out := []Request{{Action: action, Resource: resource, Context: requestTags(tags)}}
	if len(tags) > 0 {
		ctx := requestTags(tags)
		ctx["ec2:CreateAction"] = []string{createAction}
		out = append(out, Request{Action: "ec2:CreateTags", Resource: resource, Context: ctx})
	}
	return out
}

func requestTags(tags map[string]string) map[string][]string {
	ctx := map[string][]string{}
	var keys []string
	for k, v := range tags {
		ctx["aws:RequestTag/"+k] = []string{v}
		keys = append(keys, k)
	}
	if len(keys) > 0 {
		ctx["aws:TagKeys"] = keys
	}
	return ctx
}

func withResourceTags(ctx map[string][]string, tags map[string]string) map[string][]string {
	for k, v := range tags {
		ctx["aws:ResourceTag/"+k] = []string{v}
	}
	return ctx
}
