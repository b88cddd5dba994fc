package fakecloud

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"k8s.io/client-go/dynamic"

	"karpenter-gpu/catalog"
	"karpenter-gpu/offerings"
)

// Resource is one resource the program registered (or read).
type Resource struct {
	URN          string
	Type         string
	Name         string
	Custom       bool
	Parent       string
	Dependencies []string
	// Inputs are the resource's inputs with secrets unwrapped.
	Inputs map[string]any
	// ReadID is set for resources the program read instead of creating.
	ReadID         string
	RetainOnDelete bool
	// CreateTimeout and DeleteTimeout are the customTimeouts values, if any.
	CreateTimeout, DeleteTimeout string
	// ImportID is set for resources the program adopts by import.
	ImportID string
	// ErrorHooks name the error hooks bound to the resource.
	ErrorHooks []string
}

// Cloud implements pulumi.MockResourceMonitor.
type Cloud struct {
	Cluster Cluster
	project string
	stack   string

	mu        sync.Mutex
	resources []Resource
	calls     []string
}

// New serves the given cluster to a program in project/stack.
func New(c Cluster, project, stack string) *Cloud {
	return &Cloud{Cluster: c, project: project, stack: stack}
}

// Run runs program against the fake cloud with the given stack
// configuration (fully qualified keys), handed to the program as the
// engine hands it, so that runs may overlap. A program that reads the
// cluster's Kubernetes API connects through Connect.
func (c *Cloud) Run(config map[string]string, program pulumi.RunFunc) error {
	withConfig := func(info *pulumi.RunInfo) { info.Config = config }
	return pulumi.RunErr(program, pulumi.WithMocks(c.project, c.stack, c), withConfig)
}

// Connect answers the program's reads of the cluster's Kubernetes API
// (cluster.Connect), whatever the kubeconfig.
func (c *Cloud) Connect(string) (dynamic.Interface, error) { return c.Cluster.kubernetes(), nil }

// Resources returns what was registered, sorted by URN.
func (c *Cloud) Resources() []Resource {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := append([]Resource(nil), c.resources...)
	sort.Slice(out, func(i, j int) bool { return out[i].URN < out[j].URN })
	return out
}

// Calls returns the invoke tokens the program called, in order.
func (c *Cloud) Calls() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.calls...)
}

// URN is the URN the mock engine gives a resource, as pulumi's own mocks compute it.
func (c *Cloud) URN(parent, typ, name string) string {
	parentType := ""
	if p := resource.URN(parent); p != "" && p.QualifiedType() != resource.RootStackType {
		parentType = string(p.QualifiedType())
	}
	qualified := typ
	if parentType != "" {
		qualified = parentType + "$" + typ
	}
	return fmt.Sprintf("urn:pulumi:%s::%s::%s::%s", c.stack, c.project, qualified, name)
}

// NewResource records the resource and returns the state a real provider
// would: its inputs plus the outputs AWS or Kubernetes would assign.
func (c *Cloud) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	inputs, _ := Plain(resource.NewProperty(args.Inputs)).(map[string]any)
	r := Resource{Type: args.TypeToken, Name: args.Name, Custom: args.Custom, Inputs: inputs}
	if rpc := args.RegisterRPC; rpc != nil {
		r.Parent, r.Dependencies, r.RetainOnDelete = rpc.GetParent(), append([]string(nil), rpc.GetDependencies()...), rpc.GetRetainOnDelete()
		r.CreateTimeout, r.DeleteTimeout = rpc.GetCustomTimeouts().GetCreate(), rpc.GetCustomTimeouts().GetDelete()
		r.ImportID = rpc.GetImportId()
		r.ErrorHooks = rpc.GetHooks().GetOnError()
	}
	if rpc := args.ReadRPC; rpc != nil {
		r.Parent, r.Dependencies, r.ReadID = rpc.GetParent(), append([]string(nil), rpc.GetDependencies()...), args.ID
	}
	sort.Strings(r.Dependencies)
	r.URN = c.URN(r.Parent, r.Type, r.Name)

	state, id := c.state(args.TypeToken, args.Name, inputs)
	c.mu.Lock()
	c.resources = append(c.resources, r)
	c.mu.Unlock()
	return id, resource.NewPropertyMapFromMap(state), nil
}

// physicalName is the name Pulumi's auto-naming would pick: the logical name
// and a suffix, here derived from the name so that runs are reproducible.
func physicalName(name string) string {
	sum := sha256.Sum256([]byte(name))
	return name + "-" + hex.EncodeToString(sum[:])[:7]
}

