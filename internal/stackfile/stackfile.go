// Package stackfile reads the config block of a Pulumi stack file
// (Pulumi.<stack>.yaml) into the strings the engine hands a program.
package stackfile

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"
)

// Read returns the stack file's configuration by fully qualified key:
// scalars as text, objects and lists as JSON, as the engine passes them.
func Read(file string) (map[string]string, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Config map[string]any `json:"config"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	out := make(map[string]string, len(doc.Config))
	for key, v := range doc.Config {
		if s, ok := v.(string); ok {
			out[key] = s
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", file, key, err)
		}
		out[key] = string(b)
	}
	return out, nil
}

// StackName is the stack a file is named for: Pulumi.NAME.yaml (or
// .yaml.example); ok is false for a file not so named.
func StackName(file string) (name string, ok bool) {
	base := filepath.Base(file)
	name = strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(base, "Pulumi."), ".example"), ".yaml")
	return name, name != base && name != "" && strings.HasPrefix(base, "Pulumi.")
}
