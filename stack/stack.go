// Package stack is the whole program, step by step: read the configuration,
// learn the cluster, then declare identities, tags, node access, Karpenter,
// the GPU pools and the device plugin, and export what other stacks need.
package stack

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"karpenter-gpu/cluster"
	"karpenter-gpu/config"
	"karpenter-gpu/gpu"
	"karpenter-gpu/iam"
	"karpenter-gpu/karpenter"
	"karpenter-gpu/network"
	"karpenter-gpu/offerings"
	"karpenter-gpu/versions"
	"karpenter-gpu/wellknown"
)

// Options are what a run of the program takes from where it runs, beside
// the engine: the zero value is the program as `pulumi up` runs it.
type Options struct {
	// Connect opens the cluster's Kubernetes API; nil connects with the
	// cluster's kubeconfig, as kubectl would. The offline render and the
	// tests hand the program a fake cluster's.
	Connect cluster.Connect
	// OpenReservations lists the account's open capacity reservations;
	// nil asks EC2 with the AWS SDK's credentials and the stack's
	// aws:profile. The offline render and the tests hand the program a fake
	// account's.
	OpenReservations offerings.OpenReservations
	// ConfigKeys are the keys the stack's configuration sets, for a run
	// whose engine does not list them (its mocks); misspelled ones are
	// refused. Nil: the keys the engine hands the program, or else those of
	// the stack's settings file in ProjectDir.
	ConfigKeys []string
	// ProjectDir is the folder of the stack's settings file; empty: the
	// program's root directory. An Automation API inline program's
	// workspace keeps the file elsewhere, and the engine does not say where.
	ProjectDir string
	// Observe is handed the outputs, once resolved, and the warnings
	// before the program returns: the offline render writes them, tests
	// read them. Only for runs whose outputs all become known (the
	// engine's mocks): the program waits for them.
	Observe func(Observed)
}

// Observed is what a run shows besides its resources.
type Observed struct {
	// Outputs are the stack outputs, resolved.
	Outputs map[string]any
	// Warnings are what preview printed as warnings.
	Warnings []string
}

// Run is the Pulumi program.
func Run(ctx *pulumi.Context) error { return Program(Options{})(ctx) }

// Program is the Pulumi program run with the given options.
func Program(o Options) pulumi.RunFunc {
	if o.Connect == nil {
		o.Connect = cluster.ConnectWithKubeconfig
	}
	return func(ctx *pulumi.Context) error {
		if o.Observe == nil {
			return run(ctx, o)
		}
		done := make(chan struct{})
		observe := o.Observe
		o.Observe = func(obs Observed) { observe(obs); close(done) }
		if err := run(ctx, o); err != nil {
			return err
		}
		<-done
		return nil
	}
}

func run(ctx *pulumi.Context, o Options) error {
	cfg, err := config.Load(ctx, config.Source{Keys: o.ConfigKeys, ProjectDir: o.ProjectDir})
	var invalid *config.Error
	if errors.As(err, &invalid) {
		// The pools that are valid on their own are still judged against
		// the catalogue, so that one run reports every mistake.
		if _, poolErr := matchInstanceTypes(invalid.ValidPools); poolErr != nil {
			return fmt.Errorf("%w\n%w", err, poolErr)
		}
	}
	if err != nil {
		return err
	}
	if o.OpenReservations == nil {
		profile, _ := ctx.GetConfig("aws:profile")
		o.OpenReservations = offerings.EC2OpenReservations(profile)
	}
	outputs, warnings, err := declare(ctx, cfg, o)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		if err := ctx.Log.Warn(w, nil); err != nil {
			return err
		}
	}
	for name, value := range outputs {
		ctx.Export(name, value)
	}
	if o.Observe != nil {
		outputs.ToMapOutput().ApplyT(func(m map[string]any) error {
			o.Observe(Observed{Outputs: m, Warnings: warnings})
			return nil
		})
	}
	return nil
}

