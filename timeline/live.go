package timeline

import (
	"context"
	"encoding/json"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// Resources read from a live cluster.
var liveResources = []schema.GroupVersionResource{
	{Version: "v1", Resource: "pods"},
	{Version: "v1", Resource: "nodes"},
	{Group: "karpenter.sh", Version: "v1", Resource: "nodeclaims"},
	{Version: "v1", Resource: "events"},
}

// Read lists pods, nodes, NodeClaims and events of every namespace.
func Read(ctx context.Context, client dynamic.Interface) (Objects, error) {
	var o Objects
	for _, gvr := range liveResources {
		list, err := client.Resource(gvr).List(ctx, metav1.ListOptions{})
		if err != nil {
			return o, fmt.Errorf("listing %s: %w", gvr.Resource, err)
		}
		raw, err := json.Marshal(list)
		if err != nil {
			return o, err
		}
		if err := o.Add(raw); err != nil {
			return o, err
		}
	}
	return o, nil
}
