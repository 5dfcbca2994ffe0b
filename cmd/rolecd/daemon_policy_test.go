package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rolecd/rolecd/gitsource/gittest"
)

// The daemon validates pull requests against the credential policy: a
// resource whose password_env names rolecd's own key, or a file outside
// credentials.file_dirs, is a problem at its line in the plan comment and
// nothing connects anywhere.
func TestDaemonRefusesCredentialSources(t *testing.T) {
	remote := gittest.New(t)
	remote.Commit("main", "empty", gittest.File("roles/README.md", "role files\n"))
	remote.Branch("steal", remote.Head("main"))
	evil := "resources:\n  - name: evil\n    host: 127.0.0.1\n    port: 1\n    admin:\n      user: postgres\n      password_env: ROLECD_SECRET_KEY\n" +
		"  - name: shadow\n    host: 127.0.0.1\n    port: 1\n    admin:\n      user: postgres\n      password_file: /etc/shadow\n"
	head := remote.Commit("steal", "add resources", gittest.File("roles/evil.yaml", evil))

	dir := t.TempDir()
	cfg := filepath.Join(dir, "rolecd.yaml")
	body := fmt.Sprintf(`git:
  url: %s
  path: roles
  cache_dir: %s
store: sqlite://%s
console:
  pull_requests:
    - {number: 1, branch: steal, title: Add resources}
credentials:
  env_allow: [ROLECD_X*]
`, remote.URL(), filepath.Join(dir, "cache"), filepath.Join(dir, "state", "rolecd.db"))
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	r := rolecd(t, nil, "--config", cfg, "daemon", "--once")
	if r.code != 1 || !strings.Contains(r.stderr, `credentials.env_allow[0]: "ROLECD_X*": ROLECD_* variables are rolecd's own`) {
		t.Fatalf("a configuration allowing ROLECD_*: %+v", r)
	}
	if err := os.WriteFile(cfg, []byte(strings.Replace(body, "  env_allow: [ROLECD_X*]\n", "  file_dirs: [/run/secrets]\n", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	r = rolecd(t, nil, "--config", cfg, "daemon", "--once")
	for _, want := range []string{
		"roles/evil.yaml:7:21: admin.password_env: not allowed by the credential policy: ROLECD_SECRET_KEY is one of rolecd's own secrets",
		`roles/evil.yaml:13:22: admin.password_file: not allowed by the credential policy: "/etc/shadow" is not inside credentials.file_dirs (/run/secrets)`,
		"status rolecd/plan of " + head[:12] + ": failure",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("daemon output lacks %q:\n%s", want, r.stdout)
		}
	}
}
