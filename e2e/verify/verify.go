// Package verify holds the end-to-end run's judgements that need no
// cluster: whether the API server holds what render wrote, what a destroy
// left behind, and whether it deleted in the order that keeps Karpenter
// able to clean up.
package verify

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
)

// LeftOver are the objects in after that were not in before.
func LeftOver(before, after map[string]bool) []string {
	var out []string
	for k := range after {
		if !before[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// Contains tells whether every field of want is in got with the same value
// (got may have more: the API server's defaults), naming the first
// difference.
func Contains(got, want any, path string) error {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: want an object, API server holds %v", path, got)
		}
		for _, k := range slices.Sorted(maps.Keys(w)) {
			if err := Contains(g[k], w[k], path+"."+k); err != nil {
				return err
			}
		}
		return nil
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return fmt.Errorf("%s: want %v, API server holds %v", path, w, got)
		}
		for i := range w {
			if err := Contains(g[i], w[i], fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		return nil
	}
	// Numbers may differ in Go type between YAML and the API's JSON.
	if got == nil || fmt.Sprint(got) != fmt.Sprint(want) {
		return fmt.Errorf("%s: want %v, API server holds %v", path, want, got)
	}
	return nil
}

// DestroyOrder checks that every NodePool and EC2NodeClass was deleted before the
// deletion of the Karpenter controller release and of the node access began.
func DestroyOrder(evs []apitype.EngineEvent) error {
	deleted := map[string]int{} // URN -> event index when its deletion ended
	began := map[string]int{}   // URN -> event index when its deletion began
	types := map[string]string{}
	for i, e := range evs {
		if p := e.ResourcePreEvent; p != nil && p.Metadata.Op == apitype.OpDelete {
			began[p.Metadata.URN], types[p.Metadata.URN] = i, p.Metadata.Type
		}
		if o := e.ResOutputsEvent; o != nil && o.Metadata.Op == apitype.OpDelete {
			deleted[o.Metadata.URN] = i
		}
	}
	var karpenterObjects, after []string
	for urn, t := range types {
		switch {
		case t == "kubernetes:karpenter.sh/v1:NodePool" || t == "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass":
			karpenterObjects = append(karpenterObjects, urn)
		case t == "kubernetes:helm.sh/v3:Release" && strings.HasSuffix(urn, "::karpenter"),
			t == "aws:eks/accessEntry:AccessEntry", t == "kubernetes:core/v1:ConfigMapPatch":
			after = append(after, urn)
		}
	}
	if len(karpenterObjects) == 0 || len(after) < 2 {
		return fmt.Errorf("destroy deleted NodePools/EC2NodeClasses %v and controller/node access %v: want both", karpenterObjects, after)
	}
	for _, k := range karpenterObjects {
		end, ok := deleted[k]
		if !ok {
			return fmt.Errorf("destroy never finished deleting %s", k)
		}
		for _, a := range after {
			if began[a] < end {
				return fmt.Errorf("destroy began deleting %s before %s was gone", a, k)
			}
		}
	}
	return nil
}

// OnlyCreates checks that an update created or adopted resources and
// changed nothing: on a cluster the stack meets for the first time,
// anything else changes what the account or cluster already had (an
// import followed by an update rewrites the adopted resource).
func OnlyCreates(evs []apitype.EngineEvent) error {
	var changed []string
	for _, e := range evs {
		if p := e.ResourcePreEvent; p != nil {
			switch p.Metadata.Op {
			case apitype.OpCreate, apitype.OpImport, apitype.OpSame, apitype.OpRead:
			default:
				changed = append(changed, fmt.Sprintf("%s %s %v", p.Metadata.Op, p.Metadata.URN, p.Metadata.Diffs))
			}
		}
	}
	if len(changed) > 0 {
		return fmt.Errorf("the first up changed what it found instead of only creating or adopting it:\n  %s", strings.Join(changed, "\n  "))
	}
	return nil
}
