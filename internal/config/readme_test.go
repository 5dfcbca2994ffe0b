package config

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/rolecd/rolecd/planner/spec"
)

// readmeSection returns the text of the README section under heading, up to
// the next heading of any level.
func readmeSection(t *testing.T, heading string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(data), "\n"+heading+"\n")
	if !ok {
		t.Fatalf("README.md: no %q section", heading)
	}
	if i := strings.Index(rest, "\n#"); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

// yamlHas reports whether the mapping document root has the dotted key path.
func yamlHas(root *yaml.Node, path string) bool {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	for _, key := range strings.Split(path, ".") {
		if n.Kind != yaml.MappingNode {
			return false
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				next = n.Content[i+1]
			}
		}
		if next == nil {
			return false
		}
		n = next
	}
	return true
}

// The README's "Run it against GitHub" guide stays true: the rolecd.yaml it
// points to (deploy/rolecd.yaml) loads with the environment the guide has
// the operator set, has every rolecd.yaml key the guide names, uses the
// variable names and listeners the guide gives, and the files it names
// exist; a resource using password_env, allowed as the guide says, parses.
func TestReadmeGitHubGuide(t *testing.T) {
	guide := readmeSection(t, "### Run it against GitHub")
	const example = "deploy/rolecd.yaml"
	if !strings.Contains(guide, "`"+example+"`") {
		t.Fatalf("the guide no longer points to %s; update this test", example)
	}
	// Every `path` the guide names under deploy/ exists.
	for _, m := range regexp.MustCompile("`(deploy/[^` ]+)`").FindAllStringSubmatch(guide, -1) {
		if _, err := os.Stat(filepath.Join("..", "..", m[1])); err != nil {
			t.Errorf("the guide names %s: %v", m[1], err)
		}
	}

	// The variables the guide tells the operator to set, with dummy values.
	env := map[string]string{
		"GITHUB_TOKEN":          "github_pat_dummy",
		"ROLECD_WEBHOOK_SECRET": "0123456789abcdef0123456789abcdef",
		"ROLECD_SECRET_KEY":     "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
		"ROLECD_API_TOKEN":      "dummy-api-token-dummy-api-token",
	}
	for name := range env {
		if !strings.Contains(guide, name) {
			t.Errorf("the guide no longer names %s; update this test", name)
		}
	}
	path := filepath.Join("..", "..", example)
	c, err := Load(path, false, func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("%s with the guide's environment: %v", example, err)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("%s: %v", example, err)
	}

	// The rolecd.yaml keys the guide names: `a.b` and `key: value`.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	for _, m := range regexp.MustCompile("`([a-z_]+(?:\\.[a-z_]+)+)(?::[^`]*)?`").FindAllStringSubmatch(guide, -1) {
		if !strings.HasSuffix(m[1], ".yaml") { // a file name, not a key
			keys[m[1]] = true
		}
	}
	for _, m := range regexp.MustCompile("`([a-z_]+): [^`]+`").FindAllStringSubmatch(guide, -1) {
		keys[m[1]] = true
	}
	for _, want := range []string{"git.url", "git.path", "github.owner", "github.repo", "store", "listen", "credentials.env_allow", "github.api_url"} {
		if !keys[want] {
			t.Errorf("the guide no longer names %s; update this test", want)
		}
	}
	for key := range keys {
		if !yamlHas(&root, key) {
			t.Errorf("the guide names %s, which %s does not have", key, example)
		}
	}

	// The values the guide gives.
	for _, check := range []struct{ what, got, want string }{
		{"git.token_env", c.Git.TokenEnv, "GITHUB_TOKEN"},
		{"github.token_env", c.GitHub.TokenEnv, "GITHUB_TOKEN"},
		{"github.webhook_secret_env", c.GitHub.WebhookSecretEnv, "ROLECD_WEBHOOK_SECRET"},
		{"listen", c.Listen, "0.0.0.0:8080"},
		{"api.listen", c.API.Listen, "127.0.0.1:8081"},
	} {
		if check.got != check.want {
			t.Errorf("%s: %s is %q, the guide says %q", example, check.what, check.got, check.want)
		}
	}
	for _, s := range []string{"`listen: 0.0.0.0:8080`", "`127.0.0.1:8081`", "`store: postgres://...`"} {
		if !strings.Contains(guide, s) {
			t.Errorf("the guide no longer says %s; update this test", s)
		}
	}
	if !strings.HasPrefix(c.Store, "postgres://") {
		t.Errorf("%s: store %q, the guide says postgres://...", example, c.Store)
	}

	// Step 6: a resource's password_env, allowed in credentials.env_allow.
	if !strings.Contains(guide, "`password_env`") {
		t.Fatal("the guide no longer names password_env; update this test")
	}
	resource := "resources:\n  - name: analytics\n    host: db1.internal\n    admin:\n      user: rolecd\n      password_env: ANALYTICS_ADMIN_PASSWORD\n"
	if _, err := spec.Parse([]spec.File{{Name: "resources.yaml", Data: []byte(resource)}}, spec.Options{Credentials: c.CredentialPolicy()}); err != nil {
		t.Errorf("a resource with password_env allowed by %s: %v", example, err)
	}
}
