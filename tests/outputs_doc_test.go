package tests

import (
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// outputRows reads one table of docs/outputs.md, headed by header: each
// key of a row (a row may name several, "`nodeRoleName`, `nodeRoleArn`")
// with its part of the type cell.
func outputRows(t *testing.T, doc, header string) map[string]string {
	t.Helper()
	_, table, ok := strings.Cut(doc, header+"\n|---|---|---|\n")
	if !ok {
		t.Fatalf("docs/outputs.md has no table headed %q", header)
	}
	backticked := regexp.MustCompile("`([^`]+)`")
	rows := map[string]string{}
	for line := range strings.Lines(table) {
		if !strings.HasPrefix(line, "| `") {
			break
		}
		cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), " | ")
		keys := backticked.FindAllStringSubmatch(cells[0], -1)
		types := strings.Split(cells[1], ", ")
		for i, m := range keys {
			typ := cells[1]
			if len(types) == len(keys) {
				typ = types[i]
			}
			rows[m[1]] = typ
		}
	}
	return rows
}

// documentedKind: what JSON value a type cell of docs/outputs.md promises.
func documentedKind(cell string) string {
	switch {
	case strings.HasPrefix(cell, "string"):
		return "string"
	case strings.HasPrefix(cell, "number"):
		return "number"
	case strings.HasPrefix(cell, "list"):
		return "list"
	default: // "map …", "`{min, max}` numbers", "`{…}`"
		return "object"
	}
}

func jsonKind(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case float64, int:
		return "number"
	case []any:
		return "list"
	default:
		return "object"
	}
}

// docs/outputs.md is the outputs contract: every output and every key of
// a gpuPools entry the stack exports is documented with its kind, and
// nothing is documented that the stack does not export; judged on the
// prod example, whose pools use every feature the outputs describe.
func TestOutputsReferenceIsTheOutputs(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../docs/outputs.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	_, outputs := runStackFileOutputs(t, "../Pulumi.prod.yaml.example")
	pools, _ := outputs["gpuPools"].(map[string]any)
	training, _ := pools["training"].(map[string]any)
	if training == nil {
		t.Fatal("the prod example exports no gpuPools.training")
	}
	for _, c := range []struct {
		header string
		values map[string]any
	}{
		{"| Output | Type | Example |", outputs},
		{"| Key | Type | Example (prod example's `training`) |", training},
	} {
		rows := outputRows(t, doc, c.header)
		for key, typ := range rows {
			v, ok := c.values[key]
			if !ok {
				t.Errorf("docs/outputs.md documents %s, which the stack does not export", key)
				continue
			}
			if got, want := jsonKind(v), documentedKind(typ); got != want {
				t.Errorf("docs/outputs.md gives %s the type %q; the stack exports a %s", key, typ, got)
			}
		}
		for _, key := range slices.Sorted(maps.Keys(c.values)) {
			if _, ok := rows[key]; !ok {
				t.Errorf("the stack exports %s, which docs/outputs.md does not document", key)
			}
		}
	}
}

// Every relative link of the README and docs/ names a file that exists,
// so that moving a guide cannot leave a reader at a dead end.
func TestDocumentLinksResolve(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, "../README.md")
	link := regexp.MustCompile(`\]\(([^)#\s]+)(#[^)]*)?\)`)
	checked := 0
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range link.FindAllStringSubmatch(string(raw), -1) {
			if strings.Contains(m[1], "://") {
				continue
			}
			checked++
			if _, err := os.Stat(filepath.Join(filepath.Dir(file), m[1])); err != nil {
				t.Errorf("%s links to %s, which does not exist", file, m[1])
			}
		}
	}
	if checked < 10 {
		t.Errorf("only %d relative links found: the pattern no longer reads them", checked)
	}
}
