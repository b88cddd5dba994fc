package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/pricing"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go"

	sdk "github.com/aws/karpenter-provider-aws/pkg/aws"
	"github.com/aws/karpenter-provider-aws/pkg/fake"
	"github.com/aws/karpenter-provider-aws/pkg/providers/instancetype"
)

// Call is one AWS API call the controller made, as the harness judges it
// against the controller's IAM policy: the action, its input as the SDK
// would send it, and the error it got.
type Call struct {
	Time   time.Time       `json:"time"`
	Action string          `json:"action"` // service:Operation, as IAM names it
	Input  json.RawMessage `json:"input"`
	// Output is kept for calls that create something: later calls act on
	// what they created (the instances of a fleet).
	Output json.RawMessage `json:"output,omitempty"`
	Error  string          `json:"error,omitempty"`
}

// journal appends every call to a JSON-lines file and, after each change
// to the instances, rewrites the list of running instances.
type journal struct {
	mu        sync.Mutex
	calls     *os.File
	instances string
	// writing serialises the rewrites of the instances file: two launches
	// at once must not race on its temporary file (a lost rename failed a
	// launch whose instance the fake had already made).
	writing sync.Mutex
}

func record[I, O any](j *journal, action string, input *I, do func() (*O, error)) (*O, error) {
	out, err := do()
	c := Call{Time: time.Now().UTC(), Action: action}
	c.Input, _ = json.Marshal(input)
	if _, op, _ := strings.Cut(action, ":"); err == nil && (strings.HasPrefix(op, "Create") || strings.HasPrefix(op, "Run")) {
		c.Output, _ = json.Marshal(out)
	}
	if err != nil {
		c.Error = err.Error()
	}
	line, _ := json.Marshal(c)
	j.mu.Lock()
	defer j.mu.Unlock()
	_, _ = j.calls.Write(append(line, '\n'))
	return out, err
}

// cloud is the account: Karpenter's in-memory fakes (pkg/fake), seeded
// with what the stack declared, answering only from that seed where the
// fakes would fall back to test data of their own.
type cloud struct {
	seed     Seed
	seedFile string
	journal  *journal
	// live is the seed as the harness last wrote it: the stack's tags and
	// roles appear while its update runs, as they would on AWS.
	live struct {
		sync.Mutex
		modified time.Time
		seed     Seed
	}

	// templates are the launch templates by name, with their data:
	// instances get their image and security groups from them, as on EC2.
	// (The fake keeps them without IDs or tags, which Karpenter deletes by
	// and whose IAM conditions need.)
	templates sync.Map

	ec2     *fake.EC2API
	ssm     *fake.SSMAPI
	eks     *fake.EKSAPI
	iam     *fake.IAMAPI
	pricing *fake.PricingAPI
}

func newCloud(seed Seed, seedFile string, j *journal) *cloud {
	c := &cloud{seed: seed, seedFile: seedFile, journal: j,
		ec2: fake.NewEC2API(), ssm: fake.NewSSMAPI(), eks: fake.NewEKSAPI(), iam: fake.NewIAMAPI(), pricing: &fake.PricingAPI{}}

	c.ssm.Parameters = seed.SSMParameters
	if len(c.ssm.Parameters) == 0 {
		// An empty map would make the fake invent an image for any name.
		c.ssm.Parameters = map[string]string{"/karpenter-gpu-e2e/none": ""}
	}
	c.eks.DescribeClusterBehavior.Output.Set(&eks.DescribeClusterOutput{Cluster: &ekstypes.Cluster{
		Name:                    aws.String(seed.ClusterName),
		Arn:                     aws.String(fmt.Sprintf("arn:%s:eks:%s:%s:cluster/%s", seed.Partition, seed.Region, seed.Account, seed.ClusterName)),
		Endpoint:                aws.String(seed.ClusterEndpoint),
		Status:                  ekstypes.ClusterStatusActive,
		Version:                 aws.String(seed.KubernetesVersion),
		KubernetesNetworkConfig: &ekstypes.KubernetesNetworkConfigResponse{ServiceIpv4Cidr: aws.String(seed.ServiceCIDR)},
	}})
	c.iam.EnableRoleValidation = true
	c.live.seed = seed

	types := make([]ec2types.InstanceTypeInfo, 0, len(seed.InstanceTypes))
	for _, t := range seed.InstanceTypes {
		types = append(types, withNetwork(t))
	}
	c.ec2.DescribeInstanceTypesOutput.Set(&ec2.DescribeInstanceTypesOutput{InstanceTypes: types})
	c.ec2.DescribeInstanceTypeOfferingsOutput.Set(&ec2.DescribeInstanceTypeOfferingsOutput{InstanceTypeOfferings: seed.Offerings})
	c.ec2.DescribeCapacityReservationsOutput.Set(&ec2.DescribeCapacityReservationsOutput{CapacityReservations: seed.CapacityReservations})
	c.ec2.DescribePlacementGroupsOutput.Set(&ec2.DescribePlacementGroupsOutput{PlacementGroups: seed.PlacementGroups})
	c.ec2.DescribeImagesOutput.Set(&ec2.DescribeImagesOutput{Images: seed.Images})
	zones := map[string]ec2types.AvailabilityZone{}
	for _, s := range seed.Subnets {
		zones[*s.AvailabilityZone] = ec2types.AvailabilityZone{ZoneName: s.AvailabilityZone, ZoneId: s.AvailabilityZoneId, ZoneType: aws.String("availability-zone")}
		c.ec2.Subnets.Store(*s.SubnetId, s)
	}
	names := make([]string, 0, len(zones))
	for z := range zones {
		names = append(names, z)
	}
	sort.Strings(names)
	az := &ec2.DescribeAvailabilityZonesOutput{}
	for _, z := range names {
		az.AvailabilityZones = append(az.AvailabilityZones, zones[z])
	}
	c.ec2.DescribeAvailabilityZonesOutput.Set(az)

	return c
}

