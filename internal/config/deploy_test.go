package config

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// k8sDoc is what the deploy test reads of a Kubernetes object.
type k8sDoc struct {
	Kind string            `yaml:"kind"`
	Data map[string]string `yaml:"data"`
	Spec struct {
		Type  string `yaml:"type"`
		Ports []struct {
			Name       string `yaml:"name"`
			Port       int    `yaml:"port"`
			TargetPort any    `yaml:"targetPort"`
		} `yaml:"ports"`
		Rules []struct {
			HTTP struct {
				Paths []struct {
					Path     string `yaml:"path"`
					PathType string `yaml:"pathType"`
				} `yaml:"paths"`
			} `yaml:"http"`
		} `yaml:"rules"`
		Template struct {
			Spec struct {
				Containers []struct {
					Ports []struct {
						Name          string `yaml:"name"`
						ContainerPort int    `yaml:"containerPort"`
					} `yaml:"ports"`
				} `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

// The shipped examples must load: deploy/rolecd.yaml and the rolecd.yaml
// inside the Kubernetes ConfigMap; and neither exposes the API: its
// listener is on loopback, the Service carries only the webhook
// listener's port, and the Ingress routes only /webhooks/github.
func TestDeployExamplesLoad(t *testing.T) {
	noEnv := func(string) string { return "" }
	loopbackAPI := func(what string, c Config) {
		t.Helper()
		host, _, err := net.SplitHostPort(c.API.Listen)
		if err != nil || !net.ParseIP(host).IsLoopback() {
			t.Errorf("%s: api.listen %q is not a loopback address", what, c.API.Listen)
		}
		if c.API.TokenEnv == "" && c.API.TokenFile == "" {
			t.Errorf("%s: no API token configured", what)
		}
	}
	c, err := Load(filepath.Join("..", "..", "deploy", "rolecd.yaml"), false, noEnv)
	if err != nil {
		t.Errorf("deploy/rolecd.yaml: %v", err)
	}
	loopbackAPI("deploy/rolecd.yaml", c)
	data, err := os.ReadFile(filepath.Join("..", "..", "deploy", "kubernetes", "rolecd.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	for {
		var doc k8sDoc
		if err := dec.Decode(&doc); err != nil {
			break
		}
		kinds[doc.Kind]++
		switch doc.Kind {
		case "ConfigMap":
			p := filepath.Join(t.TempDir(), "rolecd.yaml")
			if err := os.WriteFile(p, []byte(doc.Data["rolecd.yaml"]), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := Load(p, false, noEnv)
			if err != nil {
				t.Errorf("kubernetes ConfigMap rolecd.yaml: %v", err)
			}
			loopbackAPI("kubernetes ConfigMap", c)
			if !strings.HasSuffix(c.Listen, ":8080") {
				t.Errorf("kubernetes ConfigMap: listen %q is not the container port 8080", c.Listen)
			}
		case "Deployment":
			for _, ct := range doc.Spec.Template.Spec.Containers {
				for _, p := range ct.Ports {
					if p.ContainerPort != 8080 {
						t.Errorf("Deployment declares container port %d (%s): only the webhook listener's 8080", p.ContainerPort, p.Name)
					}
				}
			}
		case "Service":
			if doc.Spec.Type != "" && doc.Spec.Type != "ClusterIP" {
				t.Errorf("Service type %s exposes the daemon outside the cluster", doc.Spec.Type)
			}
			for _, p := range doc.Spec.Ports {
				if p.TargetPort != "http" {
					t.Errorf("Service port %s targets %v, want only the webhook listener (http)", p.Name, p.TargetPort)
				}
			}
		case "Ingress":
			for _, r := range doc.Spec.Rules {
				for _, p := range r.HTTP.Paths {
					if p.Path != "/webhooks/github" || p.PathType != "Exact" {
						t.Errorf("Ingress routes %s (%s): only /webhooks/github, Exact", p.Path, p.PathType)
					}
				}
			}
		}
	}
	for _, k := range []string{"ConfigMap", "Deployment", "Service", "Ingress"} {
		if kinds[k] != 1 {
			t.Errorf("deploy/kubernetes/rolecd.yaml has %d %s, want 1", kinds[k], k)
		}
	}
}
