// The stack outputs: the contract other stacks read through a
// StackReference (see docs/outputs.md). Keys are only added.

package stack

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"karpenter-gpu/ami"
	"karpenter-gpu/catalog"
	"karpenter-gpu/cluster"
	"karpenter-gpu/config"
	"karpenter-gpu/gpu"
	"karpenter-gpu/versions"
	"karpenter-gpu/wellknown"
)

// stackOutputs are what other stacks read through a StackReference: the
// contract docs/outputs.md documents. Keys are only added; in
// pools-only mode the controller's keys are empty strings.
func stackOutputs(cfg *config.Stack, facts *cluster.Facts, pre *preflight, role *nodeRole, controller *installedKarpenter) pulumi.Map {
	pools := map[string]any{}
	for _, pool := range cfg.GPUPools {
		class, _ := cfg.NodeClass(pool.NodeClass)
		pools[pool.Name] = GPUPoolOutput(pool, class, pre.instanceTypes[pool.Name], class.EFA.NetworkCards, pre.prices)
	}
	nodeClasses := map[string]any{}
	for _, nc := range cfg.NodeClasses {
		nodeClasses[nc.Name] = map[string]any{"ami": nc.AMI, "amiFamily": nc.Family()}
	}
	none := pulumi.String("").ToStringOutput()
	controllerRole, queueName, queueARN, queueURL := none, none, none, none
	karpenterVersion, karpenterNamespace := versions.Karpenter, cfg.Karpenter.Namespace
	if controller != nil {
		controllerRole = controller.controllerRole.ARN
		queueName, queueARN, queueURL = controller.queue.Name, controller.queue.ARN, controller.queue.URL
	} else if c := pre.karpenter.Controllers; len(c) > 0 {
		karpenterVersion, karpenterNamespace = c[0].Version, c[0].Namespace
	}
	return pulumi.Map{
		"clusterName":                 pulumi.String(facts.Name),
		"region":                      pulumi.String(facts.Region),
		"clusterEndpoint":             facts.Endpoint,
		"clusterCertificateAuthority": facts.CertificateAuthority,
		"oidcProviderArn":             facts.OIDCProviderARN,
		"nodeRoleName":                role.name,
		"nodeRoleArn":                 role.arn,
		"controllerRoleArn":           controllerRole,
		"interruptionQueueName":       queueName,
		"interruptionQueueArn":        queueARN,
		"interruptionQueueUrl":        queueURL,
		"discoveryTag":                pulumi.StringMap{wellknown.DiscoveryTagKey: pulumi.String(facts.Name)},
		"karpenterNamespace":          pulumi.String(karpenterNamespace),
		"karpenterVersion":            pulumi.String(karpenterVersion),
		"gpuResourceName":             pulumi.String(wellknown.GPUResource),
		"devicePluginNamespace":       pulumi.String(cfg.DevicePlugin.Namespace),
		"nodeClasses":                 pulumi.ToMap(nodeClasses),
		"gpuPools":                    pulumi.ToMap(pools),
	}
}

