package helmrelease

import "strings"

// Reference says where Helm finds chart name in a chart repository given
// as configuration: an OCI registry path (oci://…), an HTTP chart
// repository (https://…), or a local folder that holds the chart folders by
// name (an air-gapped deploy runner, a mirror checked out beside the stack).
// chart is what Helm's chart argument gets; repo is the repository option,
// empty when the chart reference is complete by itself.
func Reference(repository, name string) (chart, repo string) {
	switch {
	case strings.HasPrefix(repository, "oci://"):
		return strings.TrimSuffix(repository, "/") + "/" + name, ""
	case IsHTTP(repository):
		return name, repository
	}
	return strings.TrimSuffix(repository, "/") + "/" + name, ""
}

// IsHTTP tells whether a repository is an HTTP chart repository.
func IsHTTP(repository string) bool {
	return strings.HasPrefix(repository, "https://") || strings.HasPrefix(repository, "http://")
}
