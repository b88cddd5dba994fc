package config

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"karpenter-gpu/internal/stackfile"
)

// Getter returns the raw string of one fully qualified config key.
type Getter func(key string) (string, bool)

// Source says where Load finds the keys the configuration sets, which is
// what lets it refuse a misspelled key instead of silently ignoring it.
type Source struct {
	// Keys are the fully qualified keys, for a run whose engine does not
	// list them (its mocks). Nil: the engine's list, which it hands a
	// program the CLI runs in PULUMI_CONFIG, or else the keys of the
	// stack's settings file in ProjectDir.
	Keys []string
	// ProjectDir is the folder of Pulumi.<stack>.yaml; empty: the
	// program's root directory. An Automation API inline program gets
	// its configuration through the language protocol, which lists no
	// keys, and no project folder, while its workspace keeps the file in
	// a folder of its own.
	ProjectDir string
}

// Load reads the stack configuration from the running Pulumi program.
func Load(ctx *pulumi.Context, src Source) (*Stack, error) {
	keys := src.Keys
	if keys == nil {
		var err error
		if keys, err = configKeys(os.Getenv(pulumi.EnvConfig), cmp.Or(src.ProjectDir, ctx.RootDirectory()), ctx.Stack()); err != nil {
			return nil, err
		}
	}
	return Parse(ctx.GetConfig, keys)
}

// configKeys are the keys of the engine's configuration JSON, or without
// it those of Pulumi.<stack>.yaml in the project folder; none when neither
// is there.
func configKeys(engineConfig, projectDir, stack string) ([]string, error) {
	if engineConfig != "" {
		var all map[string]string
		if err := json.Unmarshal([]byte(engineConfig), &all); err != nil {
			return nil, fmt.Errorf("reading stack configuration from %s: %w", pulumi.EnvConfig, err)
		}
		return slices.Collect(maps.Keys(all)), nil
	}
	if projectDir == "" {
		return nil, nil
	}
	file := filepath.Join(projectDir, "Pulumi."+stack+".yaml")
	settings, err := stackfile.Read(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the stack's configuration keys: %w", err)
	}
	return slices.Collect(maps.Keys(settings)), nil
}

// Parse reads every key of the namespace through get, rejects keys in
// allKeys that the namespace does not define, applies defaults and validates.
// nestHint: a dotted key written as one YAML key (karpenter.replicas)
// whose first part is a known key is a path Pulumi only follows with
// --path; it belongs nested under that key.
func nestHint(known map[string]int, name, value string) string {
	parts := strings.Split(name, ".")
	if _, ok := known[parts[0]]; len(parts) < 2 || !ok {
		return ""
	}
	nested := value
	for _, part := range slices.Backward(parts[1:]) {
		nested = "{" + part + ": " + nested + "}"
	}
	return fmt.Sprintf("; a dotted key is a path: nest it as %s:%s: %s in the stack file, or run pulumi config set --path '%s:%s' %s",
		Namespace, parts[0], nested, Namespace, name, value)
}

// All problems are reported together, each naming its key.
func Parse(get Getter, allKeys []string) (*Stack, error) {
	cfg := Defaults()
	p := problems{set: map[string]bool{}}

	known := topLevelKeys()
	sort.Strings(allKeys)
	for _, full := range allKeys {
		namespace, name, _ := strings.Cut(full, ":")
		if namespace != Namespace {
			value, _ := get(full)
			wrongNamespace(&p, known, namespace, name, value)
			continue
		}
		if _, isKnown := known[name]; !isKnown {
			value, _ := get(full)
			p.add(name, name, "is not a known key"+nestHint(known, name, value)+suggest(name, slices.Collect(maps.Keys(known)))+"; known keys are "+strings.Join(slices.Sorted(maps.Keys(known)), ", "))
		}
	}

	v := reflect.ValueOf(&cfg).Elem()
	for _, name := range slices.Sorted(maps.Keys(known)) {
		raw, ok := get(Namespace + ":" + name)
		if !ok {
			continue
		}
		p.set[name] = true
		field := v.Field(known[name])
		decodeValue(&p, name, raw, field)
	}
	if raw, ok := get(Namespace + ":nodeClasses"); ok {
		cfg.NodeClasses = decodeEntries(&p, "nodeClasses", "node class", raw, func() NodeClass {
			c := defaultNodeClass()
			c.Name = "" // every listed class names itself
			return c
		})
	}
	if raw, ok := get(Namespace + ":gpuPools"); ok {
		cfg.GPUPools = decodeEntries(&p, "gpuPools", "GPU pool", raw, func() GPUPool {
			pool := defaultPool()
			pool.Name, pool.GPUs, pool.MaxGPUs = "", nil, unsetMaxGPUs // no default for these
			return pool
		})
	}
	cfg.applyPoolDefaults()
	cfg.applyJobProtection(&p)
	cfg.validate(&p)
	if !p.empty() {
		return nil, p.err(cfg.GPUPools)
	}
	return &cfg, nil
}

// unsetMaxGPUs marks a pool entry without maxGPUs, which has no default:
// 0 is a value to refuse, not a missing one.
const unsetMaxGPUs = -1

// wrongNamespace reports a key whose namespace is one of this stack's
// top-level keys or close to the stack's own namespace: meant for the
// stack, it would be ignored. Other namespaces belong to providers and
// tools, and are theirs.
func wrongNamespace(p *problems, known map[string]int, namespace, name, value string) {
	_, isOurKey := known[namespace]
	if !isOurKey && suggest(namespace, []string{Namespace}) == "" {
		return
	}
	meant := name
	if isOurKey {
		meant = namespace + "." + name
	}
	p.list = append(p.list, Problem{Namespace: namespace, Key: name, Value: value, Want: fmt.Sprintf(
		"namespace %s is not read by this stack, whose keys are in namespace %s; did you mean %s:%s?", namespace, Namespace, Namespace, meant)})
}