// declare declares every resource of the stack from a validated
// configuration and returns the stack outputs and the warnings to show.
func declare(ctx *pulumi.Context, cfg *config.Stack, o Options) (pulumi.Map, []string, error) {
	pre, err := runPreflight(ctx, cfg, o)
	if err != nil {
		return nil, nil, err
	}
	facts := pre.facts
	if cfg.Cluster.Create {
		if facts, err = cluster.Create(ctx, cfg.ClusterName, cfg); err != nil {
			return nil, nil, err
		}
	}
	nodeRole, err := declareNodeRole(ctx, cfg, pre, facts)
	if err != nil {
		return nil, nil, err
	}
	k8s, err := cluster.NewKubernetesProvider(ctx, "cluster", facts)
	if err != nil {
		return nil, nil, err
	}
	// Karpenter itself: nil in pools-only mode, where the cluster's own runs.
	controller, err := declareKarpenter(ctx, cfg, pre, facts, nodeRole, k8s)
	if err != nil {
		return nil, nil, err
	}

	// What nodes need to launch and join, for as long as any exists.
	nodePrerequisites, efaGroup, err := declareNodePrerequisites(ctx, cfg, pre, facts)
	if err != nil {
		return nil, nil, err
	}
	nodePrerequisites = append(nodePrerequisites, nodeRole.prerequisites...)
	if pre.accessMode != config.NodeAccessNone {
		nodeAccess, err := cluster.NewNodeAccess(ctx, "karpenter-node-access", &cluster.NodeAccessArgs{
			Mode: pre.accessMode, ClusterName: facts.Name, NodeRoleARN: nodeRole.arn, Tags: cfg.Tags, Kubernetes: k8s,
			AwsAuthMapRoles: pre.awsAuthMapRoles,
			After:           facts.Ready(),
		})
		if err != nil {
			return nil, nil, err
		}
		nodePrerequisites = append(nodePrerequisites, nodeAccess.Grant)
	}

	// Karpenter's custom resources come after the releases and go before
	// them, and after everything a node needs. Dependencies name resources,
	// not components, so that the graph is the same on every run.
	onDelete, err := deletionBounds(ctx, cfg, facts, o.Connect)
	if err != nil {
		return nil, nil, err
	}
	var releases []pulumi.Resource
	if controller != nil {
		releases = []pulumi.Resource{controller.CRDs, controller.Release}
	}
	nodeClasses := map[string]pulumi.Resource{}
	for _, nc := range cfg.NodeClasses {
		nodeClasses[nc.Name], err = karpenter.NewNodeClass(ctx, nc.Name, &karpenter.NodeClassArgs{
			Settings:           nodeClassSettings(cfg, nc, pre.subnets, pre.securityGroups),
			Role:               nodeRole.name,
			EFASecurityGroupID: efaGroup,
		}, pulumi.Provider(k8s), pulumi.DependsOn(slices.Concat(releases, nodePrerequisites)), onDelete)
		if err != nil {
			return nil, nil, err
		}
	}

	// GPUs: pools, device plugins, optional smoke test.
	var pools []pulumi.Resource
	for _, pool := range cfg.GPUPools {
		np, err := gpu.NewNodePool(ctx, "gpu-pool-"+pool.Name, &gpu.NodePoolArgs{Pool: pool},
			pulumi.Provider(k8s), pulumi.DependsOn(append([]pulumi.Resource{nodeClasses[pool.NodeClass]}, releases...)), onDelete)
		if err != nil {
			return nil, nil, err
		}
		pools = append(pools, np.Resources()...)
		if pool.Headroom > 0 {
			if _, err := gpu.NewHeadroom(ctx, "gpu-headroom-"+pool.Name, &gpu.HeadroomArgs{Pool: pool, Namespace: cfg.Karpenter.Namespace},
				pulumi.Provider(k8s), pulumi.DependsOn(append([]pulumi.Resource{np.NodePool}, releases...))); err != nil {
				return nil, nil, err
			}
		}
	}
	devicePlugin, err := gpu.NewDevicePlugin(ctx, "nvidia-device-plugin", &gpu.DevicePluginArgs{
		ChartRepository: cfg.DevicePlugin.ChartRepository,
		Version:         cfg.DevicePlugin.Version,
		Namespace:       cfg.DevicePlugin.Namespace,
		Settings:        devicePluginSettings(cfg),
	}, pulumi.Providers(k8s))
	if err != nil {
		return nil, nil, err
	}
	if efa := efaNodeClasses(cfg); len(efa) > 0 {
		if _, err := gpu.NewEFADevicePlugin(ctx, "efa-device-plugin", &gpu.EFADevicePluginArgs{
			NodeClasses: efa, ChartRepository: cfg.EFADevicePlugin.ChartRepository, Version: cfg.EFADevicePlugin.Version,
		}, pulumi.Provider(k8s)); err != nil {
			return nil, nil, err
		}
	}
	if cfg.SmokeTest {
		if _, err := gpu.NewSmokeTest(ctx, "gpu-smoke-test", &gpu.SmokeTestArgs{
			Namespace: "default", Pool: cfg.GPUPools[0],
		}, pulumi.Provider(k8s), pulumi.DependsOn(append(pools, devicePlugin.Release))); err != nil {
			return nil, nil, err
		}
	}
	return stackOutputs(cfg, facts, pre, nodeRole, controller), pre.warnings, nil
}

