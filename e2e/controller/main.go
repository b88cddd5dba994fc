// Command controller is the Karpenter controller of the end-to-end run: the
// real operator, cloud provider and controllers of Karpenter, wired as its
// own cmd/controller wires them, over Karpenter's in-memory AWS fakes
// (pkg/fake) seeded with the account the stack declared, instead of AWS's
// endpoints. It takes its settings from the environment of the controller
// Deployment the stack's Helm release created, as the real controller does,
// and records every AWS call it makes for the harness to judge against the
// controller's IAM policy.
package main

import (
	"flag"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	servicesqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/patrickmn/go-cache"
	"github.com/samber/lo"

	v1 "github.com/aws/karpenter-provider-aws/pkg/apis/v1"
	awscache "github.com/aws/karpenter-provider-aws/pkg/cache"
	kubeletcel "github.com/aws/karpenter-provider-aws/pkg/cel"
	"github.com/aws/karpenter-provider-aws/pkg/cloudprovider"
	"github.com/aws/karpenter-provider-aws/pkg/cloudprovider/registrationhooks"
	"github.com/aws/karpenter-provider-aws/pkg/controllers"
	"github.com/aws/karpenter-provider-aws/pkg/controllers/interruption"
	awsoperator "github.com/aws/karpenter-provider-aws/pkg/operator"
	"github.com/aws/karpenter-provider-aws/pkg/operator/options"
	"github.com/aws/karpenter-provider-aws/pkg/providers/amifamily"
	"github.com/aws/karpenter-provider-aws/pkg/providers/arczonalshift"
	"github.com/aws/karpenter-provider-aws/pkg/providers/capacityreservation"
	"github.com/aws/karpenter-provider-aws/pkg/providers/instance"
	"github.com/aws/karpenter-provider-aws/pkg/providers/instanceprofile"
	"github.com/aws/karpenter-provider-aws/pkg/providers/instancestatus"
	"github.com/aws/karpenter-provider-aws/pkg/providers/instancetype"
	"github.com/aws/karpenter-provider-aws/pkg/providers/launchtemplate"
	"github.com/aws/karpenter-provider-aws/pkg/providers/placementgroup"
	"github.com/aws/karpenter-provider-aws/pkg/providers/pricing"
	"github.com/aws/karpenter-provider-aws/pkg/providers/securitygroup"
	"github.com/aws/karpenter-provider-aws/pkg/providers/sqs"
	ssmp "github.com/aws/karpenter-provider-aws/pkg/providers/ssm"
	"github.com/aws/karpenter-provider-aws/pkg/providers/subnet"
	"github.com/aws/karpenter-provider-aws/pkg/providers/version"

	corecloudprovider "sigs.k8s.io/karpenter/pkg/cloudprovider"
	"sigs.k8s.io/karpenter/pkg/cloudprovider/metrics"
	"sigs.k8s.io/karpenter/pkg/cloudprovider/overlay"
	corecontrollers "sigs.k8s.io/karpenter/pkg/controllers"
	"sigs.k8s.io/karpenter/pkg/controllers/node/health"
	"sigs.k8s.io/karpenter/pkg/controllers/state"
	coreoperator "sigs.k8s.io/karpenter/pkg/operator"
	karpoptions "sigs.k8s.io/karpenter/pkg/operator/options"
)

// The harness's flags are removed before Karpenter reads its settings:
// those come from the environment, as in the controller's pod.
func main() {
	harness := flag.NewFlagSet("harness", flag.ExitOnError)
	seedFile := harness.String("seed", "", "the account, as JSON (see Seed)")
	callsFile := harness.String("calls", "", "where every AWS call is appended, as JSON lines")
	instancesFile := harness.String("instances", "", "where the running instances are written after each change")
	_ = harness.Parse(os.Args[1:])
	os.Args = os.Args[:1]

	var seed Seed
	if err := readJSON(*seedFile, &seed); err != nil {
		fmt.Fprintln(os.Stderr, "controller:", err)
		os.Exit(2)
	}
	calls, err := os.OpenFile(*callsFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, "controller:", err)
		os.Exit(2)
	}
	c := newCloud(seed, *seedFile, &journal{calls: calls, instances: *instancesFile})
	if err := (ec2API{c}).writeInstances(); err != nil {
		fmt.Fprintln(os.Stderr, "controller:", err)
		os.Exit(2)
	}
	run(c)
}

// RepairTolerationEnv shortens how long the repair policies tolerate an
// unhealthy node condition before Karpenter acts (10 or 30 minutes
// upstream), so that the run sees repair within minutes.
const RepairTolerationEnv = "E2E_REPAIR_TOLERATION"

