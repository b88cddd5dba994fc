// Package stack is the whole program, step by step: read the configuration,
// learn the cluster, then declare identities, tags, node access, Karpenter,
// the GPU pools and the device plugin, and export what other stacks need.
package stack

import (
	"fmt"
	"maps"
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"karpenter-gpu/ami"
	"karpenter-gpu/cluster"
	"karpenter-gpu/config"
	"karpenter-gpu/gpu"
	"karpenter-gpu/iam"
	"karpenter-gpu/karpenter"
	"karpenter-gpu/network"
	"karpenter-gpu/versions"
	"karpenter-gpu/wellknown"
)

// Run is the Pulumi program.
func Run(ctx *pulumi.Context) error { return run(ctx, nil) }

// RunObserved is Run that also hands the stack outputs, once resolved, to
// observe: the offline render writes them, tests read the contract.
func RunObserved(observe func(outputs map[string]any)) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error { return run(ctx, observe) }
}

func run(ctx *pulumi.Context, observe func(map[string]any)) error {
	cfg, err := config.Load(ctx)
	if err != nil {
		return err
	}
	outputs, err := Deploy(ctx, cfg)
	if err != nil {
		return err
	}
	for name, value := range outputs {
		ctx.Export(name, value)
	}
	if observe != nil {
		outputs.ToMapOutput().ApplyT(func(m map[string]any) error {
			observe(m)
			return nil
		})
	}
	return nil
}