func (c *Cloud) state(typ, name string, inputs map[string]any) (map[string]any, string) {
	state := map[string]any{}
	for k, v := range inputs {
		state[k] = v
	}
	cl := c.Cluster
	id := physicalName(name)
	str := func(k string) string { s, _ := inputs[k].(string); return s }
	switch typ {
	case "aws:iam/role:Role":
		roleName := physicalName(name)
		state["name"] = roleName
		state["arn"] = fmt.Sprintf("arn:%s:iam::%s:role/%s", cl.Partition, cl.AccountID, roleName)
		id = roleName
	case "aws:iam/policy:Policy":
		policyName := physicalName(name)
		state["name"] = policyName
		state["arn"] = fmt.Sprintf("arn:%s:iam::%s:policy/%s", cl.Partition, cl.AccountID, policyName)
		id = state["arn"].(string)
	case "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
		state["arn"] = fmt.Sprintf("arn:%s:iam::%s:oidc-provider/%s", cl.Partition, cl.AccountID, strings.TrimPrefix(str("url"), "https://"))
		id = state["arn"].(string)
	case "aws:sqs/queue:Queue":
		queueName := physicalName(name)
		state["name"] = queueName
		state["arn"] = fmt.Sprintf("arn:%s:sqs:%s:%s:%s", cl.Partition, cl.Region, cl.AccountID, queueName)
		state["url"] = fmt.Sprintf("https://sqs.%s.amazonaws.com/%s/%s", cl.Region, cl.AccountID, queueName)
		id = state["url"].(string)
	case "aws:ec2/securityGroup:SecurityGroup":
		sum := sha256.Sum256([]byte(name))
		id = "sg-" + hex.EncodeToString(sum[:])[:17]
		state["arn"] = fmt.Sprintf("arn:%s:ec2:%s:%s:security-group/%s", cl.Partition, cl.Region, cl.AccountID, id)
	case "aws:iam/serviceLinkedRole:ServiceLinkedRole":
		// AWS names the role after its service; its ID is its ARN.
		service := str("awsServiceName")
		roleName := serviceLinkedRoles[service]
		state["name"] = roleName
		state["path"] = "/aws-service-role/" + service + "/"
		state["arn"] = serviceLinkedRoleARN(cl, service)
		id = state["arn"].(string)
	case "aws:cloudwatch/eventRule:EventRule":
		state["name"] = physicalName(name)
		state["arn"] = fmt.Sprintf("arn:%s:events:%s:%s:rule/%s", cl.Partition, cl.Region, cl.AccountID, state["name"])
	case "eks:index:Cluster":
		kubeconfig, _ := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "Config", "clusters": []any{map[string]any{
			"name": name, "cluster": map[string]any{"server": cl.Endpoint, "certificate-authority-data": cl.CertificateAuthority},
		}}})
		state["kubeconfigJson"] = string(kubeconfig)
		state["oidcProviderArn"] = fmt.Sprintf("arn:%s:iam::%s:oidc-provider/%s", cl.Partition, cl.AccountID, strings.TrimPrefix(cl.OIDCIssuer, "https://"))
		state["oidcProviderUrl"] = cl.OIDCIssuer
		state["oidcIssuer"] = strings.TrimPrefix(cl.OIDCIssuer, "https://")
		state["clusterSecurityGroupId"] = cl.SecurityGroupID
		state["core"] = map[string]any{"endpoint": cl.Endpoint}
	}
	return state, id
}

// serviceLinkedRoles are the role names AWS gives service-linked roles.
var serviceLinkedRoles = map[string]string{spotService: "AWSServiceRoleForEC2Spot"}

const spotService = "spot.amazonaws.com"

// serviceLinkedRoleARN is the ARN of a service's service-linked role.
func serviceLinkedRoleARN(cl Cluster, service string) string {
	return fmt.Sprintf("arn:%s:iam::%s:role/aws-service-role/%s/%s", cl.Partition, cl.AccountID, service, serviceLinkedRoles[service])
}