// current is the seed as the harness last wrote it.
func (c *cloud) current() Seed {
	c.live.Lock()
	defer c.live.Unlock()
	if info, err := os.Stat(c.seedFile); err == nil && info.ModTime().After(c.live.modified) {
		var s Seed
		if readJSON(c.seedFile, &s) == nil {
			c.live.seed, c.live.modified = s, info.ModTime()
		}
	}
	return c.live.seed
}

// withNetwork completes an instance type with the network facts Karpenter
// itself records for it (its generated VPC limits), as EC2 would report.
func withNetwork(t ec2types.InstanceTypeInfo) ec2types.InstanceTypeInfo {
	limits, ok := instancetype.Limits[string(t.InstanceType)]
	if t.NetworkInfo == nil {
		t.NetworkInfo = &ec2types.NetworkInfo{}
	}
	n := t.NetworkInfo
	if ok {
		n.MaximumNetworkInterfaces = aws.Int32(int32(limits.Interface))
		n.Ipv4AddressesPerInterface = aws.Int32(int32(limits.IPv4PerInterface))
		n.DefaultNetworkCardIndex = aws.Int32(int32(limits.DefaultNetworkCardIndex))
		n.NetworkCards = nil
		for _, card := range limits.NetworkCards {
			n.NetworkCards = append(n.NetworkCards, ec2types.NetworkCardInfo{
				NetworkCardIndex: aws.Int32(int32(card.NetworkCardIndex)), MaximumNetworkInterfaces: aws.Int32(int32(card.MaximumNetworkInterfaces)),
			})
		}
		t.Hypervisor = ec2types.InstanceTypeHypervisor(limits.Hypervisor)
		t.BareMetal = aws.Bool(limits.IsBareMetal)
	}
	if n.EncryptionInTransitSupported == nil {
		n.EncryptionInTransitSupported = aws.Bool(true)
	}
	// EC2 gives an EFA type one EFA interface per network card.
	if aws.ToBool(n.EfaSupported) && n.EfaInfo == nil {
		n.EfaInfo = &ec2types.EfaInfo{MaximumEfaInterfaces: aws.Int32(int32(max(1, len(n.NetworkCards))))}
	}
	return t
}

// The EC2 API as the controller sees it: every call recorded, describes
// answered only from the seed.
type ec2API struct {
	*cloud
}

var _ sdk.EC2API = ec2API{}

func (e ec2API) DescribeCapacityReservations(ctx context.Context, in *ec2.DescribeCapacityReservationsInput, o ...func(*ec2.Options)) (*ec2.DescribeCapacityReservationsOutput, error) {
	return record(e.journal, "ec2:DescribeCapacityReservations", in, func() (*ec2.DescribeCapacityReservationsOutput, error) {
		e.ec2.DescribeCapacityReservationsOutput.Set(&ec2.DescribeCapacityReservationsOutput{CapacityReservations: e.current().CapacityReservations})
		return e.ec2.DescribeCapacityReservations(ctx, in, o...)
	})
}

func (e ec2API) DescribePlacementGroups(ctx context.Context, in *ec2.DescribePlacementGroupsInput, o ...func(*ec2.Options)) (*ec2.DescribePlacementGroupsOutput, error) {
	return record(e.journal, "ec2:DescribePlacementGroups", in, func() (*ec2.DescribePlacementGroupsOutput, error) {
		e.ec2.DescribePlacementGroupsOutput.Set(&ec2.DescribePlacementGroupsOutput{PlacementGroups: e.current().PlacementGroups})
		return e.ec2.DescribePlacementGroups(ctx, in, o...)
	})
}

func (e ec2API) DescribeImages(ctx context.Context, in *ec2.DescribeImagesInput, o ...func(*ec2.Options)) (*ec2.DescribeImagesOutput, error) {
	return record(e.journal, "ec2:DescribeImages", in, func() (*ec2.DescribeImagesOutput, error) {
		return e.ec2.DescribeImages(ctx, in, o...)
	})
}

