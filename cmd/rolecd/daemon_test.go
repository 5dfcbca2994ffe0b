package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rolecd/rolecd/gitsource/gittest"
	"github.com/rolecd/rolecd/test/pgtest"
)

// `rolecd daemon --once` with the console forge, as the demo runs it: the
// first pass prints the plan comment of a branch declared as a pull
// request; after the branch is merged, the next pass applies it and prints
// the result; the sessions list shows both.
func TestDaemonOnceConsole(t *testing.T) {
	c := pgtest.Start(t)
	c.CreateDatabase(t, "app")
	c.Exec(t, "app", "CREATE TABLE public.t (id int)")
	remote := gittest.New(t)
	remote.Commit("main", "declare app", gittest.File("roles/resources.yaml", resourceYAML("app", c.Host, c.Port)))
	remote.Branch("add-ro", remote.Head("main"))
	head := remote.Commit("add-ro", "add ro",
		gittest.File("roles/roles.yaml", "roles:\n  - {resource: app, role: ro, scopes: [app.public], privileges: [SELECT]}\n"))

	dir := t.TempDir()
	cfg := filepath.Join(dir, "rolecd.yaml")
	body := fmt.Sprintf(`git:
  url: %s
  path: roles
  cache_dir: %s
store: sqlite://%s
console:
  pull_requests:
    - number: 1
      branch: add-ro
      title: Add a read-only role
`, remote.URL(), filepath.Join(dir, "cache"), filepath.Join(dir, "state", "rolecd.db"))
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"ADMIN_PW": c.Password}

	r := rolecd(t, env, "--config", cfg, "daemon", "--once")
	if r.code != 0 {
		t.Fatalf("first pass: %+v", r)
	}
	for _, want := range []string{
		"comment on pull request #1 (plan)",
		"rolecd_app_ro_",
		"status rolecd/plan of " + head[:12] + ": success: 1 role to change",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("first pass output lacks %q:\n%s", want, r.stdout)
		}
	}
	if !strings.Contains(r.stderr, `"level":"info"`) {
		t.Errorf("the daemon does not log JSON lines on stderr:\n%s", r.stderr)
	}
	if strings.Contains(r.stderr+r.stdout, c.Password) {
		t.Error("the admin password appears in the output")
	}

	merge := remote.Merge("main", head, "Merge add-ro")
	r = rolecd(t, env, "--config", cfg, "daemon", "--once")
	if r.code != 0 {
		t.Fatalf("second pass: %+v", r)
	}
	for _, want := range []string{
		"comment on pull request #1",
		"### rolecd apply: applied",
		"status rolecd/apply of " + merge[:12] + ": success: 1 applied, 0 skipped",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("second pass output lacks %q:\n%s", want, r.stdout)
		}
	}
	r = rolecd(t, env, "--config", cfg, "sessions", "list", "--kind", "apply")
	if r.code != 0 || strings.Count(r.stdout, "applied") != 1 {
		t.Errorf("sessions list: %+v", r)
	}
	// A third pass has nothing to do and prints nothing.
	r = rolecd(t, env, "--config", cfg, "daemon", "--once")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "" {
		t.Errorf("third pass: %+v", r)
	}
}

func TestDaemonConfigErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, config, want string
		env                map[string]string
	}{
		{"no git url", "store: sqlite://" + filepath.Join(dir, "a.db") + "\n", "git.url is required", nil},
		{"bad schedule", "git:\n  url: file:///nowhere\ndrift:\n  schedule: every tuesday\n", "drift.schedule", nil},
		{"github without token", fmt.Sprintf("git:\n  url: file:///nowhere\ngithub:\n  owner: acme\n  repo: roles\n  token_env: GH_TOKEN_FOR_TEST\nstore: sqlite://%s\n", filepath.Join(dir, "b.db")), "GH_TOKEN_FOR_TEST is empty", nil},
		{"unreachable repository", fmt.Sprintf("git:\n  url: file://%s\n  cache_dir: %s\nstore: sqlite://%s\n", filepath.Join(dir, "missing.git"), filepath.Join(dir, "cache"), filepath.Join(dir, "c.db")), "missing.git", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := filepath.Join(t.TempDir(), "rolecd.yaml")
			if err := os.WriteFile(cfg, []byte(tc.config), 0o600); err != nil {
				t.Fatal(err)
			}
			r := rolecd(t, tc.env, "--config", cfg, "daemon", "--once")
			if r.code != 1 || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want 1 mentioning %q", r.code, r.stderr, tc.want)
			}
		})
	}
}
