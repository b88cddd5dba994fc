// Package stack is the whole program, step by step: read the configuration,
// learn the cluster, then declare identities, tags, node access, Karpenter,
// the GPU pools and the device plugin, and export what other stacks need.
package stack

import (
	"fmt"
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

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
func Run(ctx *pulumi.Context) error {
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
			ClusterName: facts.Name, Karpenter: cfg.Karpenter,
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
	nodeClass, err := karpenter.NewNodeClass(ctx, cfg.NodeClass.Name, &karpenter.NodeClassArgs{
		Settings: karpenter.NodeClassSettings{NodeClass: cfg.NodeClass, DiscoveryValue: discovery.Value, Tags: cfg.Tags},
		Role:     nodeRole.Name,
	}, pulumi.Provider(k8s), pulumi.DependsOn(nodePrerequisites))
	if err != nil {
		return nil, err
	}

	// GPUs: pools, device plugin, optional smoke test.
	pools := make([]pulumi.Resource, 0, len(cfg.GPUPools))
	poolNames := make([]string, 0, len(cfg.GPUPools))
	for _, pool := range cfg.GPUPools {
		np, err := gpu.NewGPUNodePool(ctx, "gpu-pool-"+pool.Name, &gpu.NodePoolArgs{
			Pool: pool, NodeClassName: cfg.NodeClass.Name,
		}, pulumi.Provider(k8s), pulumi.DependsOn([]pulumi.Resource{nodeClass, controller.CRDs, controller.Release}))
		if err != nil {
			return nil, err
		}
		pools = append(pools, np)
		poolNames = append(poolNames, pool.Name)
	}
	var skipNodeClasses []string
	if cfg.NodeClass.Family() == "bottlerocket" {
		skipNodeClasses = []string{cfg.NodeClass.Name}
	}
	devicePlugin, err := gpu.NewDevicePlugin(ctx, "nvidia-device-plugin", &gpu.DevicePluginArgs{
		Version:   cfg.DevicePlugin.Version,
		Namespace: cfg.DevicePlugin.Namespace,
		Settings:  gpu.DevicePluginSettings{SkipNodeClasses: skipNodeClasses, SharingReplicas: cfg.GPUSharing.Replicas},
	}, pulumi.Providers(k8s))
	if err != nil {
		return nil, err
	}
	if cfg.SmokeTest {
		if _, err := gpu.NewSmokeTest(ctx, "gpu-smoke-test", &gpu.SmokeTestArgs{
			Namespace: "default", Pool: cfg.GPUPools[0].Name,
		}, pulumi.Provider(k8s), pulumi.DependsOn(append(pools, devicePlugin.Release))); err != nil {
			return nil, err
		}
	}

	return stackOutputs(cfg, facts, outputs{
		nodeRole: nodeRole, controllerRole: controllerRole, queue: queue, discovery: discovery, poolNames: poolNames,
	}), nil
}

// checkKarpenterObjects validates the EC2NodeClass and NodePools against
// the CRD schemas of the pinned Karpenter release before anything exists:
// the API server would otherwise reject them only after the AWS side is built.
// The node role's name is not known yet; a placeholder of its form stands in.
func checkKarpenterObjects(cfg *config.Stack) error {
	schema, err := crdschema.Karpenter()
	if err != nil {
		return err
	}
	objects := []map[string]any{karpenter.NodeClassObject(karpenter.NodeClassSettings{
		NodeClass: cfg.NodeClass, DiscoveryValue: cfg.ClusterName, RoleName: "karpenter-node-0000000", Tags: cfg.Tags,
	})}
	for _, pool := range cfg.GPUPools {
		objects = append(objects, gpu.NodePoolObject(pool, cfg.NodeClass.Name))
	}
	for _, obj := range objects {
		if err := schema.Validate(obj); err != nil {
			return fmt.Errorf("this configuration would be rejected by Karpenter %s: %w", versions.Karpenter, err)
		}
	}
	return nil
}

func learnCluster(ctx *pulumi.Context, cfg *config.Stack) (*cluster.Facts, error) {
	if cfg.Cluster.Create {
		return cluster.Create(ctx, cfg.ClusterName, cfg)
	}
	return cluster.Lookup(ctx, cfg.ClusterName)
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
	poolNames      []string
}

// stackOutputs are what other stacks read through a StackReference.
func stackOutputs(cfg *config.Stack, facts *cluster.Facts, o outputs) pulumi.Map {
	poolSelectors := pulumi.Map{}
	for _, name := range o.poolNames {
		poolSelectors[name] = pulumi.StringMap{wellknown.GPUPoolLabel: pulumi.String(name)}
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
		"karpenterVersion":      pulumi.String(cfg.Karpenter.Version),
		"nodeClassName":         pulumi.String(cfg.NodeClass.Name),
		"gpuPoolNames":          pulumi.ToStringArray(o.poolNames),
		"gpuResourceName":       pulumi.String(wellknown.GPUResource),
		"gpuTaint": pulumi.StringMap{
			"key": pulumi.String(wellknown.GPUTaintKey), "effect": pulumi.String(wellknown.GPUTaintEffect),
		},
		"gpuNodeSelector":       pulumi.StringMap{wellknown.GPUPresentLabel: pulumi.String("true")},
		"gpuPoolNodeSelectors":  poolSelectors,
		"devicePluginNamespace": pulumi.String(cfg.DevicePlugin.Namespace),
	}
}