// shortTolerations is the cloud provider with its repair policies'
// tolerations capped; every policy's condition, action and drain bound
// (TerminationGracePeriod) stay as the provider has them.
type shortTolerations struct {
	corecloudprovider.CloudProvider
	toleration time.Duration
}

func (s shortTolerations) RepairPolicies() []corecloudprovider.RepairPolicy {
	policies := s.CloudProvider.RepairPolicies()
	for i := range policies {
		policies[i].TolerationDuration = min(policies[i].TolerationDuration, s.toleration)
	}
	return policies
}

// run is cmd/controller's main with the AWS operator's providers built
// over the fakes (pkg/operator.NewOperator builds the same providers over
// SDK clients; pkg/test.NewEnvironment over the fakes with a fake clock).
func run(c *cloud) {
	ctx, core := coreoperator.NewOperator()
	opts := options.FromContext(ctx)
	region := c.seed.Region
	ec2api, clk := ec2API{c}, core.Clock

	subnetIPCacheTTL := max(awscache.AvailableIPAddressTTL, opts.SubnetRefreshInterval+(awscache.AvailableIPAddressTTL-awscache.DefaultTTL))
	subnetProvider := subnet.NewDefaultProvider(ec2api, cache.New(opts.SubnetRefreshInterval, awscache.DefaultCleanupInterval), cache.New(subnetIPCacheTTL, awscache.DefaultCleanupInterval))
	securityGroupProvider := securitygroup.NewDefaultProvider(ec2api, cache.New(opts.SecurityGroupRefreshInterval, awscache.DefaultCleanupInterval))
	instanceProfileProvider := instanceprofile.NewDefaultProvider(iamAPI{c},
		cache.New(awscache.InstanceProfileTTL, awscache.DefaultCleanupInterval),
		cache.New(awscache.DefaultCleanupInterval, awscache.DefaultCleanupInterval),
		cache.New(awscache.ProtectedProfilesTTL, awscache.DefaultCleanupInterval), region)
	pricingProvider := pricing.NewDefaultProvider(pricingAPI{c}, ec2api, region, opts.IsolatedVPC)
	versionProvider := version.NewDefaultProvider(core.KubernetesInterface, eksAPI{c})
	lo.Must0(versionProvider.UpdateVersion(ctx))
	ssmCache := cache.New(awscache.SSMCacheTTL, awscache.DefaultCleanupInterval)
	amiProvider := amifamily.NewDefaultProvider(clk, versionProvider, ssmp.NewDefaultProvider(ssmAPI{c}, ssmCache), ec2api,
		cache.New(opts.AMIRefreshInterval, awscache.DefaultCleanupInterval))
	placementGroupProvider := placementgroup.NewProvider(ec2api,
		cache.New(awscache.DefaultTTL, awscache.DefaultCleanupInterval), cache.New(awscache.PlacementGroupAvailabilityTTL, awscache.DefaultCleanupInterval))
	celEnv := lo.Must(kubeletcel.NewEnvironment())
	var instanceTypeProvider *instancetype.DefaultProvider
	amiResolver := amifamily.NewDefaultResolver(region, func(name string) (amifamily.ENILimits, bool) {
		if instanceTypeProvider == nil {
			return amifamily.ENILimits{}, false
		}
		return instanceTypeProvider.ENILimits(name)
	}, celEnv)
	caBundle := lo.Must(awsoperator.GetCABundle(ctx, core.GetConfig()))
	kubeDNSIP, _ := awsoperator.KubeDNSIP(ctx, core.KubernetesInterface)
	clusterEndpoint := lo.Must(awsoperator.ResolveClusterEndpoint(ctx, eksAPI{c}))
	launchTemplateProvider := launchtemplate.NewDefaultProvider(ctx, cache.New(awscache.DefaultTTL, awscache.DefaultCleanupInterval),
		ec2api, eksAPI{c}, amiResolver, securityGroupProvider, subnetProvider, placementGroupProvider, caBundle, core.Elected(), kubeDNSIP, clusterEndpoint)
	capacityReservationProvider := capacityreservation.NewProvider(ec2api, clk,
		cache.New(awscache.DefaultTTL, awscache.DefaultCleanupInterval), cache.New(awscache.CapacityReservationAvailabilityTTL, awscache.DefaultCleanupInterval))
	// Zonal shift needs ARC, which the stack does not set up: off, as with
	// the chart's default.
	zonalShift := arczonalshift.NewNoopProvider()
	unavailableOfferings := awscache.NewUnavailableOfferings()
	instanceTypeProvider = instancetype.NewDefaultProvider(
		cache.New(awscache.InstanceTypesZonesAndOfferingsTTL, awscache.DefaultCleanupInterval),
		cache.New(awscache.InstanceTypesZonesAndOfferingsTTL, awscache.DefaultCleanupInterval),
		cache.New(awscache.DiscoveredCapacityCacheTTL, awscache.DefaultCleanupInterval),
		ec2api, subnetProvider, pricingProvider, capacityReservationProvider, placementGroupProvider, unavailableOfferings,
		instancetype.NewDefaultResolver(region, celEnv), zonalShift, core.GetClient(), celEnv)
	lo.Must0(instanceTypeProvider.UpdateInstanceTypes(ctx))
	lo.Must0(instanceTypeProvider.UpdateInstanceTypeOfferings(ctx))
	instanceProvider := instance.NewDefaultProvider(ctx, region, core.EventRecorder, ec2api, unavailableOfferings, subnetProvider,
		launchTemplateProvider, capacityReservationProvider, placementGroupProvider, zonalShift, cache.New(cache.NoExpiration, cache.NoExpiration))
	instanceStatusProvider := instancestatus.NewDefaultProvider(ec2api, clk)
	awsoperator.SetupIndexers(ctx, core.Manager)

	awsCloudProvider := cloudprovider.New(instanceTypeProvider, instanceProvider, core.EventRecorder, core.GetClient(), amiProvider,
		securityGroupProvider, capacityReservationProvider, placementGroupProvider, core.InstanceTypeStore, caBundle,
		cloudprovider.WithLegacyRepairPolicies(karpoptions.FromContext(ctx).LegacyNodeRepair),
		cloudprovider.WithRebootForRepair(opts.FeatureGates.RebootForRepair),
	)
	var base corecloudprovider.CloudProvider = awsCloudProvider
	if d, err := time.ParseDuration(os.Getenv(RepairTolerationEnv)); err == nil && d > 0 {
		base = shortTolerations{CloudProvider: awsCloudProvider, toleration: d}
		fmt.Fprintf(os.Stderr, "controller: repair policies tolerate an unhealthy condition for at most %s (%s); their conditions, actions and drain bounds are upstream's\n", d, RepairTolerationEnv)
	}
	undecorated := metrics.Decorate(base)
	cloudProvider := overlay.Decorate(undecorated, core.GetClient(), core.InstanceTypeStore)
	repairPolicies := lo.Must(health.NewRepairPolicyMatcher(ctx, cloudProvider))
	clusterState := state.NewCluster(core.Clock, core.GetClient(), cloudProvider, state.WithRepairPolicyMatcher(repairPolicies))
	if karpoptions.FromContext(ctx).FeatureGates.ReservedCapacity {
		v1.CapacityReservationsEnabled = true
	}

	// The provider's controllers build the interruption controller over an
	// SQS client of the SDK; here it reads the queue through the fake, so
	// it is added with the queue resolved as the controller resolves it.
	queue := opts.InterruptionQueue
	withoutQueue := *opts
	withoutQueue.InterruptionQueue = ""
	providerControllers := controllers.NewControllers(withoutQueue.ToContext(ctx), core.Manager, aws.Config{Region: region}, clk, ec2api, core.GetClient(),
		core.EventRecorder, unavailableOfferings, ssmCache,
		awscache.NewJitteredCache(awscache.ValidationTTL, 5*time.Minute, awscache.DefaultCleanupInterval),
		cache.New(awscache.RecreationTTL, awscache.DefaultCleanupInterval),
		cloudProvider, subnetProvider, securityGroupProvider, instanceProfileProvider, instanceProvider, pricingProvider, amiProvider,
		launchTemplateProvider, versionProvider, instanceTypeProvider, capacityReservationProvider, placementGroupProvider, amiResolver,
		zonalShift, instanceStatusProvider, caBundle, celEnv)
	if queue != "" {
		q := sqsAPI{cloud: c, queue: queue, deleted: &sync.Map{}}
		url := lo.Must(q.GetQueueUrl(ctx, &servicesqs.GetQueueUrlInput{QueueName: &queue}))
		provider := lo.Must(sqs.NewDefaultProvider(q, *url.QueueUrl))
		providerControllers = append(providerControllers, interruption.NewController(core.GetClient(), clk, cloudProvider, core.EventRecorder, provider, nil, unavailableOfferings))
	}

	core.
		WithControllers(ctx, corecontrollers.NewControllers(ctx, core.Manager, core.Clock, core.GetClient(), core.EventRecorder,
			cloudProvider, undecorated, clusterState, core.InstanceTypeStore, core.PredictionStore,
			corecontrollers.WithRegistrationHook(registrationhooks.NewPlacementGroupRegistrationHook(instanceProvider)),
		)...).
		WithControllers(ctx, providerControllers...).
		Start(ctx)
}