// nodeRole is the role of GPU nodes, created or existing.
type nodeRole struct {
	name, arn pulumi.StringOutput
	// prerequisites complete a created role (its policy attachments).
	prerequisites []pulumi.Resource
}

func declareNodeRole(ctx *pulumi.Context, cfg *config.Stack, pre *preflight, facts *cluster.Facts) (*nodeRole, error) {
	if cfg.NodeRole.Name != "" {
		return &nodeRole{name: pulumi.String(cfg.NodeRole.Name).ToStringOutput(), arn: pulumi.String(pre.nodeRoleARN).ToStringOutput()}, nil
	}
	r, err := iam.NewNodeRole(ctx, "karpenter-node", &iam.NodeRoleArgs{
		Partition:           facts.Partition,
		DNSSuffix:           facts.DNSSuffix,
		ExtraPolicyARNs:     cfg.NodeRole.ExtraPolicyARNs,
		PermissionsBoundary: cfg.NodeRole.PermissionsBoundary,
		Tags:                cfg.Tags,
	})
	if err != nil {
		return nil, err
	}
	return &nodeRole{name: r.Name, arn: r.ARN, prerequisites: r.Attachments}, nil
}

// installedKarpenter is what the stack installs of Karpenter.
type installedKarpenter struct {
	*karpenter.Controller
	queue          *karpenter.InterruptionQueue
	controllerRole *iam.ControllerRole
}

