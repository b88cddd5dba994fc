package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// scenario is one unit of the run: what it shows, the scenarios whose
// results it builds on, and the check itself. A group's lanes run at the
// same time, each lane its scenarios in order, on pools of their own.
type scenario struct {
	// name is what -run takes; logs and report entries are named after it.
	name  string
	title string
	// needs are the scenarios that must have run first; -run runs them too.
	needs []string
	do    func(context.Context, *result) error
	// foreign: the controller that runs is someone else's, with a role
	// the stack does not manage; its calls are not judged.
	foreign bool
	lanes   [][]scenario
}

// scenarios are the run's units in the order a whole run takes them.
func (r *run) scenarios(before map[string]bool) []scenario {
	return []scenario{
		{name: "preview", title: "preview on the empty cluster", do: r.preview},
		{name: "up", title: "pulumi up", do: r.up},
		{name: "re-up", title: "refresh finds nothing changed and a second pulumi up changes nothing", needs: []string{"up"}, do: r.reUp},
		{name: "preview-diff", title: "preview --diff of a maxGPUs change", needs: []string{"up"}, do: r.previewDiff},
		{name: "every-pool", title: "from zero, every pool: one pending GPU pod each", needs: []string{"up"}, do: r.everyPool},
		{name: "spot-shortage", title: "spot shortage: pools that buy spot and on-demand fall back to on-demand", needs: []string{"up"}, do: r.spotShortage},
		{name: "workload", title: "examples/gpu-workload up", needs: []string{"up"}, do: r.workload},
		{name: "sharing-limits", title: "time-slicing and limits: one pod more than the pool holds", needs: []string{"up"}, do: r.sharingAndLimits},
		{name: "to-zero", title: "to zero: the workload goes, Karpenter removes the nodes; it comes back", needs: []string{"workload"}, do: r.toZero},
		r.disruption(),
		{name: "destroy", title: "pulumi destroy with a GPU node up", needs: []string{"workload"}, do: func(ctx context.Context, res *result) error { return r.destroy(ctx, res, before) }},
		{name: "aws-auth", title: "aws-auth on a CONFIG_MAP cluster: up, re-up, destroy", do: r.awsAuth},
		{name: "pools-only", title: "pools only, on a cluster whose Karpenter someone else installed", do: r.poolsOnly, foreign: true},
	}
}

// selected are the scenarios names ask for with what they need, in the
// order of all (every scenario for no names). A group keeps the lanes
// that hold a selected scenario, each with its selected scenarios.
func selected(all []scenario, names []string) ([]scenario, error) {
	if len(names) == 0 {
		return all, nil
	}
	byName := map[string]scenario{}
	var walk func([]scenario)
	walk = func(list []scenario) {
		for _, s := range list {
			byName[s.name] = s
			for _, lane := range s.lanes {
				walk(lane)
			}
		}
	}
	walk(all)
	want := map[string]bool{}
	var need func(string) error
	need = func(name string) error {
		s, ok := byName[name]
		if !ok {
			return fmt.Errorf("-run %s: no such scenario; the run has %s", name, strings.Join(scenarioNames(all), ", "))
		}
		if want[name] {
			return nil
		}
		want[name] = true
		for _, lane := range s.lanes {
			for _, in := range lane {
				if err := need(in.name); err != nil {
					return err
				}
			}
		}
		for _, n := range s.needs {
			if err := need(n); err != nil {
				return err
			}
		}
		return nil
	}
	for _, n := range names {
		if err := need(n); err != nil {
			return nil, err
		}
	}
	var keep func([]scenario) []scenario
	keep = func(list []scenario) []scenario {
		var out []scenario
		for _, s := range list {
			if len(s.lanes) > 0 {
				group := s
				group.lanes = nil
				for _, lane := range s.lanes {
					if kept := keep(lane); len(kept) > 0 {
						group.lanes = append(group.lanes, kept)
					}
				}
				if len(group.lanes) > 0 {
					out = append(out, group)
				}
				continue
			}
			if want[s.name] {
				out = append(out, s)
			}
		}
		return out
	}
	return keep(all), nil
}

