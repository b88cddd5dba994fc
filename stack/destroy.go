package stack

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"karpenter-gpu/cluster"
	"karpenter-gpu/config"
	"karpenter-gpu/karpenter"
)

// deletionBounds are the options of every NodePool and EC2NodeClass: their
// deletion waits while Karpenter drains and terminates their nodes, for at
// most destroyTimeout; when it fails, an error hook reports beside the
// provider's bare timeout what still holds the object (its NodeClaims and
// the pods on their nodes) and what to do. The engine keeps the provider's
// error as the step's (an error hook's own error is dropped for deletes),
// so the report is logged as an error of its own.
func deletionBounds(ctx *pulumi.Context, cfg *config.Stack, facts *cluster.Facts, connect cluster.Connect) (pulumi.ResourceOption, error) {
	kubeconfig := newKubeconfigOf(facts)
	hook, err := ctx.RegisterErrorHook("karpenter-deletion-report", func(args *pulumi.ErrorHookArgs) (bool, error) {
		if args.FailedOperation != "delete" {
			return false, nil
		}
		kind := args.Type.Name().String()
		name := args.Name
		if meta := args.OldOutputs["metadata"]; meta.IsObject() {
			if n := meta.ObjectValue()["name"]; n.IsString() {
				name = n.StringValue()
			}
		}
		// The hook runs after the program body; it gets a context of its own.
		readCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return false, ctx.Log.Error(DeletionReport(readCtx, connect, kubeconfig.get(), kind, name, cfg.DestroyTimeout, args.Errors), nil)
	})
	if err != nil {
		return nil, err
	}
	return pulumi.Composite(
		pulumi.Timeouts(&pulumi.CustomTimeouts{Delete: cfg.DestroyTimeout}),
		pulumi.ResourceHooks(&pulumi.ResourceHookBinding{OnError: []*pulumi.ErrorHook{hook}}),
	), nil
}

// DeletionReport says why a deletion of a Karpenter object failed: what
// holds it, read from the cluster, and the provider's own words (errors,
// newest first).
func DeletionReport(ctx context.Context, connect cluster.Connect, kubeconfig, kind, name, timeout string, errors []string) string {
	provider := ""
	if len(errors) > 0 {
		provider = errors[0]
	}
	client, err := connect(kubeconfig)
	if err != nil {
		return fmt.Sprintf("%s %s was not deleted within destroyTimeout %s, and the cluster could not be read to say why (%v): %s", kind, name, timeout, err, provider)
	}
	holders, err := karpenter.DeletionHolders(ctx, client, kind, name)
	switch {
	case err != nil:
		return fmt.Sprintf("%s %s was not deleted within destroyTimeout %s, and its NodeClaims could not be read (%v): %s", kind, name, timeout, err, provider)
	case len(holders) == 0:
		return fmt.Sprintf("%s %s was not deleted within destroyTimeout %s, though it has no NodeClaims left: run destroy again. The provider said: %s", kind, name, timeout, provider)
	}
	return fmt.Sprintf("%s %s was not deleted within destroyTimeout %s: Karpenter deletes it once its %d NodeClaim(s) are gone, and they wait for their nodes to drain: %s. "+
		"Run destroy again once those pods end (a drain waits at most the pool's terminationGracePeriod), delete them yourself, or raise %s:destroyTimeout. The provider said: %s",
		kind, name, timeout, len(holders), karpenter.DescribeHolders(holders), config.Namespace, strings.TrimSpace(provider))
}

// kubeconfigOf holds the cluster's kubeconfig for the hook: known before
// any resource for an existing cluster, once it resolves for a created one.
type kubeconfigOf struct {
	mu    sync.Mutex
	value string
}

func newKubeconfigOf(facts *cluster.Facts) *kubeconfigOf {
	k := &kubeconfigOf{value: facts.KubeconfigText}
	if k.value == "" {
		facts.Kubeconfig.ApplyT(func(v string) string {
			k.mu.Lock()
			defer k.mu.Unlock()
			k.value = v
			return v
		})
	}
	return k
}

func (k *kubeconfigOf) get() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.value
}
