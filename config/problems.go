// Problems: every mistake of one run, each naming its key, its value and
// what is allowed, reported together.

package config

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/agext/levenshtein"
)

// Problem is one invalid configuration value.
type Problem struct {
	// Namespace is the key's, when not the stack's own.
	Namespace string
	Key       string // path below the namespace, e.g. "karpenter.identity"
	Value     any    // the offending value; nil when the key is missing
	Want      string // what is allowed
}

func (p Problem) Error() string {
	namespace := cmp.Or(p.Namespace, Namespace)
	if p.Value == nil {
		return fmt.Sprintf("%s:%s is missing: %s", namespace, p.Key, p.Want)
	}
	return fmt.Sprintf("%s:%s: %s: %s", namespace, p.Key, show(p.Value), p.Want)
}

func show(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case json.Number:
		return v.String()
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Sprint(v)
		}
		return string(b)
	}
}

type problems struct {
	list []Problem
	// broken are keys whose value could not be decoded; what validation
	// then finds at, above or below them follows from that, and is not
	// reported again.
	broken []string
	// set are the keys the configuration sets, as paths below the
	// namespace ("karpenter.replicas", "gpuPools[a].maxGPUs").
	set map[string]bool
}

func (p *problems) add(key string, value any, want string) {
	for _, b := range p.broken {
		if related(key, b) {
			return
		}
	}
	p.list = append(p.list, Problem{Key: key, Value: value, Want: want})
}

func (p *problems) addBroken(key string, value any, want string) {
	p.add(key, value, want)
	p.broken = append(p.broken, key)
}

// related: one key is the other or lies below it.
func related(a, b string) bool {
	below := func(x, y string) bool {
		return x == y || strings.HasPrefix(x, y+".") || strings.HasPrefix(x, y+"[")
	}
	return below(a, b) || below(b, a)
}

func (p *problems) empty() bool { return len(p.list) == 0 }

// err lists the problems; of the pools, it keeps those no problem is
// about, for the checks that can still judge them.
func (p *problems) err(pools []GPUPool) error {
	errs := make([]error, len(p.list))
	for i, pr := range p.list {
		errs[i] = pr
	}
	e := &Error{Problems: p.list, err: errors.Join(errs...)}
	for i, pool := range pools {
		keys := []string{fmt.Sprintf("gpuPools[%d]", i), fmt.Sprintf("gpuPools[%s]", pool.Name)}
		if !slices.ContainsFunc(p.list, func(pr Problem) bool { return related(pr.Key, keys[0]) || related(pr.Key, keys[1]) }) {
			e.ValidPools = append(e.ValidPools, pool)
		}
	}
	return e
}

// Error lists every problem found in a stack configuration.
type Error struct {
	Problems []Problem
	// ValidPools are the pools that are valid on their own.
	ValidPools []GPUPool
	err        error
}

// Error counts the problems in its first line: the Pulumi SDK heads a
// program's error with "1 error occurred", which counts the error, not
// the problems.
func (e *Error) Error() string {
	count := "1 problem"
	if len(e.Problems) != 1 {
		count = fmt.Sprintf("%d problems", len(e.Problems))
	}
	return "invalid stack configuration, " + count + ":\n" + e.err.Error()
}

// suggest is "; did you mean X?" for the candidate closest to word (case
// aside, at most two edits away), empty when none is. Of candidates as
// close, one that extends what was typed wins (L40: l40s, not l4), and of
// those one extended by a letter rather than a digit, which would name
// another model (a10: a10g, not a100).
func suggest(word string, candidates []string) string {
	typed := strings.ToLower(word)
	rank := func(c string) (int, int) {
		c = strings.ToLower(c)
		d := levenshtein.Distance(typed, c, nil)
		rest, extends := strings.CutPrefix(c, typed)
		switch {
		case !extends || rest == "":
			return d, 2
		case rest[0] >= '0' && rest[0] <= '9':
			return d, 1
		default:
			return d, 0
		}
	}
	best, bestDistance, bestTie := "", 3, 3
	for _, c := range slices.Sorted(slices.Values(candidates)) {
		d, tie := rank(c)
		if d >= len(word) {
			continue
		}
		if d < bestDistance || d == bestDistance && tie < bestTie {
			best, bestDistance, bestTie = c, d, tie
		}
	}
	if best == "" || best == word {
		return ""
	}
	return "; did you mean " + best + "?"
}
