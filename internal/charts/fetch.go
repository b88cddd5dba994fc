package charts

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"helm.sh/helm/v3/pkg/chart/loader"
	"sigs.k8s.io/yaml"
)

// fetchTimeout bounds each download: a machine that cannot reach the
// source should say so, not hang the tests.
const fetchTimeout = 2 * time.Minute

// fetch downloads the chart from its source into cache, checks its digest
// and only then moves it into place, so that the cache never holds a
// partial or altered copy.
func (c UpstreamChart) fetch(cache string) error {
	files, err := c.download()
	if err != nil {
		return fmt.Errorf("fetching chart %s %s from %s: %w", c.Name, c.Version, c.source(), err)
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(cache, ".fetch-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	for name, data := range files {
		path := filepath.Join(tmp, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return err
		}
	}
	if _, err := c.at(tmp); err != nil {
		return fmt.Errorf("fetched from %s: %w", c.source(), err)
	}
	folder := c.Name + "-" + c.Version
	err = os.Rename(filepath.Join(tmp, folder), filepath.Join(cache, folder))
	if err != nil && !errors.Is(err, os.ErrExist) && !isNotEmpty(err) {
		return err
	}
	// Another process may have put the same chart there first.
	return nil
}

// download returns the chart's files by their paths under the cache
// (NAME-VERSION/NAME/..., and the files beside the chart folder).
func (c UpstreamChart) download() (map[string][]byte, error) {
	source := c.Archive
	if c.Repository != "" {
		var err error
		if source, err = chartURL(c.Repository, c.Name, c.Version); err != nil {
			return nil, err
		}
	}
	archive, err := get(source)
	if err != nil {
		return nil, err
	}
	// Helm's own reader of chart archives: it strips the top folder and
	// refuses paths that leave it.
	entries, err := loader.LoadArchiveFiles(archive)
	if err != nil {
		return nil, err
	}
	folder := c.Name + "-" + c.Version
	files := map[string][]byte{}
	for _, e := range entries {
		switch {
		case c.Path == "":
			files[folder+"/"+c.Name+"/"+e.Name] = e.Data
		case strings.HasPrefix(e.Name, c.Path+"/"):
			files[folder+"/"+c.Name+"/"+strings.TrimPrefix(e.Name, c.Path+"/")] = e.Data
		}
		for _, beside := range c.Beside {
			if e.Name == strings.TrimPrefix(filepath.ToSlash(filepath.Join(filepath.Dir(c.Path), beside)), "./") {
				files[folder+"/"+beside] = e.Data
			}
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s has no %s", source, c.Path)
	}
	return files, nil
}

// chartURL finds the chart's archive in the repository's index.yaml, as
// `helm pull --repo URL NAME --version VERSION` does. Helm's own repo
// package would do it, but links Kubernetes' CLI libraries into every
// test binary that renders a chart, which doubles their link time.
func chartURL(repository, name, version string) (string, error) {
	base, err := url.Parse(strings.TrimSuffix(repository, "/") + "/")
	if err != nil {
		return "", err
	}
	data, err := get(base.JoinPath("index.yaml").String())
	if err != nil {
		return "", fmt.Errorf("%s is not a chart repository that can be reached: %w", repository, err)
	}
	var index struct {
		Entries map[string][]struct {
			Version string   `json:"version"`
			URLs    []string `json:"urls"`
		} `json:"entries"`
	}
	if err := yaml.Unmarshal(data.Bytes(), &index); err != nil {
		return "", fmt.Errorf("%s/index.yaml: %w", repository, err)
	}
	for _, entry := range index.Entries[name] {
		if entry.Version == version && len(entry.URLs) > 0 {
			ref, err := url.Parse(entry.URLs[0])
			if err != nil {
				return "", err
			}
			return base.ResolveReference(ref).String(), nil
		}
	}
	return "", fmt.Errorf("chart %s version %s is not in %s", name, version, repository)
}

func get(source string) (*bytes.Buffer, error) {
	client := http.Client{Timeout: fetchTimeout}
	resp, err := client.Get(source)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", source, resp.Status)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return nil, fmt.Errorf("GET %s: %w", source, err)
	}
	return &buf, nil
}

// isNotEmpty: renaming onto a folder that exists and has files.
func isNotEmpty(err error) bool {
	var linkErr *os.LinkError
	return errors.As(err, &linkErr) && strings.Contains(linkErr.Err.Error(), "not empty")
}
