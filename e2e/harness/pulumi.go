package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optrefresh"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// engine is the real Pulumi CLI with a file backend under one directory,
// and only the plugins installed here: the real Kubernetes provider and
// the stand-in AWS provider.
type engine struct {
	dir     string
	command auto.PulumiCommand
	env     map[string]string
}

// Plugin is a provider plugin binary to install under a name and version.
type Plugin struct{ Name, Version, Binary string }

func newEngine(ctx context.Context, dir, pulumiBinary string, env map[string]string, plugins []Plugin) (*engine, error) {
	root := filepath.Join(dir, "cli")
	if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err != nil {
		return nil, err
	}
	if err := os.Symlink(pulumiBinary, filepath.Join(root, "bin", "pulumi")); err != nil {
		return nil, err
	}
	e := &engine{dir: dir, env: map[string]string{
		"PULUMI_HOME":                                 filepath.Join(dir, "home"),
		"PULUMI_BACKEND_URL":                          "file://" + filepath.Join(dir, "state"),
		"PULUMI_CONFIG_PASSPHRASE":                    "e2e",
		"PULUMI_SKIP_UPDATE_CHECK":                    "true",
		"PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
		"PULUMI_IGNORE_AMBIENT_PLUGINS":               "true",
	}}
	for k, v := range env {
		e.env[k] = v
	}
	if err := os.MkdirAll(filepath.Join(dir, "state"), 0o755); err != nil {
		return nil, err
	}
	var err error
	if e.command, err = auto.NewPulumiCommand(&auto.PulumiCommandOptions{Root: root, SkipVersionCheck: true}); err != nil {
		return nil, err
	}
	for _, p := range plugins {
		cmd := exec.CommandContext(ctx, pulumiBinary, "plugin", "install", "resource", p.Name, p.Version, "--file", p.Binary)
		cmd.Env = e.environ()
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("installing plugin %s %s: %v: %s", p.Name, p.Version, err, out)
		}
	}
	return e, nil
}

func (e *engine) environ() []string {
	env := os.Environ()
	for k, v := range e.env {
		env = append(env, k+"="+v)
	}
	return env
}

// stack is an inline program's stack in its own directory, which holds the
// stack's settings file (Pulumi.<stack>.yaml) if settings are given.
// env is added to the engine's environment for this stack's operations.
func (e *engine) stack(ctx context.Context, project, stackName string, program pulumi.RunFunc, settings []byte, env map[string]string) (auto.Stack, error) {
	dir := e.projectDir(project)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return auto.Stack{}, err
	}
	if settings != nil {
		if err := os.WriteFile(filepath.Join(dir, "Pulumi."+stackName+".yaml"), settings, 0o600); err != nil {
			return auto.Stack{}, err
		}
	}
	vars := maps.Clone(e.env)
	maps.Copy(vars, env)
	return auto.UpsertStackInlineSource(ctx, stackName, project, program,
		auto.WorkDir(dir), auto.Pulumi(e.command), auto.EnvVars(vars), auto.SecretsProvider("passphrase"))
}

// projectDir is the workspace folder of a project's stacks, where their
// settings files are.
func (e *engine) projectDir(project string) string { return filepath.Join(e.dir, "projects", project) }

// eventLog collects an operation's engine events.
type eventLog struct {
	ch     chan events.EngineEvent
	done   chan struct{}
	events []apitype.EngineEvent
}

func newEventLog() *eventLog {
	l := &eventLog{ch: make(chan events.EngineEvent), done: make(chan struct{})}
	go func() {
		for e := range l.ch {
			l.events = append(l.events, e.EngineEvent)
		}
		close(l.done)
	}()
	return l
}

// all returns the events once the operation's stream has ended.
func (l *eventLog) all() []apitype.EngineEvent {
	select {
	case <-l.done:
	case <-time.After(30 * time.Second):
	}
	return l.events
}

// steps are the resource steps other than "same".
func steps(evs []apitype.EngineEvent) []apitype.StepEventMetadata {
	var out []apitype.StepEventMetadata
	for _, e := range evs {
		if e.ResourcePreEvent != nil && e.ResourcePreEvent.Metadata.Op != apitype.OpSame {
			out = append(out, e.ResourcePreEvent.Metadata)
		}
	}
	return out
}

// engineMessage is what the engine said about a failure: its error
// diagnostics, or the operation's error.
func engineMessage(err error, evs []apitype.EngineEvent) string {
	var msgs []string
	for _, e := range evs {
		if d := e.DiagnosticEvent; d != nil && d.Severity == "error" {
			msg := strings.TrimSpace(d.Message)
			if d.URN != "" {
				msg = d.URN + ": " + msg
			}
			msgs = append(msgs, msg)
		}
	}
	if len(msgs) == 0 {
		return err.Error()
	}
	return strings.Join(msgs, "\n")
}

// warnings are the engine's warning diagnostics, once each.
func warnings(evs []apitype.EngineEvent) []string {
	var out []string
	for _, e := range evs {
		if d := e.DiagnosticEvent; d != nil && d.Severity == "warning" {
			msg := strings.TrimSpace(d.Message)
			if d.URN != "" {
				msg = d.URN + ": " + msg
			}
			if !slices.Contains(out, msg) {
				out = append(out, msg)
			}
		}
	}
	return out
}

// The operations, each keeping the engine's events and its progress output
// (in cluster/logs/engine-NAME.log) and failing with the engine's message.

func (r *run) previewOp(ctx context.Context, st auto.Stack, name string, opts ...optpreview.Option) (auto.PreviewResult, []apitype.EngineEvent, error) {
	log := newEventLog()
	res, err := st.Preview(ctx, append(opts, optpreview.EventStreams(log.ch), optpreview.ProgressStreams(r.engineLog(ctx, name)))...)
	return res, log.all(), operationError(err, log)
}

func (r *run) upOp(ctx context.Context, st auto.Stack, name string) (auto.UpResult, []apitype.EngineEvent, error) {
	log := newEventLog()
	res, err := st.Up(ctx, optup.EventStreams(log.ch), optup.ProgressStreams(r.engineLog(ctx, name)))
	return res, log.all(), operationError(err, log)
}

func (r *run) refreshOp(ctx context.Context, st auto.Stack, name string) (auto.RefreshResult, error) {
	log := newEventLog()
	res, err := st.Refresh(ctx, optrefresh.EventStreams(log.ch), optrefresh.ProgressStreams(r.engineLog(ctx, name)))
	return res, operationError(err, log)
}

func (r *run) destroyOp(ctx context.Context, st auto.Stack, name string) ([]apitype.EngineEvent, error) {
	log := newEventLog()
	// The program runs so that the error hook reporting a failed deletion
	// of a NodePool or EC2NodeClass is there to be called.
	_, err := st.Destroy(ctx, optdestroy.RunProgram(true), optdestroy.EventStreams(log.ch), optdestroy.ProgressStreams(r.engineLog(ctx, name)))
	return log.all(), operationError(err, log)
}

func operationError(err error, log *eventLog) error {
	if err == nil {
		return nil
	}
	return errors.New(engineMessage(err, log.all()))
}
