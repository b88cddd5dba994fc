package config

import (
	"fmt"
	"maps"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// referenceRow is one row of the key table of docs/configuration.md.
type referenceRow struct {
	defaultCell, meaning string
}

// referenceRows reads the key table: each backticked key of a row's first
// cell (a row may name several, "`gpuPools[].labels` / `taints`", the
// later ones below the first one's parent), with its part of the default
// cell.
func referenceRows(t *testing.T) map[string]referenceRow {
	t.Helper()
	raw, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(raw), "| Key | Default | Meaning |\n|---|---|---|\n")
	if !ok {
		t.Fatal("docs/configuration.md has no key table")
	}
	backticked := regexp.MustCompile("`([^`]+)`")
	rows := map[string]referenceRow{}
	for line := range strings.Lines(table) {
		if !strings.HasPrefix(line, "| `") {
			break
		}
		cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), " | ")
		if len(cells) < 3 {
			t.Fatalf("a row of fewer than three cells: %s", line)
		}
		keys := backticked.FindAllStringSubmatch(cells[0], -1)
		defaults := strings.Split(cells[1], " / ")
		parent := ""
		for i, m := range keys {
			key := m[1]
			if i == 0 {
				if j := strings.LastIndex(key, "."); j >= 0 {
					parent = key[:j+1]
				}
			} else if !strings.Contains(key, ".") {
				key = parent + key
			}
			def := cells[1]
			if len(defaults) == len(keys) {
				def = defaults[i]
			}
			rows[key] = referenceRow{defaultCell: def, meaning: strings.Join(cells[2:], " | ")}
		}
	}
	if len(rows) < 40 {
		t.Fatalf("read only %d keys from docs/configuration.md's table", len(rows))
	}
	return rows
}

// configurationKeys are the key paths of the configuration types, as the
// reference writes them (nodeClasses[].rootVolume.iops), with their types.
func configurationKeys(prefix string, typ reflect.Type, out map[string]reflect.Type) {
	for i := range typ.NumField() {
		f := typ.Field(i)
		key := prefix + jsonName(f)
		out[key] = f.Type
		switch {
		case f.Type.Kind() == reflect.Struct:
			configurationKeys(key+".", f.Type, out)
		case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct:
			configurationKeys(key+"[].", f.Type.Elem(), out)
		}
	}
}

// defaultOf is the default of a key: the stack's defaults, a node class's
// and a pool's for their entries; zero where a list entry has no defaults.
func defaultOf(key string) (reflect.Value, bool) {
	v := reflect.ValueOf(Defaults())
	entries := map[string]any{"nodeClasses": defaultNodeClass(), "gpuPools": defaultPool()}
	for _, part := range strings.Split(key, ".") {
		name, isEntry := strings.CutSuffix(part, "[]")
		f, ok := fieldByJSONName(v.Type(), name)
		if !ok {
			return reflect.Value{}, false
		}
		v = v.FieldByIndex(f.Index)
		if isEntry {
			if d, ok := entries[name]; ok {
				v = reflect.ValueOf(d)
			} else {
				v = reflect.Zero(v.Type().Elem())
			}
		}
	}
	return v, true
}

// docs/configuration.md's key table is the configuration types': every key
// has its row, or is described in the row of the object it belongs to;
// every row is a key; a key's default, where it is a plain value, is the
// one the table gives.
func TestConfigurationReferenceIsTheTypes(t *testing.T) {
	rows := referenceRows(t)
	keys := map[string]reflect.Type{}
	configurationKeys("", reflect.TypeOf(Stack{}), keys)

	for key := range rows {
		if _, ok := keys[key]; !ok {
			t.Errorf("docs/configuration.md documents %s, which the configuration types lack", key)
		}
	}
	for _, key := range slices.Sorted(maps.Keys(keys)) {
		if _, ok := rows[key]; ok {
			continue
		}
		// An object is documented by the rows of its keys.
		if slices.ContainsFunc(slices.Collect(maps.Keys(rows)), func(k string) bool { return strings.HasPrefix(k, key+".") || strings.HasPrefix(k, key+"[].") }) {
			continue
		}
		documented := false
		for parent := key; strings.Contains(parent, "."); {
			parent = parent[:strings.LastIndex(parent, ".")]
			if row, ok := rows[strings.TrimSuffix(parent, "[]")]; ok {
				field := key[strings.LastIndex(key, ".")+1:]
				documented = strings.Contains(row.meaning, field) || strings.Contains(row.defaultCell, field)
				break
			}
		}
		if !documented {
			t.Errorf("%s is not in docs/configuration.md: neither a row of its own nor named in the row of the object it belongs to", key)
		}
	}

	for key, row := range rows {
		v, ok := defaultOf(key)
		if !ok || strings.HasPrefix(row.defaultCell, "required") {
			continue
		}
		var want string
		switch v.Kind() {
		case reflect.String, reflect.Int, reflect.Float64:
			if v.IsZero() {
				continue
			}
			want = fmt.Sprint(v.Interface())
		case reflect.Bool:
			want = fmt.Sprint(v.Bool())
		default:
			continue
		}
		if !strings.Contains(row.defaultCell, "`"+want+"`") {
			t.Errorf("docs/configuration.md gives %s the default %q; the code's is `%s`", key, row.defaultCell, want)
		}
	}
}