func (e ec2API) DescribeLaunchTemplates(_ context.Context, in *ec2.DescribeLaunchTemplatesInput, _ ...func(*ec2.Options)) (*ec2.DescribeLaunchTemplatesOutput, error) {
	return record(e.journal, "ec2:DescribeLaunchTemplates", in, func() (*ec2.DescribeLaunchTemplatesOutput, error) {
		out := &ec2.DescribeLaunchTemplatesOutput{}
		e.templates.Range(func(_, v any) bool {
			lt := v.(launchTemplate).LaunchTemplate
			id, name := aws.ToString(lt.LaunchTemplateId), aws.ToString(lt.LaunchTemplateName)
			named := contains(in.LaunchTemplateNames, name) || contains(in.LaunchTemplateIds, id)
			if named || (len(in.LaunchTemplateNames) == 0 && len(in.LaunchTemplateIds) == 0 && fake.Filter(in.Filters, id, name, "", "", lt.Tags)) {
				out.LaunchTemplates = append(out.LaunchTemplates, lt)
			}
			return true
		})
		if len(out.LaunchTemplates) == 0 && (len(in.LaunchTemplateNames) > 0 || len(in.LaunchTemplateIds) > 0) {
			return nil, &smithy.GenericAPIError{Code: "InvalidLaunchTemplateName.NotFoundException", Message: "At least one of the launch templates specified in the request does not exist."}
		}
		return out, nil
	})
}

// DescribeSubnets and DescribeSecurityGroups match the seed only: the
// fakes fall back to test objects of their own when nothing matches, which
// would hide a selector the stack did not satisfy.
func (e ec2API) DescribeSubnets(_ context.Context, in *ec2.DescribeSubnetsInput, _ ...func(*ec2.Options)) (*ec2.DescribeSubnetsOutput, error) {
	return record(e.journal, "ec2:DescribeSubnets", in, func() (*ec2.DescribeSubnetsOutput, error) {
		out := &ec2.DescribeSubnetsOutput{}
		for _, s := range e.current().Subnets {
			if (len(in.SubnetIds) == 0 || contains(in.SubnetIds, *s.SubnetId)) && len(fake.FilterDescribeSubnets([]ec2types.Subnet{s}, in.Filters)) == 1 {
				out.Subnets = append(out.Subnets, s)
			}
		}
		return out, nil
	})
}

func (e ec2API) DescribeSecurityGroups(_ context.Context, in *ec2.DescribeSecurityGroupsInput, _ ...func(*ec2.Options)) (*ec2.DescribeSecurityGroupsOutput, error) {
	return record(e.journal, "ec2:DescribeSecurityGroups", in, func() (*ec2.DescribeSecurityGroupsOutput, error) {
		out := &ec2.DescribeSecurityGroupsOutput{}
		for _, g := range e.current().SecurityGroups {
			if (len(in.GroupIds) == 0 || contains(in.GroupIds, *g.GroupId)) && len(fake.FilterDescribeSecurtyGroups([]ec2types.SecurityGroup{g}, in.Filters)) == 1 {
				out.SecurityGroups = append(out.SecurityGroups, g)
			}
		}
		return out, nil
	})
}

func (e ec2API) DescribeInstanceTypes(ctx context.Context, in *ec2.DescribeInstanceTypesInput, o ...func(*ec2.Options)) (*ec2.DescribeInstanceTypesOutput, error) {
	return record(e.journal, "ec2:DescribeInstanceTypes", in, func() (*ec2.DescribeInstanceTypesOutput, error) {
		if aws.ToBool(in.DryRun) {
			return nil, &smithy.GenericAPIError{Code: "DryRunOperation", Message: "Request would have succeeded, but DryRun flag is set."}
		}
		return e.ec2.DescribeInstanceTypes(ctx, in, o...)
	})
}

func (e ec2API) DescribeInstanceTypeOfferings(ctx context.Context, in *ec2.DescribeInstanceTypeOfferingsInput, o ...func(*ec2.Options)) (*ec2.DescribeInstanceTypeOfferingsOutput, error) {
	return record(e.journal, "ec2:DescribeInstanceTypeOfferings", in, func() (*ec2.DescribeInstanceTypeOfferingsOutput, error) {
		return e.ec2.DescribeInstanceTypeOfferings(ctx, in, o...)
	})
}

func (e ec2API) DescribeSpotPriceHistory(ctx context.Context, in *ec2.DescribeSpotPriceHistoryInput, o ...func(*ec2.Options)) (*ec2.DescribeSpotPriceHistoryOutput, error) {
	return record(e.journal, "ec2:DescribeSpotPriceHistory", in, func() (*ec2.DescribeSpotPriceHistoryOutput, error) {
		return e.ec2.DescribeSpotPriceHistory(ctx, in, o...)
	})
}

