package config

import (
	"bytes"
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
	"strconv"
	"strings"

	"github.com/agext/levenshtein"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"karpenter-gpu/internal/stackfile"
	"karpenter-gpu/versions"
	"karpenter-gpu/wellknown"
)

// Defaults returns the configuration a stack gets for every key it leaves out.
func Defaults() Stack {
	s := Stack{
		Cluster: Cluster{
			Version:         "1.35",
			SystemNodeType:  "m7i.large",
			SystemNodeCount: 2,
		},
		Karpenter: Karpenter{
			Install:         true,
			ChartRepository: versions.KarpenterChartRepository,
			Namespace:       "kube-system",
			Identity:        IdentityIRSA,
			Replicas:        2,
			LogLevel:        "info",
			CPU:             "1",
			Memory:          "1Gi",
		},
		NodeAccess:  NodeAccessAuto,
		Discovery:   Discovery{Mode: DiscoveryTags},
		NodeClasses: []NodeClass{defaultNodeClass()},
		GPUPools:    []GPUPool{defaultPool()},
		DevicePlugin: DevicePlugin{
			ChartRepository: versions.NvidiaDevicePluginRepository,
			Version:         versions.NvidiaDevicePlugin,
			Namespace:       "nvidia-device-plugin",
		},
		EFADevicePlugin: EFADevicePlugin{
			ChartRepository: versions.EKSChartsRepository,
			Version:         versions.EFADevicePlugin,
		},
		DestroyTimeout: "30m",
	}
	s.applyPoolDefaults()
	return s
}

// defaultNodeClass is both the class a stack gets without nodeClasses and
// the base every configured class's missing keys are taken from.
func defaultNodeClass() NodeClass {
	return NodeClass{
		Name: "gpu",
		AMI:  versions.DefaultAMI,
		RootVolume: RootVolume{
			SizeGiB:         200,
			IOPS:            3000,
			ThroughputMiBps: 250,
		},
	}
}

// defaultPool is both the pool a stack gets without gpuPools and the base
// every configured pool's missing keys are taken from (its name and GPUs aside).
func defaultPool() GPUPool {
	return GPUPool{
		Name:             "gpu",
		GPUs:             []string{"t4", "a10g", "l4", "l40s"},
		GPUCount:         GPUCount{Min: 1, Max: 1},
		CapacityTypes:    []string{wellknown.CapacityTypeSpot, wellknown.CapacityTypeOnDemand},
		Architectures:    []string{"amd64"},
		MaxGPUs:          4,
		Consolidation:    "WhenEmpty",
		ConsolidateAfter: "1m",
		ExpireAfter:      "720h",
		// Without it an expired or drifted node whose pods carry
		// karpenter.sh/do-not-disrupt never finishes draining.
		TerminationGracePeriod: "24h",
	}
}

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
			p.add(name, name, "is not a known key"+suggest(name, slices.Collect(maps.Keys(known)))+"; known keys are "+strings.Join(slices.Sorted(maps.Keys(known)), ", "))
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

// suggest is "; did you mean X?" for the candidate closest to word (case
// aside, at most two edits away), empty when none is.
func suggest(word string, candidates []string) string {
	best, bestDistance := "", 3
	for _, c := range slices.Sorted(slices.Values(candidates)) {
		if d := levenshtein.Distance(strings.ToLower(word), strings.ToLower(c), nil); d < bestDistance && d < len(word) {
			best, bestDistance = c, d
		}
	}
	if best == "" || best == word {
		return ""
	}
	return "; did you mean " + best + "?"
}

func topLevelKeys() map[string]int {
	t := reflect.TypeOf(Stack{})
	keys := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		keys[jsonName(t.Field(i))] = i
	}
	return keys
}

// decodeValue sets one top-level field from its raw config string: strings
// verbatim, booleans and numbers parsed, objects and lists as JSON.
func decodeValue(p *problems, key, raw string, field reflect.Value) {
	switch field.Kind() {
	case reflect.String:
		field.SetString(raw)
	case reflect.Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			p.add(key, raw, "want true or false")
			return
		}
		field.SetBool(b)
	case reflect.Slice:
		// List keys are decoded entry by entry (decodeEntries), so that each entry starts from its defaults.
		var generic any
		if !decodeJSON(p, key, raw, &generic) {
			return
		}
		if _, isList := generic.([]any); !isList {
			p.add(key, generic, "want a list")
		}
	default:
		var generic any
		if !decodeJSON(p, key, raw, &generic) {
			return
		}
		clean, ok := prune(p, key, generic, field.Type())
		if !ok {
			return
		}
		encoded, _ := json.Marshal(clean)
		if err := json.Unmarshal(encoded, field.Addr().Interface()); err != nil {
			p.add(key, raw, err.Error())
		}
	}
}

