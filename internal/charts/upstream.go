package charts

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"

	"karpenter-gpu/versions"
)

// UpstreamEnv names a folder of the upstream charts that are not in a Go
// module (the device plugins, the node monitoring agent), laid out as
// `helm pull --untar --untardir NAME-VERSION` leaves them. Unset, it is
// ../shared/charts beside the repository where that folder exists.
const UpstreamEnv = "KARPENTER_GPU_CHARTS"

// An UpstreamChart is a chart the stack installs that no Go module
// carries, with where it is published and the digest it must have.
type UpstreamChart struct {
	Name, Version string
	// Repository is the Helm chart repository that serves the chart, as
	// `helm pull --repo` takes it; empty for a chart published only in a
	// Git repository.
	Repository string
	// Archive is the URL of a .tar.gz of a Git repository at a pinned
	// commit, Path the chart's folder in it, and Beside the files next to
	// that folder that come along (an add-on's configuration schema).
	Archive, Path string
	Beside        []string
	// Digest is the chart's Digest, pinned in versions.
	Digest string
}

// Pinned are the upstream charts at the versions the stack pins.
var Pinned = []UpstreamChart{
	{Name: "nvidia-device-plugin", Version: versions.NvidiaDevicePlugin,
		Repository: versions.NvidiaDevicePluginRepository, Digest: versions.NvidiaDevicePluginDigest},
	{Name: "aws-efa-k8s-device-plugin", Version: versions.EFADevicePlugin,
		Repository: versions.EKSChartsRepository, Digest: versions.EFADevicePluginDigest},
	{Name: "eks-node-monitoring-agent", Version: versions.NodeMonitoringAgent,
		Archive: versions.NodeMonitoringAgentRepository + "/archive/" + versions.NodeMonitoringAgentCommit + ".tar.gz",
		Path:    "charts/eks-node-monitoring-agent", Beside: []string{"configuration.schema.json"},
		Digest: versions.NodeMonitoringAgentDigest},
}

// Upstream is the folder of the pinned chart name at version, checked
// against its digest. It looks, in order, in the folder UpstreamEnv names
// (or ../shared/charts), in the user's cache, and at the chart's public
// source, which it caches. A chart none of them has is an error that says
// how to get it.
func Upstream(name, version string) (string, error) {
	i := slices.IndexFunc(Pinned, func(c UpstreamChart) bool { return c.Name == name && c.Version == version })
	if i < 0 {
		return "", fmt.Errorf("chart %s %s is not one the stack pins", name, version)
	}
	cache, err := CacheDir()
	if err != nil {
		return "", err
	}
	return Pinned[i].Locate(localFolder(), cache)
}

// CacheDir is where fetched charts are kept, outside the work tree.
func CacheDir() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache folder for the upstream charts (set %s): %w", UpstreamEnv, err)
	}
	return filepath.Join(dir, "karpenter-gpu", "charts"), nil
}

// localFolder is the folder UpstreamEnv names, or ../shared/charts beside
// the module where it exists, or "".
func localFolder() string {
	if dir := os.Getenv(UpstreamEnv); dir != "" {
		return dir
	}
	module, err := moduleRoot()
	if err != nil {
		return ""
	}
	dir := filepath.Join(module, "..", "shared", "charts")
	if _, err := os.Stat(dir); err != nil {
		return ""
	}
	return dir
}

// Locate finds the chart in local (skipped when ""), then in cache, then
// fetches it into cache from its source. Each copy is checked against the digest:
// a local copy that differs is an error, not a reason to look further.
func (c UpstreamChart) Locate(local, cache string) (string, error) {
	if local != "" {
		if dir, err := c.at(local); err == nil || !os.IsNotExist(err) {
			return dir, err
		}
	}
	if dir, err := c.at(cache); err == nil || !os.IsNotExist(err) {
		return dir, err
	}
	if err := c.fetch(cache); err != nil {
		return "", fmt.Errorf("%w\n%s", err, c.fix(local))
	}
	return c.at(cache)
}

