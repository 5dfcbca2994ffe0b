package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The shipped examples must load: deploy/rolecd.yaml and the rolecd.yaml
// inside the Kubernetes ConfigMap.
func TestDeployExamplesLoad(t *testing.T) {
	noEnv := func(string) string { return "" }
	if _, err := Load(filepath.Join("..", "deploy", "rolecd.yaml"), false, noEnv); err != nil {
		t.Errorf("deploy/rolecd.yaml: %v", err)
	}
	data, err := os.ReadFile(filepath.Join("..", "deploy", "kubernetes", "rolecd.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	for {
		var doc struct {
			Kind string            `yaml:"kind"`
			Data map[string]string `yaml:"data"`
		}
		if err := dec.Decode(&doc); err != nil {
			break
		}
		if doc.Kind != "ConfigMap" {
			continue
		}
		found = true
		p := filepath.Join(t.TempDir(), "rolecd.yaml")
		if err := os.WriteFile(p, []byte(doc.Data["rolecd.yaml"]), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(p, false, noEnv); err != nil {
			t.Errorf("kubernetes ConfigMap rolecd.yaml: %v", err)
		}
	}
	if !found {
		t.Error("no ConfigMap in deploy/kubernetes/rolecd.yaml")
	}
}