// DescribeInstanceStatus reports the seed's impaired instances that still
// run, as EC2 does for the filters Karpenter sends (instance-status.status
// or system-status.status impaired; scheduled events match none here).
func (e ec2API) DescribeInstanceStatus(ctx context.Context, in *ec2.DescribeInstanceStatusInput, _ ...func(*ec2.Options)) (*ec2.DescribeInstanceStatusOutput, error) {
	return record(e.journal, "ec2:DescribeInstanceStatus", in, func() (*ec2.DescribeInstanceStatusOutput, error) {
		e.reclaim(ctx)
		out := &ec2.DescribeInstanceStatusOutput{}
		for _, imp := range e.current().ImpairedInstances {
			if _, running := e.ec2.Instances.Load(imp.InstanceID); !running || !impairedMatches(in.Filters, imp.Check) {
				continue
			}
			failed := &ec2types.InstanceStatusSummary{Status: ec2types.SummaryStatusImpaired, Details: []ec2types.InstanceStatusDetails{{
				Name: ec2types.StatusNameReachability, Status: ec2types.StatusTypeFailed, ImpairedSince: aws.Time(imp.Since),
			}}}
			ok := &ec2types.InstanceStatusSummary{Status: ec2types.SummaryStatusOk}
			status := ec2types.InstanceStatus{InstanceId: aws.String(imp.InstanceID), InstanceStatus: ok, SystemStatus: ok}
			if imp.Check == "system" {
				status.SystemStatus = failed
			} else {
				status.InstanceStatus = failed
			}
			out.InstanceStatuses = append(out.InstanceStatuses, status)
		}
		return out, nil
	})
}

// impairedMatches: the filters ask for impaired instances of the check.
func impairedMatches(filters []ec2types.Filter, check string) bool {
	for _, f := range filters {
		if aws.ToString(f.Name) == check+"-status.status" && contains(f.Values, string(ec2types.SummaryStatusImpaired)) {
			return true
		}
	}
	return false
}

// reclaim terminates the instances EC2 reclaims by now, as EC2 does on
// its own (the controller's next look finds them gone).
func (e ec2API) reclaim(ctx context.Context) {
	var due []string
	for _, r := range e.current().Reclaims {
		if _, running := e.ec2.Instances.Load(r.InstanceID); running && !time.Now().Before(r.At) {
			due = append(due, r.InstanceID)
		}
	}
	if len(due) == 0 {
		return
	}
	if _, err := e.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: due}); err == nil {
		_ = e.writeInstances()
	}
}

// CreateFleet launches as the fake does (the first override that is not
// refused; overrides in a pool the seed says has no capacity fail), then
// gives the instances what EC2 would: the tags the request asked for and a
// private DNS name.
func (e ec2API) CreateFleet(ctx context.Context, in *ec2.CreateFleetInput, o ...func(*ec2.Options)) (*ec2.CreateFleetOutput, error) {
	return record(e.journal, "ec2:CreateFleet", in, func() (*ec2.CreateFleetOutput, error) {
		var short []fake.CapacityPool
		for _, p := range e.current().InsufficientCapacity {
			short = append(short, fake.CapacityPool{CapacityType: p.CapacityType, InstanceType: p.InstanceType, Zone: p.Zone})
		}
		e.ec2.InsufficientCapacityPools.Set(short)
		// What EC2 refuses never launches: only the overrides it takes go
		// to the fake; the others come back as EC2's errors for them.
		valid, refused := e.refuseInvalid(in)
		if len(refused) > 0 && !hasOverrides(valid) {
			return &ec2.CreateFleetOutput{Errors: refused}, nil
		}
		out, err := e.ec2.CreateFleet(ctx, valid, o...)
		if err != nil || aws.ToBool(in.DryRun) {
			return out, err
		}
		out.Errors = append(out.Errors, refused...)
		var tags []ec2types.Tag
		for _, spec := range in.TagSpecifications {
			if spec.ResourceType == ec2types.ResourceTypeInstance {
				tags = append(tags, spec.Tags...)
			}
		}
		for _, fleet := range out.Instances {
			for _, id := range fleet.InstanceIds {
				raw, ok := e.ec2.Instances.Load(id)
				if !ok {
					continue
				}
				i := raw.(ec2types.Instance)
				e.fromLaunchTemplate(&i, in, fleet)
				i.Tags = append(i.Tags, tags...)
				i.PrivateDnsName = aws.String("ip-" + id + "." + e.seed.Region + ".compute.internal")
				i.LaunchTime = aws.Time(time.Now())
				i.Architecture = architectureOf(e.seed.InstanceTypes, string(i.InstanceType))
				e.ec2.Instances.Store(id, i)
			}
		}
		return out, e.writeInstances()
	})
}