// Existing returns the inputs of a resource the account already has, as a
// provider reads them when the program adopts it by import: the Spot
// service-linked role, if the account has it.
func (c *Cloud) Existing(typ, id string) (resource.PropertyMap, bool) {
	cl := c.Cluster
	if typ == "aws:iam/serviceLinkedRole:ServiceLinkedRole" && id == serviceLinkedRoleARN(cl, spotService) && cl.SpotServiceLinkedRole {
		// An existing role may carry a description (one made in the console
		// does), which the stack does not declare.
		return resource.NewPropertyMapFromMap(map[string]any{"awsServiceName": spotService, "description": "Default EC2 Spot Service Linked Role"}), true
	}
	if name, found := strings.CutPrefix(id, cl.Name+":"); typ == "aws:eks/addon:Addon" && found && slices.Contains(cl.Addons, name) {
		inputs := map[string]any{"clusterName": cl.Name, "addonName": name, "addonVersion": "v1.0.0-eksbuild.1"}
		if v := cl.AddonValues[name]; v != "" {
			inputs["configurationValues"] = v
		}
		return resource.NewPropertyMapFromMap(inputs), true
	}
	return nil, false
}

// Call answers the invokes the program makes to learn about the cloud.
func (c *Cloud) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	c.mu.Lock()
	c.calls = append(c.calls, args.Token)
	c.mu.Unlock()
	cl := c.Cluster
	in, _ := Plain(resource.NewProperty(args.Args)).(map[string]any)
	var out map[string]any
	switch args.Token {
	case "aws:index/getCallerIdentity:getCallerIdentity":
		out = map[string]any{"accountId": cl.AccountID, "arn": fmt.Sprintf("arn:%s:iam::%s:user/deployer", cl.Partition, cl.AccountID), "userId": "AIDAEXAMPLE", "id": cl.AccountID}
	case "aws:index/getRegion:getRegion":
		out = map[string]any{"name": cl.Region, "id": cl.Region, "endpoint": "ec2." + cl.Region + ".amazonaws.com"}
	case "aws:index/getPartition:getPartition":
		out = map[string]any{"partition": cl.Partition, "dnsSuffix": cl.DNSSuffix(), "id": cl.Partition}
	case "aws:eks/getCluster:getCluster":
		if in["name"] != cl.Name {
			return nil, fmt.Errorf("ResourceNotFoundException: No cluster found for name: %v", in["name"])
		}
		out = c.describeCluster()
	case "aws:ec2/getSecurityGroup:getSecurityGroup":
		if in["id"] != cl.SecurityGroupID {
			return nil, fmt.Errorf("InvalidGroup.NotFound: The security group '%v' does not exist", in["id"])
		}
		tags := map[string]any{}
		for k, v := range cl.SecurityGroupTags {
			tags[k] = v
		}
		out = map[string]any{"id": cl.SecurityGroupID, "name": "eks-cluster-sg-" + cl.Name, "vpcId": cl.VpcID, "tags": tags,
			"arn": fmt.Sprintf("arn:%s:ec2:%s:%s:security-group/%s", cl.Partition, cl.Region, cl.AccountID, cl.SecurityGroupID)}
	case "aws:iam/getRole:getRole":
		if role, ok := cl.Roles[fmt.Sprint(in["name"])]; ok {
			out = map[string]any{"id": in["name"], "name": in["name"], "path": "/", "arn": fmt.Sprintf("arn:%s:iam::%s:role/%s", cl.Partition, cl.AccountID, role)}
			break
		}
		if in["name"] != serviceLinkedRoles[spotService] || !cl.SpotServiceLinkedRole {
			return nil, fmt.Errorf("reading IAM Role (%v): operation error IAM: GetRole, https response error StatusCode: 404, NoSuchEntity: The role with name %v cannot be found.", in["name"], in["name"])
		}
		out = map[string]any{"id": in["name"], "name": in["name"], "path": "/aws-service-role/" + spotService + "/",
			"arn": serviceLinkedRoleARN(cl, spotService)}
	case "aws:eks/getAddon:getAddon":
		if cl.AddonsUnknown {
			return nil, fmt.Errorf("not known offline: the cluster file does not list the cluster's add-ons (give them to render with -addons, from `aws eks list-addons --cluster-name %s --output text`)", cl.Name)
		}
		if !slices.Contains(cl.Addons, fmt.Sprint(in["addonName"])) {
			return nil, fmt.Errorf("reading EKS Add-On (%v:%v): operation error EKS: DescribeAddon, ResourceNotFoundException: No addon: %v found in cluster: %v", cl.Name, in["addonName"], in["addonName"], cl.Name)
		}
		name := fmt.Sprint(in["addonName"])
		tags := map[string]any{}
		for k, v := range cl.AddonTags[name] {
			tags[k] = v
		}
		out = map[string]any{"id": cl.Name + ":" + name, "addonName": name, "clusterName": cl.Name, "addonVersion": "v1.0.0-eksbuild.1",
			"configurationValues": cl.AddonValues[name], "tags": tags}
	case "aws:servicequotas/getServiceQuota:getServiceQuota":
		code := fmt.Sprint(in["quotaCode"])
		value, ok := cl.Quotas[code]
		if cl.OnlyCluster {
			return nil, fmt.Errorf("not known offline: the cluster file describes the cluster, not the account's quotas (pulumi preview reads them)")
		}
		if !ok {
			return nil, fmt.Errorf("reading Service Quota (ec2/%s): NoSuchResourceException", code)
		}
		out = map[string]any{"id": "ec2/" + code, "serviceCode": "ec2", "quotaCode": code, "value": value, "adjustable": true,
			"arn": fmt.Sprintf("arn:%s:servicequotas:%s:%s:ec2/%s", cl.Partition, cl.Region, cl.AccountID, code)}
	case "aws:ssm/getParameter:getParameter":
		name, _ := in["name"].(string)
		value, ok := SSMParameter(name)
		if !ok {
			// The words the AWS provider reports for a missing parameter.
			return nil, fmt.Errorf("reading SSM Parameter (%s): operation error SSM: GetParameter, https response error StatusCode: 400, ParameterNotFound: ", name)
		}
		out = map[string]any{"id": name, "name": name, "value": value, "insecureValue": value, "type": "String", "version": 1,
			"arn": fmt.Sprintf("arn:%s:ssm:%s::parameter%s", cl.Partition, cl.Region, name)}
	case "aws:ec2/getSubnet:getSubnet":
		for _, s := range cl.Subnets {
			if s.ID == in["id"] {
				tags := map[string]any{"Name": s.ID}
				for k, v := range s.Tags {
					tags[k] = v
				}
				if s.Public {
					tags["kubernetes.io/role/elb"] = "1"
				} else {
					tags["kubernetes.io/role/internal-elb"] = "1"
				}
				out = map[string]any{"id": s.ID, "availabilityZone": s.Zone, "vpcId": cl.VpcID, "mapPublicIpOnLaunch": s.Public, "tags": tags}
			}
		}
		if out == nil && cl.OnlyCluster {
			// A subnet the cluster file does not list may still be one of
			// its VPC's: taken as such, zone unknown.
			out = map[string]any{"id": in["id"], "availabilityZone": "", "vpcId": cl.VpcID, "mapPublicIpOnLaunch": false, "tags": map[string]any{"Name": in["id"]}}
		}
		if out == nil {
			var known []string
			for _, s := range cl.Subnets {
				known = append(known, s.ID)
			}
			return nil, fmt.Errorf("InvalidSubnetID.NotFound: %v%s", in["id"], exampleOnly(cl, known))
		}
	case "aws:cloudcontrol/getResource:getResource":
		typeName, id := fmt.Sprint(in["typeName"]), fmt.Sprint(in["identifier"])
		props, err := c.cloudControl(typeName, id)
		if err != nil {
			return nil, err
		}
		raw, _ := json.Marshal(props)
		out = map[string]any{"id": id, "identifier": id, "typeName": typeName, "properties": string(raw)}
	case "aws:pricing/getProduct:getProduct":
		product, err := c.priceListProduct(in)
		if err != nil {
			return nil, err
		}
		out = map[string]any{"id": "AmazonEC2", "serviceCode": in["serviceCode"], "filters": in["filters"], "result": product}
	case "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings":
		out = c.offerings(in)
	case "aws:ec2/getInstanceType:getInstanceType":
		name := fmt.Sprint(in["instanceType"])
		gpus, ok := c.gpus(name)
		if !ok {
			return nil, fmt.Errorf("reading EC2 Instance Type (%s): InvalidInstanceType: The following supplied instance types do not exist: [%s]", name, name)
		}
		cards := catalog.NetworkCards[name]
		efa, replaced := c.Cluster.EFA[name]
		if !replaced {
			efa = cards
		}
		out = map[string]any{"id": name, "instanceType": name, "gpuses": gpus,
			"maximumNetworkCards": cards, "efaSupported": efa > 0, "efaMaximumInterfaces": efa}
	default:
		return nil, fmt.Errorf("fakecloud: no answer for invoke %s", args.Token)
	}
	return resource.NewPropertyMapFromMap(out), nil
}