// declareKarpenter installs Karpenter: its interruption queue, its
// identity and its releases. Nothing in pools-only mode.
func declareKarpenter(ctx *pulumi.Context, cfg *config.Stack, pre *preflight, facts *cluster.Facts, role *nodeRole, k8s *kubernetes.Provider) (*installedKarpenter, error) {
	if !cfg.Karpenter.Install {
		return nil, nil
	}
	clusterReady := facts.Ready()
	if cfg.Karpenter.CreateOIDCProvider {
		provider, err := iam.NewOIDCProvider(ctx, "cluster-oidc", &iam.OIDCProviderArgs{
			IssuerURL: facts.OIDCIssuerURL, Tags: cfg.Tags,
		})
		if err != nil {
			return nil, err
		}
		facts.OIDCProviderARN = provider.Arn
	}
	queue, err := karpenter.NewInterruptionQueue(ctx, "karpenter-interruption", &karpenter.InterruptionQueueArgs{Tags: cfg.Tags})
	if err != nil {
		return nil, err
	}
	if cfg.Cluster.Create && cfg.Karpenter.Identity == config.IdentityPodIdentity {
		agent, err := cluster.NewAddon(ctx, cluster.PodIdentityAgentAddon, &cluster.AddonArgs{
			ClusterName: facts.Name, Addon: cluster.PodIdentityAgentAddon, Tags: cfg.Tags,
		}, pulumi.DependsOn(clusterReady))
		if err != nil {
			return nil, err
		}
		clusterReady = append(clusterReady, agent)
	}
	controllerRole, err := iam.NewControllerRole(ctx, "karpenter-controller", &iam.ControllerRoleArgs{
		Identity: cfg.Karpenter.Identity,
		Scope: iam.ControllerScope{
			Partition: facts.Partition, Region: facts.Region, AccountID: facts.AccountID,
			ClusterName: facts.Name, ClusterARN: facts.ARN,
			RebootForRepair: cfg.Karpenter.AWSFeatureGates[wellknown.AWSFeatureGateRebootRepair],
		},
		OIDCIssuerURL:   facts.OIDCIssuerURL,
		OIDCProviderARN: facts.OIDCProviderARN,
		Namespace:       cfg.Karpenter.Namespace,
		NodeRoleARN:     role.arn,
		QueueARN:        queue.ARN,
		Tags:            cfg.Tags,
		After:           clusterReady,
	})
	if err != nil {
		return nil, err
	}
	gates := featureGates(cfg)
	if gates[wellknown.FeatureGateNodeRepair] {
		if err := declareMonitoringAgent(ctx, cfg, facts, pre, clusterReady); err != nil {
			return nil, err
		}
	}
	controller, err := karpenter.NewController(ctx, "karpenter", &karpenter.ControllerArgs{
		Settings: karpenter.ControllerSettings{
			ClusterName: facts.Name, Karpenter: cfg.Karpenter, Owner: owner(ctx),
			FeatureGates: gates, AWSFeatureGates: cfg.Karpenter.AWSFeatureGates,
		},
		Endpoint: facts.Endpoint,
		Queue:    queue.Name,
		RoleARN:  controllerRole.ARN,
		After:    controllerRole.Grants,
	}, pulumi.Providers(k8s))
	if err != nil {
		return nil, err
	}
	return &installedKarpenter{Controller: controller, queue: queue, controllerRole: controllerRole}, nil
}

// declareNodePrerequisites declares what GPU nodes need besides their role
// and cluster access: discovery tags, the EFA security group (whose ID it
// returns), the Spot service-linked role.
func declareNodePrerequisites(ctx *pulumi.Context, cfg *config.Stack, pre *preflight, facts *cluster.Facts) ([]pulumi.Resource, pulumi.StringInput, error) {
	var out []pulumi.Resource
	if cfg.Discovery.Mode == config.DiscoveryTags {
		groups := network.IDs(pre.taggedSecurityGroups)
		if cfg.Cluster.Create && len(cfg.Discovery.SecurityGroupIDs) == 0 {
			maps.Copy(groups, facts.SecurityGroups) // the created cluster's: ours by construction
		}
		discovery, err := network.NewDiscoveryTags(ctx, "karpenter-discovery", &network.DiscoveryTagsArgs{
			ClusterName:    facts.Name,
			Owner:          owner(ctx),
			Subnets:        network.IDs(pre.taggedSubnets),
			SecurityGroups: groups,
		})
		if err != nil {
			return nil, nil, err
		}
		out = append(out, discovery.Tags...)
	}
	var efaGroup pulumi.StringInput
	if len(efaNodeClasses(cfg)) > 0 {
		sg, err := network.NewEFASecurityGroup(ctx, "efa", &network.EFASecurityGroupArgs{VpcID: facts.VpcID, ClusterName: facts.Name, Tags: cfg.Tags})
		if err != nil {
			return nil, nil, err
		}
		efaGroup = sg.ID().ToStringOutput()
		out = append(out, sg)
	}
	if anyPoolAllows(cfg, wellknown.CapacityTypeSpot) {
		role, err := iam.NewSpotServiceLinkedRole(ctx, "spot", &iam.SpotServiceLinkedRoleArgs{
			Partition: facts.Partition, AccountID: facts.AccountID, Exists: pre.spotRoleExists,
		})
		if err != nil {
			return nil, nil, err
		}
		out = append(out, role)
	}
	return out, efaGroup, nil
}