// refuseInvalid splits a fleet's overrides into those EC2 launches and
// the errors it gives the others: a launch template whose network
// interfaces need more network cards, or more EFA interfaces, than the
// instance type has, or whose image is of another architecture.
func (e ec2API) refuseInvalid(in *ec2.CreateFleetInput) (*ec2.CreateFleetInput, []ec2types.CreateFleetError) {
	infos := map[string]ec2types.InstanceTypeInfo{}
	for _, t := range e.seed.InstanceTypes {
		infos[string(t.InstanceType)] = withNetwork(t)
	}
	valid := *in
	valid.LaunchTemplateConfigs = nil
	var refused []ec2types.CreateFleetError
	for _, ltc := range in.LaunchTemplateConfigs {
		raw, ok := e.templates.Load(aws.ToString(ltc.LaunchTemplateSpecification.LaunchTemplateName))
		kept := ltc
		kept.Overrides = nil
		for _, ov := range ltc.Overrides {
			if ok {
				if why := launchRefusal(raw.(launchTemplate).data, infos[string(ov.InstanceType)], e.imageArch); why != "" {
					refused = append(refused, ec2types.CreateFleetError{
						ErrorCode:    aws.String("InvalidParameterCombination"),
						ErrorMessage: aws.String(why),
						LaunchTemplateAndOverrides: &ec2types.LaunchTemplateAndOverridesResponse{
							LaunchTemplateSpecification: &ec2types.FleetLaunchTemplateSpecification{LaunchTemplateName: ltc.LaunchTemplateSpecification.LaunchTemplateName},
							Overrides:                   &ec2types.FleetLaunchTemplateOverrides{InstanceType: ov.InstanceType, SubnetId: ov.SubnetId, AvailabilityZone: ov.AvailabilityZone},
						},
					})
					continue
				}
			}
			kept.Overrides = append(kept.Overrides, ov)
		}
		valid.LaunchTemplateConfigs = append(valid.LaunchTemplateConfigs, kept)
	}
	return &valid, refused
}

func hasOverrides(in *ec2.CreateFleetInput) bool {
	for _, ltc := range in.LaunchTemplateConfigs {
		if len(ltc.Overrides) > 0 {
			return true
		}
	}
	return false
}

// launchRefusal is EC2's word on launching a type from a template, "" when
// it launches.
func launchRefusal(data ec2types.RequestLaunchTemplateData, info ec2types.InstanceTypeInfo, imageArch func(string) string) string {
	name := string(info.InstanceType)
	if arch := imageArch(aws.ToString(data.ImageId)); arch != "" && info.ProcessorInfo != nil && !slices.Contains(info.ProcessorInfo.SupportedArchitectures, ec2types.ArchitectureType(arch)) {
		return fmt.Sprintf("The architecture '%s' of the specified instance type does not match the architecture '%s' of the specified AMI (%s).", info.ProcessorInfo.SupportedArchitectures, arch, name)
	}
	n := info.NetworkInfo
	efa := 0
	for _, ni := range data.NetworkInterfaces {
		card := int(aws.ToInt32(ni.NetworkCardIndex))
		if n == nil || card >= len(n.NetworkCards) {
			return fmt.Sprintf("Network card index %d is not supported for instance type %s.", card, name)
		}
		if aws.ToString(ni.InterfaceType) == "efa-only" || aws.ToString(ni.InterfaceType) == "efa" {
			efa++
		}
	}
	if efa > 0 && (n == nil || n.EfaInfo == nil || int(aws.ToInt32(n.EfaInfo.MaximumEfaInterfaces)) < efa) {
		return fmt.Sprintf("The requested number of EFA interfaces (%d) exceeds the maximum supported by instance type %s.", efa, name)
	}
	return ""
}

// imageArch is the architecture of an image of the account ("" unknown).
func (e ec2API) imageArch(id string) string {
	for _, img := range e.seed.Images {
		if aws.ToString(img.ImageId) == id {
			return string(img.Architecture)
		}
	}
	return ""
}

func (e ec2API) TerminateInstances(ctx context.Context, in *ec2.TerminateInstancesInput, o ...func(*ec2.Options)) (*ec2.TerminateInstancesOutput, error) {
	return record(e.journal, "ec2:TerminateInstances", in, func() (*ec2.TerminateInstancesOutput, error) {
		out, err := e.ec2.TerminateInstances(ctx, in, o...)
		if err != nil {
			return out, err
		}
		return out, e.writeInstances()
	})
}

func (e ec2API) RebootInstances(ctx context.Context, in *ec2.RebootInstancesInput, o ...func(*ec2.Options)) (*ec2.RebootInstancesOutput, error) {
	return record(e.journal, "ec2:RebootInstances", in, func() (*ec2.RebootInstancesOutput, error) {
		return e.ec2.RebootInstances(ctx, in, o...)
	})
}

func (e ec2API) DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, o ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error) {
	return record(e.journal, "ec2:DescribeInstances", in, func() (*ec2.DescribeInstancesOutput, error) {
		e.reclaim(ctx)
		return e.ec2.DescribeInstances(ctx, in, o...)
	})
}

