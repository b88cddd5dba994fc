// Package render shows what `pulumi up` would declare, without a cloud
// account: it runs the stack program under the Pulumi engine's mocks and
// writes every Kubernetes object, Helm values file, IAM and queue policy,
// EventBridge pattern, and a plan of all resources with their dependencies.
// cmd/render is its command line; the tests run it in their own binary.
package render

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode"

	multierror "github.com/hashicorp/go-multierror"

	"karpenter-gpu/internal/stackfile"
)

// Main renders as the command line args say and returns the exit code.
// Nothing is written unless the whole stack rendered.
func Main(args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("render", flag.ContinueOnError)
	flags.SetOutput(stderr)
	stackName := flags.String("stack", "", "stack whose Pulumi.<stack>.yaml to read (default: the stack -config is named for, else dev)")
	configFile := flags.String("config", "", "stack config file (default Pulumi.<stack>.yaml)")
	clusterFile := flags.String("cluster", "", "JSON printed by `aws eks describe-cluster --name NAME` (default: a built-in example cluster)")
	outDir := flags.String("out", "rendered", "directory to write: absent, empty or a previous render, which is replaced as a whole")
	awsAuthFile := flags.String("aws-auth", "", "with -cluster: YAML printed by `kubectl get configmap aws-auth -n kube-system -o yaml` (default: one with no entries)")
	addons := flags.String("addons", "", "with -cluster: the cluster's EKS add-ons, as `aws eks list-addons --cluster-name NAME --output text` prints them (default: not known)")
	karpenterVersion := flags.String("karpenter", "", "model a cluster that already runs Karpenter at this version (for karpenter.install: false)")
	if err := flags.Parse(args); err != nil {
		return 2
	}
	if *stackName == "" {
		*stackName = "dev"
		if name, ok := stackfile.StackName(*configFile); ok {
			*stackName = name
		}
	}
	if *configFile == "" {
		*configFile = "Pulumi." + *stackName + ".yaml"
	}
	files, err := Render(Options{ConfigFile: *configFile, ClusterFile: *clusterFile, Stack: *stackName, Karpenter: *karpenterVersion, AwsAuthFile: *awsAuthFile, Addons: addonList(*addons)})
	if err == nil {
		err = Write(*outDir, files)
	}
	// One program error reads as it is, not as the SDK's list of them
	// ("1 error occurred").
	if list := (*multierror.Error)(nil); errors.As(err, &list) && len(list.Errors) == 1 {
		err = list.Errors[0]
	}
	if err != nil {
		fmt.Fprintln(stderr, "render:", err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %d files to %s/ (start with %s)\n", len(files), *outDir, filepath.Join(*outDir, "plan.md"))
	return 0
}

// Write replaces dir with exactly files, so that nothing stale stays behind.
// It is written next to dir first and only then swapped in. A dir that
// holds anything a previous render did not write is refused untouched.
func Write(dir string, files map[string][]byte) error {
	if err := replaceable(dir); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(filepath.Clean(dir)), ".render-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		p := filepath.Join(tmp, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, files[name], 0o644); err != nil {
			return err
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	return os.Rename(tmp, dir)
}

// replaceable: dir is absent, empty, or a previous render: every file in
// it is one its manifest names.
func replaceable(dir string) error {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) || (err == nil && len(entries) == 0) {
		return nil
	}
	if err != nil {
		return err
	}
	listed := map[string]bool{Manifest: true}
	raw, err := os.ReadFile(filepath.Join(dir, Manifest))
	if err == nil {
		for _, name := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
			listed[name] = true
		}
	}
	var foreign []string
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err == nil && !listed[filepath.ToSlash(rel)] {
			foreign = append(foreign, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		return err
	}
	if len(foreign) > 0 {
		if len(foreign) > 3 {
			foreign = append(foreign[:3], fmt.Sprintf("and %d more", len(foreign)-3))
		}
		return fmt.Errorf("-out %s holds files render did not write (%s); nothing was touched: give an empty or new folder, or a previous render's", dir, strings.Join(foreign, ", "))
	}
	return nil
}

// addonList reads add-on names separated by commas or blanks, and the
// ADDONS column `aws eks list-addons --output text` prints; nil when none
// were given.
func addonList(s string) []string {
	if s == "" {
		return nil
	}
	names := []string{}
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }) {
		if f != "ADDONS" {
			names = append(names, f)
		}
	}
	return names
}
