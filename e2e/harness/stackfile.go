package main

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"

	"karpenter-gpu/config"
	"karpenter-gpu/internal/stackfile"
)

// stackUnderTest is the stack file the run deploys and what the run takes
// from it: the test account's cluster is the one it names, in its region.
type stackUnderTest struct {
	file string
	// name is the stack's name: Pulumi.NAME.yaml (or .yaml.example).
	name        string
	clusterName string
	region      string
	config      *config.Stack
	// workloadPool is the first pool of the file: the pool the workload
	// example, the limits and the to-zero scenarios run on.
	workloadPool string
	// rendered is where `render` wrote the stack's objects for comparison
	// with what up made.
	rendered string
}

// readStackFile reads the file and renders it with the render command.
func readStackFile(ctx context.Context, file, render, dir string) (stackUnderTest, error) {
	s := stackUnderTest{file: file}
	var named bool
	if s.name, named = stackfile.StackName(file); !named {
		return s, fmt.Errorf("-config %s: want a stack file named Pulumi.STACK.yaml (or .yaml.example)", file)
	}
	cfg, err := stackfile.Read(file)
	if err != nil {
		return s, err
	}
	s.config, err = config.Parse(func(key string) (string, bool) { v, ok := cfg[key]; return v, ok }, slices.Collect(maps.Keys(cfg)))
	if err != nil {
		return s, fmt.Errorf("%s: %w", file, err)
	}
	s.clusterName, s.region = s.config.ClusterName, cfg["aws:region"]
	s.workloadPool = s.config.GPUPools[0].Name
	s.rendered = filepath.Join(dir, "rendered")
	out, err := exec.CommandContext(ctx, render, "-config", file, "-stack", s.name, "-out", s.rendered).CombinedOutput()
	if err != nil {
		return s, fmt.Errorf("render -config %s: %w\n%s", file, err, out)
	}
	return s, nil
}

// settings are the stack file's bytes.
func (s stackUnderTest) settings() ([]byte, error) { return os.ReadFile(s.file) }