func (e ec2API) RunInstances(ctx context.Context, in *ec2.RunInstancesInput, o ...func(*ec2.Options)) (*ec2.RunInstancesOutput, error) {
	return record(e.journal, "ec2:RunInstances", in, func() (*ec2.RunInstancesOutput, error) {
		return e.ec2.RunInstances(ctx, in, o...)
	})
}

func (e ec2API) CreateTags(ctx context.Context, in *ec2.CreateTagsInput, o ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error) {
	return record(e.journal, "ec2:CreateTags", in, func() (*ec2.CreateTagsOutput, error) {
		return e.ec2.CreateTags(ctx, in, o...)
	})
}

// launchTemplate is a launch template as EC2 keeps it.
type launchTemplate struct {
	ec2types.LaunchTemplate
	data ec2types.RequestLaunchTemplateData
}

func (e ec2API) CreateLaunchTemplate(ctx context.Context, in *ec2.CreateLaunchTemplateInput, o ...func(*ec2.Options)) (*ec2.CreateLaunchTemplateOutput, error) {
	return record(e.journal, "ec2:CreateLaunchTemplate", in, func() (*ec2.CreateLaunchTemplateOutput, error) {
		out, err := e.ec2.CreateLaunchTemplate(ctx, in, o...)
		if err != nil || aws.ToBool(in.DryRun) || in.LaunchTemplateData == nil {
			return out, err
		}
		name := aws.ToString(in.LaunchTemplateName)
		lt := ec2types.LaunchTemplate{LaunchTemplateName: in.LaunchTemplateName, LaunchTemplateId: aws.String(resourceID("lt", name)), CreateTime: aws.Time(time.Now())}
		for _, spec := range in.TagSpecifications {
			if spec.ResourceType == ec2types.ResourceTypeLaunchTemplate {
				lt.Tags = append(lt.Tags, spec.Tags...)
			}
		}
		if _, exists := e.templates.LoadOrStore(name, launchTemplate{LaunchTemplate: lt, data: *in.LaunchTemplateData}); exists {
			return nil, &smithy.GenericAPIError{Code: "InvalidLaunchTemplateName.AlreadyExistsException", Message: "Launch template name already in use."}
		}
		return &ec2.CreateLaunchTemplateOutput{LaunchTemplate: &lt}, nil
	})
}

func (e ec2API) DeleteLaunchTemplate(_ context.Context, in *ec2.DeleteLaunchTemplateInput, _ ...func(*ec2.Options)) (*ec2.DeleteLaunchTemplateOutput, error) {
	return record(e.journal, "ec2:DeleteLaunchTemplate", in, func() (*ec2.DeleteLaunchTemplateOutput, error) {
		var found bool
		e.templates.Range(func(k, v any) bool {
			lt := v.(launchTemplate)
			if aws.ToString(lt.LaunchTemplateName) == aws.ToString(in.LaunchTemplateName) || aws.ToString(lt.LaunchTemplateId) == aws.ToString(in.LaunchTemplateId) {
				e.templates.Delete(k)
				found = true
				return false
			}
			return true
		})
		if !found {
			return nil, &smithy.GenericAPIError{Code: "InvalidLaunchTemplateId.NotFound", Message: "The specified launch template does not exist."}
		}
		return &ec2.DeleteLaunchTemplateOutput{}, nil
	})
}

// resourceID is an EC2-shaped ID derived from a name.
func resourceID(prefix, name string) string {
	sum := sha256.Sum256([]byte(name))
	return prefix + "-" + hex.EncodeToString(sum[:])[:17]
}

// fromLaunchTemplate gives an instance what EC2 takes from the launch
// template and the override it launched: the image, the security groups
// and the subnet (Karpenter's drift detection compares them with its
// node class).
func (e ec2API) fromLaunchTemplate(i *ec2types.Instance, in *ec2.CreateFleetInput, launched ec2types.CreateFleetInstance) {
	if ov := launched.LaunchTemplateAndOverrides; ov != nil && ov.Overrides != nil {
		i.SubnetId = ov.Overrides.SubnetId
	}
	for _, ltc := range in.LaunchTemplateConfigs {
		raw, ok := e.templates.Load(aws.ToString(ltc.LaunchTemplateSpecification.LaunchTemplateName))
		if !ok {
			continue
		}
		data := raw.(launchTemplate).data
		i.ImageId = data.ImageId
		groups := data.SecurityGroupIds
		for _, ni := range data.NetworkInterfaces {
			groups = append(groups, ni.Groups...)
		}
		i.SecurityGroups = nil
		for _, g := range groups {
			i.SecurityGroups = append(i.SecurityGroups, ec2types.GroupIdentifier{GroupId: aws.String(g)})
		}
		return
	}
}

