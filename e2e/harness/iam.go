package main

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"karpenter-gpu/e2e/iamsim"
	"karpenter-gpu/e2e/verify"
)

// iamJudge judges each AWS call the controller made against the policies
// the stack attached to the controller's role, in the order they were made.
type iamJudge struct {
	mu      sync.Mutex
	byStack map[string]stackPolicies
	// stack is the stack whose calls are being replayed.
	stack    string
	replay   *iamsim.Calls
	policies []iamsim.Policy
	judged   int // calls judged so far
	// allowed counts the requests allowed, by action.
	allowed map[string]int
}

type stackPolicies struct {
	policies []iamsim.Policy
	queue    string
}

// controllerPolicies are the policy documents attached to the role the
// stack gave the Karpenter controller, from its state.
func controllerPolicies(state []stateResource) ([]iamsim.Policy, error) {
	var role string
	for _, r := range state {
		if r.Type == "aws:iam/role:Role" && strings.Contains(r.URN, "ControllerRole") {
			role, _ = r.Outputs["name"].(string)
		}
	}
	if role == "" {
		return nil, fmt.Errorf("the stack's state has no controller role")
	}
	attached := map[string]bool{}
	for _, r := range state {
		if r.Type == "aws:iam/rolePolicyAttachment:RolePolicyAttachment" && r.Outputs["role"] == role {
			arn, _ := r.Outputs["policyArn"].(string)
			attached[arn] = true
		}
	}
	var out []iamsim.Policy
	for _, r := range state {
		arn, _ := r.Outputs["arn"].(string)
		if r.Type != "aws:iam/policy:Policy" || !attached[arn] {
			continue
		}
		doc, _ := r.Outputs["policy"].(string)
		p, err := iamsim.Parse(filepath.Base(arn), doc)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no policy is attached to the controller role %s", role)
	}
	return out, nil
}

// judge decides every call made since the last judgement; the first
// denied call fails, naming the request and the closest statement.
func (j *iamJudge) judge(calls []verify.Call) error {
	for ; j.judged < len(calls); j.judged++ {
		c := calls[j.judged]
		requests, err := j.replay.Requests(c.Action, c.Input, c.Output)
		if err != nil {
			return err
		}
		for _, req := range requests {
			v := iamsim.Evaluate(j.policies, req)
			if !v.Allowed {
				return fmt.Errorf("the controller's policies deny %s (call %d, %s): closest statement %s lacks %s",
					req, j.judged+1, c.Action, v.Statement, v.Missing)
			}
			if j.allowed == nil {
				j.allowed = map[string]int{}
			}
			j.allowed[req.Action]++
		}
	}
	return nil
}

// summary lists the actions judged, with their counts.
func (j *iamJudge) summary() string {
	var parts []string
	for a, n := range j.allowed {
		parts = append(parts, fmt.Sprintf("%s %d", a, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// rememberPolicies keeps the controller policies of a stack whenever its
// state has them: a destroy removes them before the controller's last
// calls are judged.
func (r *run) rememberPolicies(stack string, state []stateResource) {
	policies, err := controllerPolicies(state)
	if err != nil {
		return
	}
	r.iam.mu.Lock()
	defer r.iam.mu.Unlock()
	if r.iam.byStack == nil {
		r.iam.byStack = map[string]stackPolicies{}
	}
	r.iam.byStack[stack] = stackPolicies{policies: policies, queue: queueName(state)}
}

// judgeCalls judges the calls since the last judgement against the
// policies of the stack under test.
func (r *run) judgeCalls() error {
	calls, err := verify.ReadCalls(r.karpenter.callsFile())
	if err != nil {
		return err
	}
	r.active.Lock()
	name, cl := r.active.stack, r.active.cluster
	r.active.Unlock()
	r.iam.mu.Lock()
	known, ok := r.iam.byStack[name]
	r.iam.mu.Unlock()
	if !ok {
		if r.iam.judged < len(calls) {
			return fmt.Errorf("stack %s: no controller policies in its state to judge %d calls against", name, len(calls)-r.iam.judged)
		}
		return nil
	}
	if r.iam.stack != name {
		r.iam.stack = name
		r.iam.replay = iamsim.NewCalls(iamsim.Account{Partition: cl.Partition, Region: cl.Region, ID: cl.AccountID, Cluster: cl.Name, Queue: known.queue})
	}
	r.iam.policies = known.policies
	return r.iam.judge(calls)
}

// skipCalls leaves the calls made so far unjudged: a controller whose
// role the stack does not manage made them.
func (r *run) skipCalls() error {
	calls, err := verify.ReadCalls(r.karpenter.callsFile())
	r.iam.judged = len(calls)
	return err
}

// queueName is the interruption queue the stack created.
func queueName(state []stateResource) string {
	for _, r := range state {
		if r.Type == "aws:sqs/queue:Queue" {
			name, _ := r.Outputs["name"].(string)
			return name
		}
	}
	return ""
}
