// Package iamsim judges the AWS calls a controller made against the IAM
// policies its role has, the way IAM evaluates identity policies: a call
// is allowed when, for every resource it acts on, an Allow statement
// matches the action, the resource ARN and every condition. It knows the
// condition operators the Karpenter controller's policies use and refuses
// any other, so that a policy it cannot judge fails loudly.
package iamsim

import (
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
)

// Policy is one IAM policy document with a name for messages.
type Policy struct {
	Name       string
	Statements []Statement
}

// Statement is one statement of a policy.
type Statement struct {
	Sid       string
	Effect    string
	Actions   []string
	Resources []string
	// Conditions: operator, then condition key, then values.
	Conditions map[string]map[string][]string
}

// Parse reads a policy document.
func Parse(name, document string) (Policy, error) {
	var raw struct {
		Statement []struct {
			Sid       string                    `json:"Sid"`
			Effect    string                    `json:"Effect"`
			Action    stringList                `json:"Action"`
			Resource  stringList                `json:"Resource"`
			Condition map[string]map[string]any `json:"Condition"`
		} `json:"Statement"`
	}
	if err := json.Unmarshal([]byte(document), &raw); err != nil {
		return Policy{}, fmt.Errorf("policy %s: %w", name, err)
	}
	p := Policy{Name: name}
	for _, s := range raw.Statement {
		st := Statement{Sid: s.Sid, Effect: s.Effect, Actions: s.Action, Resources: s.Resource, Conditions: map[string]map[string][]string{}}
		for op, keys := range s.Condition {
			if _, known := operators[op]; !known {
				return Policy{}, fmt.Errorf("policy %s statement %s: condition operator %s is not judged here", name, s.Sid, op)
			}
			st.Conditions[op] = map[string][]string{}
			for k, v := range keys {
				var values stringList
				raw, _ := json.Marshal(v)
				if err := json.Unmarshal(raw, &values); err != nil {
					return Policy{}, fmt.Errorf("policy %s statement %s: %s %s: %w", name, s.Sid, op, k, err)
				}
				st.Conditions[op][k] = values
			}
		}
		p.Statements = append(p.Statements, st)
	}
	return p, nil
}

// stringList is an IAM element that is a string or a list of strings.
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*l = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*l = many
	return nil
}

// Request is one action on one resource, with the condition keys the
// request carries (a key that is absent is not in the map).
type Request struct {
	Action   string
	Resource string
	Context  map[string][]string
}

func (r Request) String() string {
	keys := make([]string, 0, len(r.Context))
	for k := range r.Context {
		keys = append(keys, k+"="+strings.Join(r.Context[k], "|"))
	}
	sort.Strings(keys)
	return fmt.Sprintf("%s on %s [%s]", r.Action, r.Resource, strings.Join(keys, " "))
}

// Verdict is what IAM decides for one request: allowed by a statement, or
// denied, with the statement that came closest and what it lacked.
type Verdict struct {
	Allowed   bool
	Statement string // policy/sid that allowed it, or came closest
	Missing   string // what the closest statement did not match
}

// Evaluate decides a request against the policies.
func Evaluate(policies []Policy, r Request) Verdict {
	best := Verdict{Missing: "no statement allows " + r.Action}
	bestScore := -1
	for _, p := range policies {
		for _, s := range p.Statements {
			name := p.Name + "/" + s.Sid
			if !matchAny(s.Actions, r.Action, true) {
				continue
			}
			resourceOK := matchAny(s.Resources, r.Resource, false)
			failed := s.failedConditions(r.Context)
			if s.Effect == "Deny" && resourceOK && len(failed) == 0 {
				return Verdict{Statement: name, Missing: "denied explicitly"}
			}
			if s.Effect != "Allow" {
				continue
			}
			if resourceOK && len(failed) == 0 {
				best = Verdict{Allowed: true, Statement: name}
				bestScore = 1 << 20
				continue
			}
			score := 100 - len(failed)
			if resourceOK {
				score += 100
			}
			if score > bestScore && !best.Allowed {
				missing := failed
				if !resourceOK {
					missing = append([]string{"resource " + r.Resource + " is not in " + strings.Join(s.Resources, ", ")}, missing...)
				}
				best, bestScore = Verdict{Statement: name, Missing: strings.Join(missing, "; ")}, score
			}
		}
	}
	return best
}

// failedConditions names the conditions the context does not meet.
func (s Statement) failedConditions(ctx map[string][]string) []string {
	var failed []string
	for _, op := range sortedKeys(s.Conditions) {
		for _, key := range sortedKeys(s.Conditions[op]) {
			want := s.Conditions[op][key]
			got, present := lookup(ctx, key)
			if !operators[op](got, present, want) {
				failed = append(failed, fmt.Sprintf("%s %s %v (request has %v)", op, key, want, describe(got, present)))
			}
		}
	}
	return failed
}

func describe(values []string, present bool) string {
	if !present {
		return "none"
	}
	return strings.Join(values, ",")
}

// lookup finds a condition key; keys are case-insensitive in IAM.
func lookup(ctx map[string][]string, key string) ([]string, bool) {
	for k, v := range ctx {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return nil, false
}

// operators are the condition operators judged here, each given the
// request's values for the key (and whether it has the key) and the
// statement's values.
var operators = map[string]func(got []string, present bool, want []string) bool{
	"StringEquals": func(got []string, present bool, want []string) bool {
		return present && anyValue(got, want, equal)
	},
	"StringLike": func(got []string, present bool, want []string) bool {
		return present && anyValue(got, want, like)
	},
	"StringEqualsIfExists": func(got []string, present bool, want []string) bool {
		return !present || anyValue(got, want, equal)
	},
	"StringLikeIfExists": func(got []string, present bool, want []string) bool {
		return !present || anyValue(got, want, like)
	},
	"ForAllValues:StringEquals": func(got []string, _ bool, want []string) bool {
		for _, g := range got {
			if !slices.Contains(want, g) {
				return false
			}
		}
		return true
	},
	"ForAnyValue:StringEquals": func(got []string, _ bool, want []string) bool {
		return anyValue(got, want, equal)
	},
}

func equal(a, b string) bool { return a == b }

// like matches IAM's * and ? wildcards.
func like(value, pattern string) bool {
	ok, err := path.Match(strings.ReplaceAll(pattern, "/", "\x00"), strings.ReplaceAll(value, "/", "\x00"))
	return err == nil && ok
}

// anyValue: a single-valued key matches when its value matches one of the
// statement's values.
func anyValue(got, want []string, match func(string, string) bool) bool {
	for _, g := range got {
		for _, w := range want {
			if match(g, w) {
				return true
			}
		}
	}
	return false
}

// matchAny matches an action (case-insensitively) or a resource ARN
// against a statement's patterns.
func matchAny(patterns []string, value string, fold bool) bool {
	for _, p := range patterns {
		if fold {
			p, value = strings.ToLower(p), strings.ToLower(value)
		}
		if p == "*" || like(value, p) {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
