// Package stack is the whole program, step by step: read the configuration,
// learn the cluster, then declare identities, tags, node access, Karpenter,
// the GPU pools and the device plugin, and export what other stacks need.
package stack

import (
	"fmt"
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"karpenter-gpu/ami"
	"karpenter-gpu/cluster"
	"karpenter-gpu/config"
	"karpenter-gpu/gpu"
	"karpenter-gpu/iam"
	"karpenter-gpu/internal/crdschema"
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
	// Everything that can still fail on bad input happens before the first resource.
	if err := checkKarpenterObjects(cfg); err != nil {
		return nil, err
	}
	facts, err := learnCluster(ctx, cfg)
	if err != nil {
		return nil, err
	}
	accessMode, err := cluster.ResolveNodeAccess(cfg.NodeAccess, facts.AuthenticationMode)
	if err != nil {
		return nil, err
	}
	subnets, err := discoverySubnets(ctx, cfg, facts)
	if err != nil {
		return nil, err
	}

	// AWS: identities, interruption queue, discovery tags.
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
	controllerRole, err := iam.NewControllerRole(ctx, "karpenter-controller", &iam.ControllerRoleArgs{
		Identity: cfg.Karpenter.Identity,
		Scope: iam.ControllerScope{
			Partition: facts.Partition, Region: facts.Region, AccountID: facts.AccountID,
			ClusterName: facts.Name, ClusterARN: facts.ARN,
		},
		OIDCIssuerURL:   facts.OIDCIssuerURL,
		OIDCProviderARN: facts.OIDCProviderARN,
		Namespace:       cfg.Karpenter.Namespace,
		NodeRoleARN:     nodeRole.ARN,
		QueueARN:        queue.ARN,
		Tags:            cfg.Tags,
		After:           facts.Ready(),
	})
	if err != nil {
		return nil, err
	}
	discovery, err := network.NewDiscoveryTags(ctx, "karpenter-discovery", &network.DiscoveryTagsArgs{
		ClusterName:    facts.Name,
		Subnets:        network.IDs(subnets),
		SecurityGroups: discoverySecurityGroups(cfg, facts),
	})
	if err != nil {
		return nil, err
	}

	// Kubernetes: node access, Karpenter, its node class.
	k8s, err := cluster.NewKubernetesProvider(ctx, "cluster", facts)
	if err != nil {
		return nil, err
	}
	nodeAccess, err := cluster.NewNodeAccess(ctx, "karpenter-node-access", &cluster.NodeAccessArgs{
		Mode: accessMode, ClusterName: facts.Name, NodeRoleARN: nodeRole.ARN, Tags: cfg.Tags, Kubernetes: k8s,
		After: facts.Ready(),
	})
	if err != nil {
		return nil, err
	}
	controller, err := karpenter.NewController(ctx, "karpenter", &karpenter.ControllerArgs{
		Settings: karpenter.ControllerSettings{
			ClusterName: facts.Name, Karpenter: cfg.Karpenter, FeatureGates: featureGates(cfg),
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
	nodePrerequisites := slices.Concat(
		[]pulumi.Resource{controller.CRDs, controller.Release, nodeAccess.Grant},
		discovery.Tags,
		nodeRole.Attachments,
	)
	nodeClasses := map[string]pulumi.Resource{}
	for _, nc := range cfg.NodeClasses {
		nodeClasses[nc.Name], err = karpenter.NewNodeClass(ctx, nc.Name, &karpenter.NodeClassArgs{
			Settings: karpenter.NodeClassSettings{NodeClass: nc, DiscoveryValue: discovery.Value, Tags: cfg.Tags},
			Role:     nodeRole.Name,
		}, pulumi.Provider(k8s), pulumi.DependsOn(nodePrerequisites))
		if err != nil {
			return nil, err
		}
	}

	// GPUs: pools, device plugin, optional smoke test.
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
	if cfg.SmokeTest {
		if _, err := gpu.NewSmokeTest(ctx, "gpu-smoke-test", &gpu.SmokeTestArgs{
			Namespace: "default", Pool: cfg.GPUPools[0],
		}, pulumi.Provider(k8s), pulumi.DependsOn(append(pools, devicePlugin.Release))); err != nil {
			return nil, err
		}
	}

	return stackOutputs(cfg, facts, outputs{
		nodeRole: nodeRole, controllerRole: controllerRole, queue: queue, discovery: discovery,
	}), nil
}

// featureGates are the Karpenter feature gates the configuration needs:
// NodeOverlay tells Karpenter what a time-sliced node will advertise.
func featureGates(cfg *config.Stack) map[string]bool {
	for _, pool := range cfg.GPUPools {
		if pool.Sharing.Replicas > 1 {
			return map[string]bool{karpenter.FeatureGateNodeOverlay: true}
		}
	}
	return nil
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

// checkKarpenterObjects validates the EC2NodeClasses, NodePools and
// NodeOverlays against the CRD schemas of the pinned Karpenter release
// before anything exists: the API server would otherwise reject them only
// after the AWS side is built. The node role's name is not known yet; a
// placeholder of its form stands in.
func checkKarpenterObjects(cfg *config.Stack) error {
	schema, err := crdschema.Karpenter()
	if err != nil {
		return err
	}
	var objects []map[string]any
	for _, nc := range cfg.NodeClasses {
		objects = append(objects, karpenter.NodeClassObject(karpenter.NodeClassSettings{
			NodeClass: nc, DiscoveryValue: cfg.ClusterName, RoleName: "karpenter-node-0000000", Tags: cfg.Tags,
		}))
	}
	for _, pool := range cfg.GPUPools {
		objects = append(objects, gpu.NodePoolObject(pool))
		objects = append(objects, gpu.SharingOverlayObjects(pool)...)
	}
	for _, obj := range objects {
		if err := schema.Validate(obj); err != nil {
			return fmt.Errorf("this configuration would be rejected by Karpenter %s: %w", versions.Karpenter, err)
		}
	}
	return nil
}

// learnCluster looks up the existing cluster, or creates one in greenfield
// mode, after checking that Karpenter and every node class's AMI serve the
// cluster's Kubernetes version: an existing cluster's version is known
// without creating anything, a created one's is configured.
func learnCluster(ctx *pulumi.Context, cfg *config.Stack) (*cluster.Facts, error) {
	version := cfg.Cluster.Version
	var facts *cluster.Facts
	if !cfg.Cluster.Create {
		var err error
		if facts, err = cluster.Lookup(ctx, cfg.ClusterName); err != nil {
			return nil, err
		}
		version = facts.KubernetesVersion
	}
	if err := cluster.CheckKarpenterSupports(cfg.ClusterName, version); err != nil {
		return nil, err
	}
	if err := ami.Verify(ctx, version, amiChecks(cfg)); err != nil {
		return nil, fmt.Errorf("cluster %s runs Kubernetes %s:\n%w", cfg.ClusterName, version, err)
	}
	if cfg.Cluster.Create {
		return cluster.Create(ctx, cfg.ClusterName, cfg)
	}
	return facts, nil
}

// amiChecks are the node classes with the architectures of their pools.
func amiChecks(cfg *config.Stack) []ami.Class {
	var out []ami.Class
	for _, nc := range cfg.NodeClasses {
		var archs []string
		for _, pool := range cfg.GPUPools {
			if pool.NodeClass == nc.Name {
				archs = append(archs, pool.Architectures...)
			}
		}
		if len(archs) == 0 {
			archs = []string{"amd64"}
		}
		out = append(out, ami.Class{
			Key:           fmt.Sprintf("%s:nodeClasses[%s].ami", config.Namespace, nc.Name),
			Alias:         nc.AMI,
			Architectures: slices.Compact(slices.Sorted(slices.Values(archs))),
		})
	}
	return out
}

// discoverySubnets are the subnets to tag: configured, the created cluster's
// (all private), or the private ones of an existing cluster.
func discoverySubnets(ctx *pulumi.Context, cfg *config.Stack, facts *cluster.Facts) ([]string, error) {
	switch {
	case len(cfg.Discovery.SubnetIDs) > 0:
		return cfg.Discovery.SubnetIDs, nil
	case cfg.Cluster.Create:
		return facts.SubnetIDs, nil
	}
	return cluster.PrivateSubnets(ctx, facts.SubnetIDs)
}

func discoverySecurityGroups(cfg *config.Stack, facts *cluster.Facts) map[string]pulumi.StringInput {
	if len(cfg.Discovery.SecurityGroupIDs) > 0 {
		return network.IDs(cfg.Discovery.SecurityGroupIDs)
	}
	return facts.SecurityGroups
}

type outputs struct {
	nodeRole       *iam.NodeRole
	controllerRole *iam.ControllerRole
	queue          *karpenter.InterruptionQueue
	discovery      *network.DiscoveryTags
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
		"discoveryTag":          pulumi.StringMap{wellknown.DiscoveryTagKey: pulumi.String(o.discovery.Value)},
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
