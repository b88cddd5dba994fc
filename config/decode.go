// Decoding: the configuration reaches the program as strings, one per
// top-level key; objects and lists are JSON, checked against the Go types
// by reflection so that every mistake is reported with its path.

package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// topLevelKeys maps each top-level key to its field of Stack.
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