// at is the chart's folder under root, laid out as `helm pull --untar
// --untardir NAME-VERSION` leaves it, if it is there with the pinned
// digest; an error satisfying os.IsNotExist if it is not there.
func (c UpstreamChart) at(root string) (string, error) {
	dir := filepath.Join(root, c.Name+"-"+c.Version, c.Name)
	if _, err := os.Stat(filepath.Join(dir, "Chart.yaml")); err != nil {
		return "", err
	}
	got, err := c.digestOf(dir)
	if err != nil {
		return "", fmt.Errorf("chart %s %s in %s: %w", c.Name, c.Version, dir, err)
	}
	if got != c.Digest {
		return "", fmt.Errorf("chart %s %s in %s has digest %s, not the pinned %s: it is not the unmodified upstream chart (remove it to fetch it again)", c.Name, c.Version, dir, got, c.Digest)
	}
	return dir, nil
}

// fix says how to provide the chart where it cannot be fetched.
func (c UpstreamChart) fix(local string) string {
	folder := local
	if folder == "" {
		folder = "DIR"
	}
	get := fmt.Sprintf("helm pull %s --repo %s --version %s --untar --untardir %s", c.Name, c.Repository, c.Version, filepath.Join(folder, c.Name+"-"+c.Version))
	if c.Repository == "" {
		get = fmt.Sprintf("mkdir -p %[1]s && curl -sL %[2]s | tar -xz -C %[1]s --strip-components=2 --wildcards '*/%[3]s/*' %[4]s",
			filepath.Join(folder, c.Name+"-"+c.Version), c.Archive, c.Path, besidePatterns(c))
	}
	return fmt.Sprintf("Where %s cannot be reached, get the chart once with\n  %s\nand run with %s=%s", c.source(), get, UpstreamEnv, folder)
}

func besidePatterns(c UpstreamChart) string {
	var patterns []string
	for _, f := range c.Beside {
		patterns = append(patterns, fmt.Sprintf("'*/%s/%s'", filepath.Dir(c.Path), f))
	}
	return strings.Join(patterns, " ")
}

func (c UpstreamChart) source() string {
	if c.Repository != "" {
		return c.Repository
	}
	return c.Archive
}

// digestOf is the Digest of the chart in dir and of the files beside it.
func (c UpstreamChart) digestOf(dir string) (string, error) {
	chrt, err := loader.Load(dir)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	writeChart(h, chrt)
	for _, name := range c.Beside {
		data, err := os.ReadFile(filepath.Join(filepath.Dir(dir), name))
		if err != nil {
			return "", err
		}
		section(h, "beside "+name, data)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// writeChart hashes a chart as Helm loads it: metadata, values, schema,
// templates, files and subcharts. A chart folder and the archive
// `helm package` makes of it load alike, so both have one digest.
func writeChart(h hash.Hash, c *chart.Chart) {
	meta, _ := json.Marshal(c.Metadata)
	values, _ := json.Marshal(c.Values)
	section(h, "metadata", meta)
	section(h, "values", values)
	section(h, "schema", c.Schema)
	for _, group := range []struct {
		kind  string
		files []*chart.File
	}{{"template", c.Templates}, {"file", c.Files}} {
		files := slices.Clone(group.files)
		slices.SortFunc(files, func(a, b *chart.File) int { return strings.Compare(a.Name, b.Name) })
		for _, f := range files {
			section(h, group.kind+" "+f.Name, f.Data)
		}
	}
	deps := slices.Clone(c.Dependencies())
	slices.SortFunc(deps, func(a, b *chart.Chart) int { return strings.Compare(a.Name(), b.Name()) })
	for _, d := range deps {
		section(h, "subchart "+d.Name(), nil)
		writeChart(h, d)
	}
}

// section writes a named, length-prefixed part, so that no two charts
// hash alike by moving bytes between parts.
func section(h hash.Hash, name string, data []byte) {
	fmt.Fprintf(h, "%s %d\n", name, len(data))
	h.Write(data)
}