// priceListProduct answers the Price List API's GetProducts for one EC2
// product, in its JSON: the on-demand hourly price of the instance type
// the filters name in the region they name.
func (c *Cloud) priceListProduct(in map[string]any) (string, error) {
	if c.Cluster.OnlyCluster {
		return "", fmt.Errorf("not known offline: the cluster file describes the cluster, not the prices of its region (pulumi preview reads them)")
	}
	filters := map[string]string{}
	for _, f := range in["filters"].([]any) {
		f := f.(map[string]any)
		filters[fmt.Sprint(f["field"])] = fmt.Sprint(f["value"])
	}
	region, instanceType := filters["regionCode"], filters["instanceType"]
	prices := c.Cluster.Prices
	if prices == nil && slices.Contains([]string{"us-east-1", "us-east-2", "us-west-2"}, region) {
		prices = catalog.OnDemandHourlyUSD
	}
	usd, ok := prices[instanceType]
	if region != c.Cluster.Region || !ok {
		return "", fmt.Errorf("reading Pricing Product: no product matches the filters %v", filters)
	}
	product := map[string]any{
		"product": map[string]any{"productFamily": filters["productFamily"], "attributes": filters},
		"terms": map[string]any{"OnDemand": map[string]any{"SKU.JRTCKXETXF": map[string]any{
			"priceDimensions": map[string]any{"SKU.JRTCKXETXF.6YS6EN2CT7": map[string]any{
				"unit": "Hrs", "pricePerUnit": map[string]any{"USD": strconv.FormatFloat(usd, 'f', -1, 64)},
			}},
		}}},
	}
	raw, err := json.Marshal(product)
	return string(raw), err
}