func scenarioNames(list []scenario) []string {
	var out []string
	for _, s := range list {
		out = append(out, s.name)
		for _, lane := range s.lanes {
			out = append(out, scenarioNames(lane)...)
		}
	}
	return out
}

// runScenarios runs the list in order: a group's lanes at once, the first
// failure ending the others. After each top-level entry the control plane
// must be alive and the controller's calls allowed by the stack's policies.
func (r *run) runScenarios(ctx context.Context, list []scenario, res *result) (string, error) {
	for _, s := range list {
		start := time.Now()
		if len(s.lanes) > 0 {
			fmt.Fprintf(os.Stderr, "e2e: %s: %s (%d lanes at once)\n", s.name, s.title, len(s.lanes))
			g, gctx := errgroup.WithContext(ctx)
			for _, lane := range s.lanes {
				g.Go(func() error {
					for _, in := range lane {
						if err := r.runOne(gctx, in, res); err != nil {
							return fmt.Errorf("%s: %w", in.name, err)
						}
					}
					return nil
				})
			}
			if err := g.Wait(); err != nil {
				return s.name, err
			}
		} else if err := r.runOne(ctx, s, res); err != nil {
			return s.name, err
		}
		if cause := context.Cause(ctx); cause != nil {
			return s.name, cause
		}
		if err := r.cp.alive(); err != nil {
			return s.name, err
		}
		judge := r.judgeCalls
		if s.foreign {
			judge = r.skipCalls
		}
		if err := judge(); err != nil {
			return s.name, fmt.Errorf("IAM: %w", err)
		}
		if len(s.lanes) > 0 {
			fmt.Fprintf(os.Stderr, "e2e: %s done in %s\n", s.name, time.Since(start).Round(time.Second))
		}
	}
	return "", nil
}

// runOne runs one scenario, its name in ctx for the logs it writes.
func (r *run) runOne(ctx context.Context, s scenario, res *result) error {
	fmt.Fprintf(os.Stderr, "e2e: %s: %s\n", s.name, s.title)
	start := time.Now()
	err := s.do(context.WithValue(ctx, scenarioKey{}, s.name), res)
	if cause := context.Cause(ctx); err != nil && cause != nil && cause != context.Canceled {
		err = cause
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "e2e: %s done in %s\n", s.name, time.Since(start).Round(time.Second))
	return nil
}

type scenarioKey struct{}

// scenarioOf is the name of the scenario ctx runs for.
func scenarioOf(ctx context.Context) string {
	name, _ := ctx.Value(scenarioKey{}).(string)
	return name
}

// logs names and keeps the engine's logs: cluster/logs/engine-SCENARIO-OP,
// numbered when a scenario runs one operation more than once.
type logs struct {
	sync.Mutex
	dir   string
	seen  map[string]int
	files []*os.File
}

// path is the file for the scenario's operation op, with extension ext.
func (l *logs) path(scenario, op, ext string) string {
	l.Lock()
	defer l.Unlock()
	base := strings.Trim("engine-"+scenario+"-"+op, "-")
	if l.seen == nil {
		l.seen = map[string]int{}
	}
	l.seen[base+ext]++
	if n := l.seen[base+ext]; n > 1 {
		base = fmt.Sprintf("%s-%d", base, n)
	}
	return filepath.Join(l.dir, base+ext)
}

// engineLog is where an operation's progress output goes, beside the
// control plane's logs; on failure the harness keeps them.
func (r *run) engineLog(ctx context.Context, op string) io.Writer {
	f, err := os.Create(r.logs.path(scenarioOf(ctx), op, ".log"))
	if err != nil {
		return io.Discard
	}
	r.logs.Lock()
	r.logs.files = append(r.logs.files, f)
	r.logs.Unlock()
	return f
}

func (l *logs) close() {
	l.Lock()
	defer l.Unlock()
	for _, f := range l.files {
		f.Close()
	}
}

// runNames splits -run's value.
func runNames(flag string) []string {
	return slices.DeleteFunc(strings.Split(flag, ","), func(s string) bool { return strings.TrimSpace(s) == "" })
}