// Instance is a running instance as the harness reads it.
type Instance struct {
	ID           string            `json:"id"`
	Type         string            `json:"type"`
	Zone         string            `json:"zone"`
	CapacityType string            `json:"capacityType"`
	Tags         map[string]string `json:"tags"`
}

func (e ec2API) writeInstances() error {
	// The newest list wins: read and written under one lock.
	e.journal.writing.Lock()
	defer e.journal.writing.Unlock()
	var list []Instance
	e.ec2.Instances.Range(func(_, v any) bool {
		i := v.(ec2types.Instance)
		in := Instance{ID: *i.InstanceId, Type: string(i.InstanceType), Zone: aws.ToString(i.Placement.AvailabilityZone), CapacityType: "on-demand", Tags: map[string]string{}}
		if i.SpotInstanceRequestId != nil {
			in.CapacityType = "spot"
		}
		for _, t := range i.Tags {
			in.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
		list = append(list, in)
		return true
	})
	sort.Slice(list, func(a, b int) bool { return list[a].ID < list[b].ID })
	b, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return err
	}
	tmp := e.journal.instances + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, e.journal.instances)
}

func architectureOf(types []ec2types.InstanceTypeInfo, name string) ec2types.ArchitectureValues {
	for _, t := range types {
		if string(t.InstanceType) == name && t.ProcessorInfo != nil && len(t.ProcessorInfo.SupportedArchitectures) > 0 {
			return ec2types.ArchitectureValues(t.ProcessorInfo.SupportedArchitectures[0])
		}
	}
	return ec2types.ArchitectureValuesX8664
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

type ssmAPI struct{ *cloud }

func (s ssmAPI) GetParameter(ctx context.Context, in *ssm.GetParameterInput, o ...func(*ssm.Options)) (*ssm.GetParameterOutput, error) {
	return record(s.journal, "ssm:GetParameter", in, func() (*ssm.GetParameterOutput, error) {
		return s.ssm.GetParameter(ctx, in, o...)
	})
}

type eksAPI struct{ *cloud }

func (e eksAPI) DescribeCluster(ctx context.Context, in *eks.DescribeClusterInput, o ...func(*eks.Options)) (*eks.DescribeClusterOutput, error) {
	return record(e.journal, "eks:DescribeCluster", in, func() (*eks.DescribeClusterOutput, error) {
		return e.eks.DescribeCluster(ctx, in, o...)
	})
}

type pricingAPI struct{ *cloud }

func (p pricingAPI) GetProducts(ctx context.Context, in *pricing.GetProductsInput, o ...func(*pricing.Options)) (*pricing.GetProductsOutput, error) {
	return record(p.journal, "pricing:GetProducts", in, func() (*pricing.GetProductsOutput, error) {
		return p.pricing.GetProducts(ctx, in, o...)
	})
}

type iamAPI struct{ *cloud }

var _ sdk.IAMAPI = iamAPI{}

func (i iamAPI) GetInstanceProfile(ctx context.Context, in *iam.GetInstanceProfileInput, o ...func(*iam.Options)) (*iam.GetInstanceProfileOutput, error) {
	return record(i.journal, "iam:GetInstanceProfile", in, func() (*iam.GetInstanceProfileOutput, error) {
		return i.iam.GetInstanceProfile(ctx, in, o...)
	})
}

func (i iamAPI) CreateInstanceProfile(ctx context.Context, in *iam.CreateInstanceProfileInput, o ...func(*iam.Options)) (*iam.CreateInstanceProfileOutput, error) {
	return record(i.journal, "iam:CreateInstanceProfile", in, func() (*iam.CreateInstanceProfileOutput, error) {
		return i.iam.CreateInstanceProfile(ctx, in, o...)
	})
}

func (i iamAPI) DeleteInstanceProfile(ctx context.Context, in *iam.DeleteInstanceProfileInput, o ...func(*iam.Options)) (*iam.DeleteInstanceProfileOutput, error) {
	return record(i.journal, "iam:DeleteInstanceProfile", in, func() (*iam.DeleteInstanceProfileOutput, error) {
		return i.iam.DeleteInstanceProfile(ctx, in, o...)
	})
}

func (i iamAPI) AddRoleToInstanceProfile(ctx context.Context, in *iam.AddRoleToInstanceProfileInput, o ...func(*iam.Options)) (*iam.AddRoleToInstanceProfileOutput, error) {
	return record(i.journal, "iam:AddRoleToInstanceProfile", in, func() (*iam.AddRoleToInstanceProfileOutput, error) {
		i.iam.Lock()
		for _, r := range i.current().Roles {
			i.iam.Roles[r] = &iamtypes.Role{RoleName: aws.String(r)}
		}
		i.iam.Unlock()
		return i.iam.AddRoleToInstanceProfile(ctx, in, o...)
	})
}

func (i iamAPI) TagInstanceProfile(ctx context.Context, in *iam.TagInstanceProfileInput, o ...func(*iam.Options)) (*iam.TagInstanceProfileOutput, error) {
	return record(i.journal, "iam:TagInstanceProfile", in, func() (*iam.TagInstanceProfileOutput, error) {
		return i.iam.TagInstanceProfile(ctx, in, o...)
	})
}

func (i iamAPI) RemoveRoleFromInstanceProfile(ctx context.Context, in *iam.RemoveRoleFromInstanceProfileInput, o ...func(*iam.Options)) (*iam.RemoveRoleFromInstanceProfileOutput, error) {
	return record(i.journal, "iam:RemoveRoleFromInstanceProfile", in, func() (*iam.RemoveRoleFromInstanceProfileOutput, error) {
		return i.iam.RemoveRoleFromInstanceProfile(ctx, in, o...)
	})
}

func (i iamAPI) ListInstanceProfiles(ctx context.Context, in *iam.ListInstanceProfilesInput, o ...func(*iam.Options)) (*iam.ListInstanceProfilesOutput, error) {
	return record(i.journal, "iam:ListInstanceProfiles", in, func() (*iam.ListInstanceProfilesOutput, error) {
		return i.iam.ListInstanceProfiles(ctx, in, o...)
	})
}

func (i iamAPI) GetRole(ctx context.Context, in *iam.GetRoleInput, o ...func(*iam.Options)) (*iam.GetRoleOutput, error) {
	return record(i.journal, "iam:GetRole", in, func() (*iam.GetRoleOutput, error) {
		if !contains(i.current().Roles, aws.ToString(in.RoleName)) {
			return nil, &smithy.GenericAPIError{Code: "NoSuchEntity", Message: "The role with name " + aws.ToString(in.RoleName) + " cannot be found."}
		}
		return i.iam.GetRole(ctx, in, o...)
	})
}

// sqsAPI is the interruption queue the stack created: it holds the seed's
// messages until the controller deletes them, and a receive with none
// waits as SQS's long poll does instead of answering at once.
type sqsAPI struct {
	*cloud
	queue string
	// deleted are the receipt handles of the messages deleted.
	deleted *sync.Map
}

func (q sqsAPI) queueURL() string {
	return fmt.Sprintf("https://sqs.%s.amazonaws.com/%s/%s", q.seed.Region, q.seed.Account, q.queue)
}

func (q sqsAPI) GetQueueUrl(_ context.Context, in *sqs.GetQueueUrlInput, _ ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error) { //nolint:revive // the SDK's name
	return record(q.journal, "sqs:GetQueueUrl", in, func() (*sqs.GetQueueUrlOutput, error) {
		if aws.ToString(in.QueueName) != q.queue {
			return nil, &smithy.GenericAPIError{Code: "AWS.SimpleQueueService.NonExistentQueue", Message: "The specified queue does not exist."}
		}
		return &sqs.GetQueueUrlOutput{QueueUrl: aws.String(q.queueURL())}, nil
	})
}

func (q sqsAPI) ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	return record(q.journal, "sqs:ReceiveMessage", in, func() (*sqs.ReceiveMessageOutput, error) {
		if aws.ToString(in.QueueUrl) != q.queueURL() {
			return nil, &smithy.GenericAPIError{Code: "AWS.SimpleQueueService.NonExistentQueue", Message: "The specified queue does not exist."}
		}
		for wait := time.Now().Add(time.Duration(in.WaitTimeSeconds) * time.Second); ; {
			if out := q.waiting(in); len(out.Messages) > 0 || !time.Now().Before(wait) {
				return out, nil
			}
			select {
			case <-ctx.Done():
				return &sqs.ReceiveMessageOutput{}, nil
			case <-time.After(time.Second):
			}
		}
	})
}