// OpenReservations lists the account's active open capacity reservations
// of types in region, as EC2's DescribeCapacityReservations would.
func (c *Cloud) OpenReservations(_ context.Context, region string, types []string) ([]offerings.OpenReservation, error) {
	if c.Cluster.OnlyCluster {
		return nil, fmt.Errorf("not known offline: the cluster file describes the cluster, not the account's reservations (pulumi preview reads them)")
	}
	var out []offerings.OpenReservation
	for _, id := range slices.Sorted(maps.Keys(c.Cluster.CapacityReservations)) {
		r := c.Cluster.CapacityReservations[id]
		if r.Open && region == c.Cluster.Region && slices.Contains(types, r.InstanceType) {
			out = append(out, offerings.OpenReservation{ID: id, InstanceType: r.InstanceType, Zone: r.Zone, OwnerID: c.Cluster.AccountID,
				Available: r.Available, Total: r.Total, Tags: map[string]string{}})
		}
	}
	return out, nil
}

// exampleOnly says, for the built-in example account, that it holds only
// its own resources of a kind and how to render with the user's.
func exampleOnly(cl Cluster, known []string) string {
	if cl.OnlyCluster {
		return ""
	}
	return fmt.Sprintf(" (offline, the built-in example account has only %s; render with -cluster FILE, your cluster's describe-cluster output, to take the IDs you name as existing)", strings.Join(known, ", "))
}

// cloudControl answers Cloud Control's GetResource for the reservations
// and placement groups of the account, in the words AWS uses for one it
// does not have.
func (c *Cloud) cloudControl(typeName, id string) (map[string]any, error) {
	cl := c.Cluster
	var known []string
	switch typeName {
	case "AWS::EC2::CapacityReservation":
		known = slices.Sorted(maps.Keys(cl.CapacityReservations))
	case "AWS::EC2::PlacementGroup":
		known = slices.Sorted(maps.Keys(cl.PlacementGroups))
	}
	notFound := fmt.Errorf("reading Cloud Control API Resource (%s/%s): operation error CloudControl: GetResource, ResourceNotFoundException: %s with identifier %s not found%s",
		typeName, id, typeName, id, exampleOnly(cl, known))
	switch typeName {
	case "AWS::EC2::CapacityReservation":
		r, ok := cl.CapacityReservations[id]
		if !ok && !cl.OnlyCluster {
			return nil, notFound
		}
		return map[string]any{"Id": id, "AvailabilityZone": r.Zone, "InstanceType": r.InstanceType, "InstancePlatform": "Linux/UNIX"}, nil
	case "AWS::EC2::PlacementGroup":
		strategy, ok := cl.PlacementGroups[id]
		if !ok && !cl.OnlyCluster {
			return nil, notFound
		}
		if !ok {
			strategy = "cluster"
		}
		return map[string]any{"GroupName": id, "Strategy": strategy}, nil
	}
	return nil, fmt.Errorf("fakecloud: no Cloud Control answer for %s", typeName)
}