// GPUPoolOutput is one pool's entry of the gpuPools output: everything a
// pod needs to land on the pool's nodes (and the EFA devices its nodes
// advertise, efaDevices of them, one per network card, for a class with
// EFA), what the pool may launch, and what that can cost at most at
// prices.
func GPUPoolOutput(pool config.GPUPool, class config.NodeClass, types []catalog.InstanceType, efaDevices int, prices catalog.Prices) map[string]any {
	// Job authors choose CUDA images by it.
	nvidiaDriver := "not known here for " + class.AMI + ": see the AMI's release notes"
	if d, ok := ami.DriverOf(class.AMI); ok {
		nvidiaDriver = d.String()
	}
	tolerations := []any{}
	for _, t := range gpu.Tolerations(pool) {
		tolerations = append(tolerations, t)
	}
	selector := map[string]any{}
	for k, v := range gpu.NodeSelector(pool) {
		selector[k] = v
	}
	names := make([]any, len(types))
	byType := map[string]any{}
	for i, t := range types {
		names[i] = t.Name
		if usd, priced := prices.USD[t.Name]; priced {
			byType[t.Name] = usd
		}
	}
	draining, why := gpu.DrainingGPUs(pool)
	ceiling := map[string]any{"region": prices.Region, "priceSource": prices.Source, "usdPerHourByType": byType,
		"basis": CostBasis(pool, why), "drainingGPUs": draining}
	if usd, setBy, ok := catalog.CostCeiling(types, pool.MaxGPUs, prices); ok {
		withDrains, _, _ := catalog.CostCeiling(types, pool.MaxGPUs+draining, prices)
		ceiling["usdPerHour"], ceiling["usdPerHourWithDrains"], ceiling["setBy"] = math.Round(usd*100)/100, math.Round(withDrains*100)/100, setBy
	}
	return map[string]any{
		"instanceTypes":     names,
		"hourlyCostCeiling": ceiling,
		"nodeSelector":      selector,
		"tolerations":       tolerations,
		"gpuResourceName":   wellknown.GPUResource,
		"gpusPerNode":       map[string]any{"min": pool.GPUCount.Min, "max": pool.GPUCount.Max},
		"capacityTypes":     pool.CapacityTypes,
		"architectures":     pool.Architectures,
		"maxGPUs":           pool.MaxGPUs,
		"sharingReplicas":   pool.Sharing.Replicas,
		"nodeClass":         pool.NodeClass,
		"efaResourceName":   wellknown.EFAResource,
		"efaDevicesPerNode": efaDevices,
		"jobProtection":     jobProtectionOutput(pool.JobProtection),
		"servingProtection": servingProtection,
		"nvidiaDriver":      nvidiaDriver,
	}
}

// CostBasis says what a pool's cost ceiling bounds, the same words in the
// output, plan.md and docs/outputs.md: maxGPUs bounds the nodes Karpenter is
// not deleting; nodes that drain bill on top, up to drainingGPUs, why.
func CostBasis(pool config.GPUPool, why string) string {
	if slices.Equal(pool.CapacityTypes, []string{wellknown.CapacityTypeReserved}) {
		return "reserved capacity only: the pool pays for the reservations it launches into, whether its nodes use them or not (an On-Demand Capacity Reservation at the on-demand price of its instances, a Capacity Block its upfront price), not this figure, which is maxGPUs at on-demand list prices"
	}
	if pool.StrictMaxGPUs {
		return "usdPerHour: on-demand list price per GPU of the most expensive matching type × maxGPUs, draining nodes included (strictMaxGPUs: the NodePool's limit keeps room for the nodes the budgets let drain at once); an interruption or EC2 status failure may add its node briefly"
	}
	grace := cmp.Or(pool.TerminationGracePeriod, "unbounded")
	return fmt.Sprintf("usdPerHour: on-demand list price per GPU of the most expensive matching type × maxGPUs, which bounds the nodes Karpenter is not deleting; "+
		"nodes that drain (expired, drifted, repaired, interrupted) no longer count against maxGPUs and bill on top for up to terminationGracePeriod %s each: "+
		"usdPerHourWithDrains adds drainingGPUs, as %s", grace, why)
}

// servingProtection tells serving workloads what keeps them up through a
// disruption: replicas on two nodes and a PodDisruptionBudget, which
// Karpenter's drains honour (karpenter.sh/do-not-disrupt is for jobs that
// run to completion: no replacement is launched for such a pod, and a
// drain that outlasts the grace period force-deletes it).
var servingProtection = map[string]any{
	"minReplicas":         2,
	"podDisruptionBudget": map[string]any{"maxUnavailable": 1},
}

// jobProtectionOutput tells job authors what their pods must carry for the
// pool's promise to hold: the annotation, and at most the grace period the
// pool's drain waits for. longestJob is empty for a pool that promises
// nothing beyond what the annotation does against consolidation.
func jobProtectionOutput(jp config.JobProtection) map[string]any {
	out := map[string]any{
		"podAnnotations":                      map[string]any{wellknown.DoNotDisruptAnnotation: "true"},
		"longestJob":                          jp.LongestJob,
		"maxPodTerminationGracePeriodSeconds": 0,
	}
	if grace, err := time.ParseDuration(jp.PodGracePeriod); err == nil && jp.Enabled() {
		out["maxPodTerminationGracePeriodSeconds"] = int(grace.Seconds())
	}
	return out
}