// Deploy declares every resource of the stack from a validated
// configuration and returns the stack outputs.
func Deploy(ctx *pulumi.Context, cfg *config.Stack) (pulumi.Map, error) {
	pre, err := runPreflight(ctx, cfg)
	if err != nil {
		return nil, err
	}
	facts := pre.facts
	if cfg.Cluster.Create {
		if facts, err = cluster.Create(ctx, cfg.ClusterName, cfg); err != nil {
			return nil, err
		}
	}
	clusterReady := facts.Ready()

	// AWS: identities, interruption queue, discovery tags, add-ons.
	if cfg.Karpenter.CreateOIDCProvider {
		provider, err := iam.NewOIDCProvider(ctx, "cluster-oidc", &iam.OIDCProviderArgs{
			IssuerURL: facts.OIDCIssuerURL, Tags: cfg.Tags,
		})
		if err != nil {
			return nil, err
		}
		facts.OIDCProviderARN = provider.Arn
	}
	nodeRole, err := iam.NewNodeRole(ctx, "karpenter-node", &iam.NodeRoleArgs{
		Partition:           facts.Partition,
		DNSSuffix:           facts.DNSSuffix,
		ExtraPolicyARNs:     cfg.NodeRole.ExtraPolicyARNs,
		PermissionsBoundary: cfg.NodeRole.PermissionsBoundary,
		Tags:                cfg.Tags,
	})
	if err != nil {
		return nil, err
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
	gates := featureGates(cfg)
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
		NodeRoleARN:     nodeRole.ARN,
		QueueARN:        queue.ARN,
		Tags:            cfg.Tags,
		After:           clusterReady,
	})
	if err != nil {
		return nil, err
	}
	var nodePrerequisites []pulumi.Resource
	if cfg.Discovery.Mode == config.DiscoveryTags {
		groups := network.IDs(pre.taggedSecurityGroups)
		if cfg.Cluster.Create && len(cfg.Discovery.SecurityGroupIDs) == 0 {
			maps.Copy(groups, facts.SecurityGroups) // the created cluster's: ours by construction
		}
		discovery, err := network.NewDiscoveryTags(ctx, "karpenter-discovery", &network.DiscoveryTagsArgs{
			ClusterName:    facts.Name,
			Owner:          fmt.Sprintf("%s/%s", ctx.Project(), ctx.Stack()),
			Subnets:        network.IDs(pre.taggedSubnets),
			SecurityGroups: groups,
		})
		if err != nil {
			return nil, err
		}
		nodePrerequisites = append(nodePrerequisites, discovery.Tags...)
	}
	var efaGroup pulumi.StringInput
	if slices.ContainsFunc(cfg.NodeClasses, func(nc config.NodeClass) bool { return nc.EFA.Enabled() }) {
		sg, err := network.NewEFASecurityGroup(ctx, "efa", &network.EFASecurityGroupArgs{VpcID: facts.VpcID, ClusterName: facts.Name, Tags: cfg.Tags})
		if err != nil {
			return nil, err
		}
		efaGroup = sg.ID().ToStringOutput()
		nodePrerequisites = append(nodePrerequisites, sg)
	}
	if anyPoolAllows(cfg, "spot") {
		role, err := iam.NewSpotServiceLinkedRole(ctx, "spot", &iam.SpotServiceLinkedRoleArgs{
			Partition: facts.Partition, AccountID: facts.AccountID, Exists: pre.spotRoleExists,
		})
		if err != nil {
			return nil, err
		}
		nodePrerequisites = append(nodePrerequisites, role)
	}
	if gates[wellknown.FeatureGateNodeRepair] {
		if _, err := cluster.NewAddon(ctx, cluster.NodeMonitoringAgentAddon, &cluster.AddonArgs{
			ClusterName: facts.Name, Addon: cluster.NodeMonitoringAgentAddon, Tags: cfg.Tags,
		}, pulumi.DependsOn(clusterReady)); err != nil {
			return nil, err
		}
	}

	// Kubernetes: node access, Karpenter, its node classes.
	k8s, err := cluster.NewKubernetesProvider(ctx, "cluster", facts)
	if err != nil {
		return nil, err
	}
	nodeAccess, err := cluster.NewNodeAccess(ctx, "karpenter-node-access", &cluster.NodeAccessArgs{
		Mode: pre.accessMode, ClusterName: facts.Name, NodeRoleARN: nodeRole.ARN, Tags: cfg.Tags, Kubernetes: k8s,
		After: facts.Ready(),
	})
	if err != nil {
		return nil, err
	}
	controller, err := karpenter.NewController(ctx, "karpenter", &karpenter.ControllerArgs{
		Settings: karpenter.ControllerSettings{
			ClusterName: facts.Name, Karpenter: cfg.Karpenter, FeatureGates: gates, AWSFeatureGates: cfg.Karpenter.AWSFeatureGates,
		},
		Endpoint: facts.Endpoint,
		Queue:    queue.Name,
		RoleARN:  controllerRole.ARN,
		After:    controllerRole.Grants,
	}, pulumi.Providers(k8s))
	if err != nil {
		return nil, err
	}
	// Custom resources come after both releases and go before them, and
	// after everything a node needs to launch and join. Dependencies name
	// resources, not components, so that the graph is the same on every run.
	nodePrerequisites = slices.Concat(
		[]pulumi.Resource{controller.CRDs, controller.Release, nodeAccess.Grant},
		nodePrerequisites,
		nodeRole.Attachments,
	)
	nodeClasses := map[string]pulumi.Resource{}
	for _, nc := range cfg.NodeClasses {
		nodeClasses[nc.Name], err = karpenter.NewNodeClass(ctx, nc.Name, &karpenter.NodeClassArgs{
			Settings:           nodeClassSettings(cfg, nc, pre.subnets, pre.securityGroups),
			Role:               nodeRole.Name,
			EFASecurityGroupID: efaGroup,
		}, pulumi.Provider(k8s), pulumi.DependsOn(nodePrerequisites))
		if err != nil {
			return nil, err
		}
	}

	// GPUs: pools, device plugins, optional smoke test.
	var pools []pulumi.Resource
	for _, pool := range cfg.GPUPools {
		np, err := gpu.NewGPUNodePool(ctx, "gpu-pool-"+pool.Name, &gpu.NodePoolArgs{Pool: pool},
			pulumi.Provider(k8s), pulumi.DependsOn([]pulumi.Resource{nodeClasses[pool.NodeClass], controller.CRDs, controller.Release}))
		if err != nil {
			return nil, err
		}
		pools = append(pools, np.Resources()...)
	}
	devicePlugin, err := gpu.NewDevicePlugin(ctx, "nvidia-device-plugin", &gpu.DevicePluginArgs{
		Version:   cfg.DevicePlugin.Version,
		Namespace: cfg.DevicePlugin.Namespace,
		Settings:  devicePluginSettings(cfg),
	}, pulumi.Providers(k8s))
	if err != nil {
		return nil, err
	}
	if efa := efaNodeClasses(cfg); len(efa) > 0 {
		if _, err := gpu.NewEFADevicePlugin(ctx, "efa-device-plugin", &gpu.EFADevicePluginArgs{NodeClasses: efa}, pulumi.Provider(k8s)); err != nil {
			return nil, err
		}
	}
	if cfg.SmokeTest {
		if _, err := gpu.NewSmokeTest(ctx, "gpu-smoke-test", &gpu.SmokeTestArgs{
			Namespace: "default", Pool: cfg.GPUPools[0],
		}, pulumi.Provider(k8s), pulumi.DependsOn(append(pools, devicePlugin.Release))); err != nil {
			return nil, err
		}
	}

	return stackOutputs(cfg, facts, outputs{nodeRole: nodeRole, controllerRole: controllerRole, queue: queue}), nil
}

