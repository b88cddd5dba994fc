package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

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

// Load reads the stack configuration from the running Pulumi program. The
// engine hands a program its whole configuration in PULUMI_CONFIG; the keys
// listed there are what lets Load reject a misspelled key instead of
// silently ignoring it.
func Load(ctx *pulumi.Context) (*Stack, error) {
	keys, err := keysFromEnvironment()
	if err != nil {
		return nil, err
	}
	return Parse(ctx.GetConfig, keys)
}

func keysFromEnvironment() ([]string, error) {
	raw := os.Getenv(pulumi.EnvConfig)
	if raw == "" {
		return nil, nil
	}
	var all map[string]string
	if err := json.Unmarshal([]byte(raw), &all); err != nil {
		return nil, fmt.Errorf("reading stack configuration from %s: %w", pulumi.EnvConfig, err)
	}
	keys := make([]string, 0, len(all))
	for k := range all {
		keys = append(keys, k)
	}
	return keys, nil
}

// Parse reads every key of the namespace through get, rejects keys in
// allKeys that the namespace does not define, applies defaults and validates.
// All problems are reported together, each naming its key.
func Parse(get Getter, allKeys []string) (*Stack, error) {
	cfg := Defaults()
	var p problems

	known := topLevelKeys()
	sort.Strings(allKeys)
	for _, full := range allKeys {
		name, ok := strings.CutPrefix(full, Namespace+":")
		if !ok {
			continue
		}
		if _, isKnown := known[name]; !isKnown {
			p.add(name, name, "is not a known key; known keys are "+strings.Join(slices.Sorted(maps.Keys(known)), ", "))
		}
	}

	v := reflect.ValueOf(&cfg).Elem()
	for _, name := range slices.Sorted(maps.Keys(known)) {
		raw, ok := get(Namespace + ":" + name)
		if !ok {
			continue
		}
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
			pool.Name, pool.GPUs, pool.MaxGPUs = "", nil, 0 // no default for these
			return pool
		})
	}
	cfg.applyPoolDefaults()
	cfg.validate(&p)
	if !p.empty() {
		return nil, p.err()
	}
	return &cfg, nil
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
		if !shapeOK(p, key, generic, field.Type()) {
			return
		}
		if err := json.Unmarshal([]byte(raw), field.Addr().Interface()); err != nil {
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
		ik := fmt.Sprintf("%s[%d]", key, i)
		entry := base()
		if !shapeOK(p, ik, item, reflect.TypeOf(entry)) {
			continue
		}
		encoded, _ := json.Marshal(item)
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

func shapeOK(p *problems, key string, value any, t reflect.Type) bool {
	before := len(p.list)
	checkShape(p, key, value, t)
	return len(p.list) == before
}

// checkShape walks a decoded JSON value against the Go type it will be
// decoded into, reporting unknown keys and wrong types with their full path.
func checkShape(p *problems, key string, value any, t reflect.Type) {
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := value.(map[string]any)
		if !ok {
			p.add(key, value, "want an object with keys "+strings.Join(fieldNames(t), ", "))
			return
		}
		for _, name := range slices.Sorted(maps.Keys(obj)) {
			f, found := fieldByJSONName(t, name)
			if !found {
				p.add(key+"."+name, obj[name], "is not a known key of "+key+"; known keys are "+strings.Join(fieldNames(t), ", "))
				continue
			}
			checkShape(p, key+"."+name, obj[name], f.Type)
		}
	case reflect.Map:
		obj, ok := value.(map[string]any)
		if !ok {
			p.add(key, value, "want an object")
			return
		}
		for _, name := range slices.Sorted(maps.Keys(obj)) {
			checkShape(p, key+"."+name, obj[name], t.Elem())
		}
	case reflect.Slice:
		list, ok := value.([]any)
		if !ok {
			p.add(key, value, "want a list")
			return
		}
		for i, item := range list {
			checkShape(p, fmt.Sprintf("%s[%d]", key, i), item, t.Elem())
		}
	case reflect.String:
		if _, ok := value.(string); !ok {
			p.add(key, value, "want a string")
		}
	case reflect.Bool:
		if _, ok := value.(bool); !ok {
			p.add(key, value, "want true or false")
		}
	case reflect.Int:
		n, ok := value.(json.Number)
		if _, err := n.Int64(); !ok || err != nil {
			p.add(key, value, "want a whole number")
		}
	case reflect.Interface:
		// Free-form values (karpenter.values) pass through to Helm.
	}
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
	Key   string // path below the namespace, e.g. "karpenter.identity"
	Value any    // the offending value; nil when the key is missing
	Want  string // what is allowed
}

func (p Problem) Error() string {
	if p.Value == nil {
		return fmt.Sprintf("%s:%s is missing: %s", Namespace, p.Key, p.Want)
	}
	return fmt.Sprintf("%s:%s: %s: %s", Namespace, p.Key, show(p.Value), p.Want)
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

type problems struct{ list []Problem }

func (p *problems) add(key string, value any, want string) {
	p.list = append(p.list, Problem{Key: key, Value: value, Want: want})
}

func (p *problems) empty() bool { return len(p.list) == 0 }

func (p *problems) err() error {
	errs := make([]error, len(p.list))
	for i, pr := range p.list {
		errs[i] = pr
	}
	return &Error{Problems: p.list, err: errors.Join(errs...)}
}

// Error lists every problem found in a stack configuration.
type Error struct {
	Problems []Problem
	err      error
}

func (e *Error) Error() string {
	return "invalid stack configuration:\n" + e.err.Error()
}