// featureGates are the Karpenter feature gates: the configured ones,
// nodeOverlay when a pool shares its GPUs (NodeOverlays tell Karpenter what
// a time-sliced node will advertise) and capacityBuffer when a pool keeps
// headroom.
func featureGates(cfg *config.Stack) map[string]bool {
	gates := maps.Clone(cfg.Karpenter.FeatureGates)
	turnOn := func(gate string) {
		if gates == nil {
			gates = map[string]bool{}
		}
		gates[gate] = true
	}
	if slices.ContainsFunc(cfg.GPUPools, func(p config.GPUPool) bool { return p.Sharing.Replicas > 1 }) {
		turnOn(wellknown.FeatureGateNodeOverlay)
	}
	if slices.ContainsFunc(cfg.GPUPools, func(p config.GPUPool) bool { return p.Headroom > 0 }) {
		turnOn(wellknown.FeatureGateCapacityBuffer)
	}
	return gates
}

// devicePluginSettings keep the plugin off Bottlerocket nodes and give it a
// time-slicing configuration for every replica count a pool uses.
func devicePluginSettings(cfg *config.Stack) gpu.DevicePluginSettings {
	var s gpu.DevicePluginSettings
	for _, nc := range cfg.NodeClasses {
		if nc.Family() == wellknown.AMIFamilyBottlerocket {
			s.SkipNodeClasses = append(s.SkipNodeClasses, nc.Name)
		}
	}
	for _, pool := range cfg.GPUPools {
		if pool.Sharing.Replicas > 1 {
			s.SharingReplicas = append(s.SharingReplicas, pool.Sharing.Replicas)
		}
	}
	return s
}

func efaNodeClasses(cfg *config.Stack) []string {
	var out []string
	for _, nc := range cfg.NodeClasses {
		if nc.EFA.Enabled() {
			out = append(out, nc.Name)
		}
	}
	return out
}

// declareMonitoringAgent installs the node monitoring agent add-on that
// node repair needs, tagged as this stack's; one the cluster already runs
// and this stack did not create is adopted as it is and kept on destroy.
func declareMonitoringAgent(ctx *pulumi.Context, cfg *config.Stack, facts *cluster.Facts, pre *preflight, ready []pulumi.Resource) error {
	if a := pre.monitoringAgent; a != nil && !ownAddon(ctx, a) {
		_, err := cluster.AdoptAddon(ctx, cluster.NodeMonitoringAgentAddon, facts.Name, cluster.NodeMonitoringAgentAddon, a, pulumi.DependsOn(ready))
		return err
	}
	tags := maps.Clone(cfg.Tags)
	if tags == nil {
		tags = map[string]string{}
	}
	tags[wellknown.AddonOwnerTagKey] = owner(ctx)
	_, err := cluster.NewAddon(ctx, cluster.NodeMonitoringAgentAddon, &cluster.AddonArgs{
		ClusterName: facts.Name, Addon: cluster.NodeMonitoringAgentAddon, Tags: tags,
		Version: versions.NodeMonitoringAgentAddon, Configuration: cluster.NodeMonitoringAgentValues(),
	}, pulumi.DependsOn(ready))
	return err
}

// nodeClassSettings selects subnets and security groups by the discovery
// tag, or by ID in discovery mode ids.
func nodeClassSettings(cfg *config.Stack, nc config.NodeClass, subnets, securityGroups []string) karpenter.NodeClassSettings {
	s := karpenter.NodeClassSettings{
		NodeClass:      nc,
		Subnets:        karpenter.Selection{TagValue: cfg.ClusterName},
		SecurityGroups: karpenter.Selection{TagValue: cfg.ClusterName},
		Tags:           cfg.Tags,
	}
	if cfg.Discovery.Mode == config.DiscoveryIDs {
		s.Subnets.IDs, s.SecurityGroups.IDs = subnets, securityGroups
	}
	return s
}