// featureGates are the Karpenter feature gates: the configured ones, and
// nodeOverlay when a pool shares its GPUs (NodeOverlays tell Karpenter what
// a time-sliced node will advertise).
func featureGates(cfg *config.Stack) map[string]bool {
	gates := maps.Clone(cfg.Karpenter.FeatureGates)
	if slices.ContainsFunc(cfg.GPUPools, func(p config.GPUPool) bool { return p.Sharing.Replicas > 1 }) {
		if gates == nil {
			gates = map[string]bool{}
		}
		gates[wellknown.FeatureGateNodeOverlay] = true
	}
	return gates
}

// devicePluginSettings keep the plugin off Bottlerocket nodes and give it a
// time-slicing configuration for every replica count a pool uses.
func devicePluginSettings(cfg *config.Stack) gpu.DevicePluginSettings {
	var s gpu.DevicePluginSettings
	for _, nc := range cfg.NodeClasses {
		if nc.Family() == ami.FamilyBottlerocket {
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

type outputs struct {
	nodeRole       *iam.NodeRole
	controllerRole *iam.ControllerRole
	queue          *karpenter.InterruptionQueue
}

// stackOutputs are what other stacks read through a StackReference: the
// contract the README's outputs section documents. Keys are only added.
func stackOutputs(cfg *config.Stack, facts *cluster.Facts, o outputs) pulumi.Map {
	pools := map[string]any{}
	for _, pool := range cfg.GPUPools {
		pools[pool.Name] = GPUPoolOutput(pool)
	}
	nodeClasses := map[string]any{}
	for _, nc := range cfg.NodeClasses {
		nodeClasses[nc.Name] = map[string]any{"ami": nc.AMI, "amiFamily": nc.Family()}
	}
	return pulumi.Map{
		"clusterName":           pulumi.String(facts.Name),
		"clusterEndpoint":       facts.Endpoint,
		"oidcProviderArn":       facts.OIDCProviderARN,
		"nodeRoleName":          o.nodeRole.Name,
		"nodeRoleArn":           o.nodeRole.ARN,
		"controllerRoleArn":     o.controllerRole.ARN,
		"interruptionQueueName": o.queue.Name,
		"interruptionQueueArn":  o.queue.ARN,
		"interruptionQueueUrl":  o.queue.URL,
		"discoveryTag":          pulumi.StringMap{wellknown.DiscoveryTagKey: pulumi.String(facts.Name)},
		"karpenterNamespace":    pulumi.String(cfg.Karpenter.Namespace),
		"karpenterVersion":      pulumi.String(versions.Karpenter),
		"gpuResourceName":       pulumi.String(wellknown.GPUResource),
		"devicePluginNamespace": pulumi.String(cfg.DevicePlugin.Namespace),
		"nodeClasses":           pulumi.ToMap(nodeClasses),
		"gpuPools":              pulumi.ToMap(pools),
	}
}

// GPUPoolOutput is one pool's entry of the gpuPools output: everything a
// pod needs to land on the pool's nodes, and what the pool may launch.
func GPUPoolOutput(pool config.GPUPool) map[string]any {
	tolerations := []any{}
	for _, t := range gpu.Tolerations(pool) {
		tolerations = append(tolerations, t)
	}
	selector := map[string]any{}
	for k, v := range gpu.NodeSelector(pool) {
		selector[k] = v
	}
	return map[string]any{
		"nodeSelector":    selector,
		"tolerations":     tolerations,
		"gpuResourceName": wellknown.GPUResource,
		"gpusPerNode":     map[string]any{"min": pool.GPUCount.Min, "max": pool.GPUCount.Max},
		"capacityTypes":   pool.CapacityTypes,
		"architectures":   pool.Architectures,
		"maxGPUs":         pool.MaxGPUs,
		"sharingReplicas": pool.Sharing.Replicas,
		"nodeClass":       pool.NodeClass,
	}
}
