package charts_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"sigs.k8s.io/yaml"

	"karpenter-gpu/internal/charts"
)

// source serves the pinned charts the way their public sources do: the
// device plugins as `helm package` archives behind a Helm repository's
// index.yaml, the node monitoring agent as GitHub's .tar.gz of its
// repository. It serves the unmodified copies the tests use, changed by
// tamper if given.
type source struct {
	*httptest.Server
	requests atomic.Int32
}

func serve(t *testing.T, tamper func(dir string)) *source {
	t.Helper()
	files := map[string][]byte{}
	index := map[string]any{"apiVersion": "v1", "entries": map[string]any{}}
	for _, c := range charts.Pinned {
		dir, err := charts.Upstream(c.Name, c.Version)
		if err != nil {
			t.Fatal(err)
		}
		copied := filepath.Join(t.TempDir(), c.Name+"-"+c.Version)
		if err := os.CopyFS(copied, os.DirFS(filepath.Dir(dir))); err != nil {
			t.Fatal(err)
		}
		if tamper != nil {
			tamper(filepath.Join(copied, c.Name))
		}
		if c.Repository != "" {
			chrt, err := loader.Load(filepath.Join(copied, c.Name))
			if err != nil {
				t.Fatal(err)
			}
			out := t.TempDir()
			archive, err := chartutil.Save(chrt, out)
			if err != nil {
				t.Fatal(err)
			}
			if files["/charts/"+filepath.Base(archive)], err = os.ReadFile(archive); err != nil {
				t.Fatal(err)
			}
			index["entries"].(map[string]any)[c.Name] = []map[string]any{
				{"name": c.Name, "version": "0.0.1", "urls": []string{"charts/wrong.tgz"}},
				{"name": c.Name, "version": c.Version, "urls": []string{"charts/" + filepath.Base(archive)}},
			}
			continue
		}
		files["/archive.tar.gz"] = gitArchive(t, copied, c)
	}
	data, err := yaml.Marshal(index)
	if err != nil {
		t.Fatal(err)
	}
	files["/repo/index.yaml"] = data
	s := &source{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		path := strings.TrimPrefix(r.URL.Path, "/repo")
		if r.URL.Path == "/repo/index.yaml" {
			path = r.URL.Path
		}
		body, ok := files[path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

// gitArchive lays the chart out as GitHub's archive of the repository
// does: one top folder, the chart at its path, the files beside it, and
// the rest of the repository.
func gitArchive(t *testing.T, copied string, c charts.UpstreamChart) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	top := "eks-node-monitoring-agent-0123abc/"
	add := func(name string, data []byte) {
		if err := tw.WriteHeader(&tar.Header{Name: top + name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(data)
	}
	add("go.mod", []byte("module example\n"))
	add("charts/README.md", []byte("not part of the chart\n"))
	for _, name := range c.Beside {
		data, err := os.ReadFile(filepath.Join(copied, name))
		if err != nil {
			t.Fatal(err)
		}
		add(filepath.Dir(c.Path)+"/"+name, data)
	}
	err := filepath.WalkDir(filepath.Join(copied, c.Name), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		rel, _ := filepath.Rel(filepath.Join(copied, c.Name), path)
		add(c.Path+"/"+filepath.ToSlash(rel), data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

// from points the chart at the test server.
func (s *source) from(c charts.UpstreamChart) charts.UpstreamChart {
	if c.Repository != "" {
		c.Repository = s.URL + "/repo"
	} else {
		c.Archive = s.URL + "/archive.tar.gz"
	}
	return c
}

// Each pinned chart is fetched from its source into the cache, where it
// has its pinned digest, and is found there the next time without a
// request.
func TestUpstreamChartsAreFetchedAndCached(t *testing.T) {
	s := serve(t, nil)
	cache := t.TempDir()
	for _, pinned := range charts.Pinned {
		c := s.from(pinned)
		dir, err := c.Locate("", cache)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		if want := filepath.Join(cache, c.Name+"-"+c.Version, c.Name); dir != want {
			t.Errorf("%s: in %s, want %s", c.Name, dir, want)
		}
		if _, err := loader.Load(dir); err != nil {
			t.Errorf("%s: the cached chart does not load: %v", c.Name, err)
		}
		for _, name := range c.Beside {
			if _, err := os.Stat(filepath.Join(filepath.Dir(dir), name)); err != nil {
				t.Errorf("%s: %s did not come along: %v", c.Name, name, err)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(cache, "eks-node-monitoring-agent-"+charts.Pinned[2].Version, "go.mod")); err == nil {
		t.Error("the rest of the agent's repository was cached with its chart")
	}
	before := s.requests.Load()
	if before == 0 {
		t.Fatal("no chart was fetched")
	}
	for _, pinned := range charts.Pinned {
		if _, err := s.from(pinned).Locate("", cache); err != nil {
			t.Fatal(err)
		}
	}
	if after := s.requests.Load(); after != before {
		t.Errorf("%d requests for charts already in the cache", after-before)
	}
}

// A source that serves a chart other than the pinned one, even by one
// value, is refused and leaves nothing in the cache; so is a local copy
// that was changed.
func TestChangedChartsAreRefused(t *testing.T) {
	changeValues := func(dir string) {
		values := filepath.Join(dir, "values.yaml")
		data, err := os.ReadFile(values)
		if err != nil {
			t.Fatal(err)
		}
		os.Chmod(values, 0o644)
		if err := os.WriteFile(values, append(data, []byte("\nchangedByTest: true\n")...), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := serve(t, changeValues)
	cache := t.TempDir()
	for _, pinned := range charts.Pinned {
		c := s.from(pinned)
		_, err := c.Locate("", cache)
		if err == nil || !strings.Contains(err.Error(), "not the pinned "+c.Digest) {
			t.Errorf("%s: a changed chart from the source: %v", c.Name, err)
		}
	}
	if entries, _ := os.ReadDir(cache); len(entries) != 0 {
		t.Errorf("the cache holds %v after refused fetches", entries)
	}

	local := t.TempDir()
	c := charts.Pinned[0]
	dir, err := charts.Upstream(c.Name, c.Version)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(filepath.Join(local, c.Name+"-"+c.Version), os.DirFS(filepath.Dir(dir))); err != nil {
		t.Fatal(err)
	}
	changeValues(filepath.Join(local, c.Name+"-"+c.Version, c.Name))
	if _, err := c.Locate(local, t.TempDir()); err == nil || !strings.Contains(err.Error(), "is not the unmodified upstream chart") {
		t.Errorf("a changed local copy: %v", err)
	}
}

// Where neither the source nor a folder has the chart, the error gives
// the command that gets it and the setting that uses it.
func TestUnreachableChartSaysHowToGetIt(t *testing.T) {
	s := serve(t, nil)
	s.Close()
	for _, pinned := range charts.Pinned {
		c := s.from(pinned)
		_, err := c.Locate("", t.TempDir())
		if err == nil {
			t.Fatalf("%s: fetched from a closed server", c.Name)
		}
		want := fmt.Sprintf("helm pull %s --repo %s --version %s --untar --untardir DIR/%s-%s", c.Name, c.Repository, c.Version, c.Name, c.Version)
		if c.Repository == "" {
			want = "curl -sL " + c.Archive
		}
		if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), charts.UpstreamEnv+"=DIR") {
			t.Errorf("%s: %v\nwant it to say %q and %s=DIR", c.Name, err, want, charts.UpstreamEnv)
		}
	}
}