// waiting are the messages not yet deleted, at most as many as asked for.
func (q sqsAPI) waiting(in *sqs.ReceiveMessageInput) *sqs.ReceiveMessageOutput {
	out := &sqs.ReceiveMessageOutput{}
	for _, m := range q.current().QueueMessages {
		if _, gone := q.deleted.Load(m.ID); gone || (in.MaxNumberOfMessages > 0 && len(out.Messages) == int(in.MaxNumberOfMessages)) {
			continue
		}
		out.Messages = append(out.Messages, sqstypes.Message{MessageId: aws.String(m.ID), ReceiptHandle: aws.String(m.ID), Body: aws.String(m.Body)})
	}
	return out
}

func (q sqsAPI) DeleteMessage(_ context.Context, in *sqs.DeleteMessageInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error) {
	return record(q.journal, "sqs:DeleteMessage", in, func() (*sqs.DeleteMessageOutput, error) {
		q.deleted.Store(aws.ToString(in.ReceiptHandle), true)
		return &sqs.DeleteMessageOutput{}, nil
	})
}

func (q sqsAPI) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	return record(q.journal, "sqs:SendMessage", in, func() (*sqs.SendMessageOutput, error) {
		return nil, fmt.Errorf("the controller sends no messages to its interruption queue")
	})
}
