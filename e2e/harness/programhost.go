package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"

	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
)

// programHost is a language runtime that runs the stack's compiled
// program (main.go, built) as pulumi-language-go runs a prebuilt binary:
// with the engine's addresses, the stack and its configuration in the
// environment. The run needs it where an inline program cannot stand in:
// the SDK closes an inline program's callbacks once its body returns,
// before a destroy's deletes, while pulumi.Run keeps them until the engine
// is done, so only the real program answers a delete's error hook.
type programHost struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	binary string
	log    io.Writer
}

func (h *programHost) GetRequiredPlugins(context.Context, *pulumirpc.GetRequiredPluginsRequest) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return &pulumirpc.GetRequiredPluginsResponse{}, nil
}

func (h *programHost) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	if len(req.GetArgs()) == 0 {
		return nil, errors.New("the engine passed no engine address")
	}
	config, err := json.Marshal(req.GetConfig())
	if err != nil {
		return nil, err
	}
	secretKeys, err := json.Marshal(req.GetConfigSecretKeys())
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, h.binary)
	cmd.Env = append(os.Environ(),
		pulumi.EnvMonitor+"="+req.GetMonitorAddress(),
		pulumi.EnvEngine+"="+req.GetArgs()[0],
		pulumi.EnvProject+"="+req.GetProject(),
		pulumi.EnvStack+"="+req.GetStack(),
		pulumi.EnvOrganization+"="+req.GetOrganization(),
		pulumi.EnvConfig+"="+string(config),
		pulumi.EnvConfigSecretKeys+"="+string(secretKeys),
		pulumi.EnvDryRun+"="+strconv.FormatBool(req.GetDryRun()),
		pulumi.EnvParallel+"="+strconv.Itoa(int(req.GetParallel())),
	)
	cmd.Stdout, cmd.Stderr = h.log, h.log
	var exit *exec.ExitError
	switch err := cmd.Run(); {
	case errors.As(err, &exit) && exit.ExitCode() == 32:
		// The program reported its error to the engine already.
		return &pulumirpc.RunResponse{Bail: true}, nil
	case err != nil:
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("program %s: %v", h.binary, err)}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

// destroyWithProgram runs `pulumi destroy --run-program` on the inline
// stack's project and settings with the compiled program, and returns the
// engine's events.
func (r *run) destroyWithProgram(ctx context.Context, stackName, logName string) ([]apitype.EngineEvent, error) {
	log := r.engineLog(ctx, logName)
	cancel := make(chan bool)
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: cancel,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, &programHost{binary: r.program, log: log})
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	defer func() { cancel <- true; <-handle.Done }()
	events := r.logs.path(scenarioOf(ctx), logName, ".events")
	cmd := exec.CommandContext(ctx, r.pulumiBinary, "destroy", "--yes", "--skip-preview", "--non-interactive", "--run-program",
		"--stack", stackName, "--client", fmt.Sprintf("127.0.0.1:%d", handle.Port), "--event-log", events)
	// --event-log is a debug command's flag, as for the Automation API.
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = r.engine.projectDir(platformProject), append(r.engine.environ(), "PULUMI_DEBUG_COMMANDS=true"), log, log
	runErr := cmd.Run()
	evs, err := readEventLog(events)
	if err != nil {
		return nil, err
	}
	if runErr != nil {
		return evs, errors.New(engineMessage(runErr, evs))
	}
	return evs, nil
}

func readEventLog(file string) ([]apitype.EngineEvent, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []apitype.EngineEvent
	scanner := bufio.NewScanner(f)
	scanner.Buffer(make([]byte, 1<<20), 64<<20)
	for scanner.Scan() {
		var e apitype.EngineEvent
		if err := json.Unmarshal(scanner.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		out = append(out, e)
	}
	return out, scanner.Err()
}