// offerings answers DescribeInstanceTypeOfferings by availability zone:
// every catalogue type the filters name, in every zone they name but the
// type's NotOffered ones.
func (c *Cloud) offerings(in map[string]any) map[string]any {
	filter := map[string][]string{}
	filters, _ := in["filters"].([]any)
	for _, raw := range filters {
		f, _ := raw.(map[string]any)
		values, _ := f["values"].([]any)
		for _, v := range values {
			filter[fmt.Sprint(f["name"])] = append(filter[fmt.Sprint(f["name"])], fmt.Sprint(v))
		}
	}
	var types, locations, locationTypes []any
	for _, t := range catalog.InstanceTypes {
		if !slices.Contains(filter["instance-type"], t.Name) {
			continue
		}
		for _, zone := range filter["location"] {
			if !slices.Contains(c.Cluster.NotOffered[t.Name], zone) {
				types, locations, locationTypes = append(types, t.Name), append(locations, zone), append(locationTypes, "availability-zone")
			}
		}
	}
	return map[string]any{"id": c.Cluster.Region, "locationType": "availability-zone", "instanceTypes": types, "locations": locations, "locationTypes": locationTypes}
}

// gpus describes an instance type's GPUs as EC2 does: the catalogue's
// values, its label-style names spelled as EC2 spells them ("l40s" is L40S).
func (c *Cloud) gpus(name string) ([]any, bool) {
	if gpus, ok := c.Cluster.GPUs[name]; ok {
		out := []any{}
		for _, g := range gpus {
			out = append(out, map[string]any{"name": g.Name, "manufacturer": g.Manufacturer, "count": g.Count, "memorySize": g.MemoryMi})
		}
		return out, true
	}
	i := slices.IndexFunc(catalog.InstanceTypes, func(t catalog.InstanceType) bool { return t.Name == name })
	if i < 0 {
		return nil, false
	}
	t := catalog.InstanceTypes[i]
	return []any{map[string]any{"name": strings.ToUpper(strings.ReplaceAll(t.GPUName, "-", " ")), "manufacturer": "NVIDIA", "count": t.GPUCount, "memorySize": t.GPUMemoryMi}}, true
}

func (c *Cloud) describeCluster() map[string]any {
	cl := c.Cluster
	subnets := make([]any, len(cl.Subnets))
	for i, s := range cl.Subnets {
		subnets[i] = s.ID
	}
	var identities []any
	if cl.OIDCIssuer != "" {
		identities = []any{map[string]any{"oidcs": []any{map[string]any{"issuer": cl.OIDCIssuer}}}}
	}
	return map[string]any{
		"name":                   cl.Name,
		"id":                     cl.Name,
		"arn":                    fmt.Sprintf("arn:%s:eks:%s:%s:cluster/%s", cl.Partition, cl.Region, cl.AccountID, cl.Name),
		"endpoint":               cl.Endpoint,
		"version":                cl.Version,
		"status":                 "ACTIVE",
		"certificateAuthorities": []any{map[string]any{"data": cl.CertificateAuthority}},
		"identities":             identities,
		"accessConfigs":          []any{map[string]any{"authenticationMode": cl.AuthenticationMode}},
		"computeConfigs":         []any{map[string]any{"enabled": cl.AutoMode, "nodePools": []any{}, "nodeRoleArn": ""}},
		"vpcConfig": map[string]any{
			"subnetIds":              subnets,
			"clusterSecurityGroupId": cl.SecurityGroupID,
			"vpcId":                  cl.VpcID,
			"securityGroupIds":       []any{},
			"endpointPrivateAccess":  true,
			"endpointPublicAccess":   true,
		},
	}
}

// Plain turns a property value into plain Go values, unwrapping secrets.
func Plain(v resource.PropertyValue) any {
	switch {
	case v.IsSecret():
		return Plain(v.SecretValue().Element)
	case v.IsOutput():
		if o := v.OutputValue(); o.Known {
			return Plain(o.Element)
		}
		return nil
	case v.IsComputed():
		return nil
	case v.IsObject():
		out := map[string]any{}
		for k, e := range v.ObjectValue() {
			out[string(k)] = Plain(e)
		}
		return out
	case v.IsArray():
		arr := v.ArrayValue()
		out := make([]any, len(arr))
		for i, e := range arr {
			out[i] = Plain(e)
		}
		return out
	case v.IsResourceReference():
		return string(v.ResourceReferenceValue().URN)
	}
	return v.V
}