// decodeEntries decodes a list key entry by entry, each entry starting from
// base() so that its missing keys take their defaults.
func decodeEntries[T any](p *problems, key, what, raw string, base func() T) []T {
	var generic any
	if err := decodeQuiet(raw, &generic); err != nil {
		return nil // already reported by decodeValue
	}
	items, _ := generic.([]any)
	if len(items) == 0 {
		p.add(key, []any{}, fmt.Sprintf("want at least one %s, or leave %s out for the default one", what, key))
	}
	var out []T
	for i, item := range items {
		// Keyed as validation keys it (entryKey): by name once it has one.
		ik := fmt.Sprintf("%s[%d]", key, i)
		if obj, isObject := item.(map[string]any); isObject {
			if name, named := obj["name"].(string); named && name != "" {
				ik = fmt.Sprintf("%s[%s]", key, name)
			}
		}
		entry := base()
		clean, ok := prune(p, ik, item, reflect.TypeOf(entry))
		if !ok {
			continue
		}
		encoded, _ := json.Marshal(clean)
		if err := json.Unmarshal(encoded, &entry); err != nil {
			p.add(ik, item, err.Error())
			continue
		}
		out = append(out, entry)
	}
	return out
}

// applyPoolDefaults fills what depends on other keys: a pool's node class
// is the first one listed.
func (c *Stack) applyPoolDefaults() {
	for i := range c.GPUPools {
		pool := &c.GPUPools[i]
		if pool.NodeClass == "" && len(c.NodeClasses) > 0 {
			pool.NodeClass = c.NodeClasses[0].Name
		}
	}
}

// decodeQuiet decodes JSON keeping numbers exact, so 1.5 is not taken for a whole number.
func decodeQuiet(raw string, into *any) error {
	dec := json.NewDecoder(bytes.NewReader([]byte(raw)))
	dec.UseNumber()
	return dec.Decode(into)
}

func decodeJSON(p *problems, key, raw string, into *any) bool {
	if err := decodeQuiet(raw, into); err != nil {
		p.add(key, raw, "want a YAML object or list ("+err.Error()+")")
		return false
	}
	return true
}

// prune walks a decoded JSON value against the Go type it will be decoded
// into. It reports unknown keys and wrong types with their full path and
// returns the value without them, so that the rest is still decoded and
// checked in the same run; ok is false when nothing of it is usable.
func prune(p *problems, key string, value any, t reflect.Type) (clean any, ok bool) {
	bad := func(want string) (any, bool) {
		p.addBroken(key, value, want)
		return nil, false
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, isObject := value.(map[string]any)
		if !isObject {
			return bad("want an object with keys " + strings.Join(fieldNames(t), ", "))
		}
		out := map[string]any{}
		for _, name := range slices.Sorted(maps.Keys(obj)) {
			f, found := fieldByJSONName(t, name)
			if !found {
				p.addBroken(key+"."+name, obj[name], "is not a known key of "+key+suggest(name, fieldNames(t))+"; known keys are "+strings.Join(fieldNames(t), ", "))
				continue
			}
			p.set[key+"."+name] = true
			if v, fine := prune(p, key+"."+name, obj[name], f.Type); fine {
				out[name] = v
			}
		}
		return out, true
	case reflect.Map:
		obj, isObject := value.(map[string]any)
		if !isObject {
			return bad("want an object")
		}
		out := map[string]any{}
		for _, name := range slices.Sorted(maps.Keys(obj)) {
			if v, fine := prune(p, key+"."+name, obj[name], t.Elem()); fine {
				out[name] = v
			}
		}
		return out, true
	case reflect.Slice:
		list, isList := value.([]any)
		if !isList {
			return bad("want a list")
		}
		out := []any{}
		for i, item := range list {
			if v, fine := prune(p, fmt.Sprintf("%s[%d]", key, i), item, t.Elem()); fine {
				out = append(out, v)
			}
		}
		return out, true
	case reflect.String:
		if _, isString := value.(string); !isString {
			return bad("want a string")
		}
	case reflect.Bool:
		if _, isBool := value.(bool); !isBool {
			return bad("want true or false")
		}
	case reflect.Int:
		n, isNumber := value.(json.Number)
		if _, err := n.Int64(); !isNumber || err != nil {
			return bad("want a whole number")
		}
	case reflect.Interface:
		// Free-form values (karpenter.values) pass through to Helm.
	}
	return value, true
}

func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	return name
}

func fieldNames(t reflect.Type) []string {
	names := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		names = append(names, jsonName(t.Field(i)))
	}
	sort.Strings(names)
	return names
}

func fieldByJSONName(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if jsonName(t.Field(i)) == name {
			return t.Field(i), true
		}
	}
	return reflect.StructField{}, false
}

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

func (e *Error) Error() string {
	return "invalid stack configuration:\n" + e.err.Error()
}
