package e2e

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// scenarioNames are the harness's scenarios, as its tables declare them
// (name and title side by side), in the order of its files.
func scenarioNames(t *testing.T, files ...string) []string {
	t.Helper()
	var names []string
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`name:\s*"([a-z-]+)",\s*title:`).FindAllStringSubmatch(string(raw), -1) {
			names = append(names, m[1])
		}
	}
	if len(names) == 0 {
		t.Fatalf("no scenario in %v", files)
	}
	return names
}

func read(t *testing.T, file string) string {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// docs/e2e.md names every scenario of the run, and no other, each where a
// list item begins.
func TestTheRunsDocumentNamesItsScenarios(t *testing.T) {
	all := scenarioNames(t, "harness/scenarios.go", "harness/disruption.go")
	var listed []string
	for _, m := range regexp.MustCompile("(?m)^\\s*- ((?:`[a-z-]+`(?:,| and then| and)? ?)+)[: ]").FindAllStringSubmatch(read(t, "../docs/e2e.md"), -1) {
		for _, name := range regexp.MustCompile("`([a-z-]+)`").FindAllStringSubmatch(m[1], -1) {
			listed = append(listed, name[1])
		}
	}
	for _, name := range all {
		if !slices.Contains(listed, name) {
			t.Errorf("docs/e2e.md does not describe scenario %s", name)
		}
	}
	for _, name := range listed {
		if !slices.Contains(all, name) {
			t.Errorf("docs/e2e.md describes scenario %s, which the run does not have", name)
		}
	}
}

// The table of what ends a GPU job names, for every row the run shows,
// the scenario that showed it: every disruption scenario has its row (or,
// for what a pool holds, its paragraph), and every scenario a row names is
// one the run has.
func TestWhatEndsAJobIsWhatTheRunShowed(t *testing.T) {
	all := scenarioNames(t, "harness/scenarios.go", "harness/disruption.go")
	disruption := slices.DeleteFunc(scenarioNames(t, "harness/disruption.go"), func(n string) bool { return n == "disruption" })
	doc := read(t, "../docs/disruption.md")
	start := strings.Index(doc, "## What ends a GPU job")
	if start < 0 {
		t.Fatal("docs/disruption.md has no section What ends a GPU job")
	}
	section := doc[start:]
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}
	var named []string
	rows := 0
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if !strings.HasPrefix(line, "|") || len(cells) != 4 || strings.HasPrefix(strings.TrimSpace(cells[0]), "---") || strings.TrimSpace(cells[0]) == "Path" {
			continue
		}
		rows++
		measured := strings.TrimSpace(cells[3])
		found := regexp.MustCompile("^`([a-z-]+)`:").FindStringSubmatch(measured)
		switch {
		case found != nil:
			named = append(named, found[1])
		case measured != "not run":
			t.Errorf("row %q: what the run measured begins with neither a scenario nor \"not run\": %q", strings.TrimSpace(cells[0]), measured)
		}
	}
	if rows < len(disruption) {
		t.Fatalf("%d rows for %d disruption scenarios", rows, len(disruption))
	}
	for _, name := range named {
		if !slices.Contains(all, name) {
			t.Errorf("the table names scenario %s, which the run does not have", name)
		}
	}
	// The limits scenarios measure what a pool holds, in the section on it.
	for _, name := range disruption {
		if !slices.Contains(named, name) && !strings.Contains(doc, "`"+name+"` measured it") {
			t.Errorf("docs/disruption.md does not say what scenario %s measured", name)
		}
	}
}
