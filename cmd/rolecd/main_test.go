package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rolecd/rolecd/planner"
	"github.com/rolecd/rolecd/test/pgtest"
)

type result struct {
	code           int
	stdout, stderr string
}

func rolecd(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	getenv := func(k string) string {
		// The role files of these tests read ADMIN_PW, which the operator
		// must allow (credentials.env_allow); a test may set its own.
		if _, set := env[k]; !set && k == "ROLECD_CREDENTIALS_ENV_ALLOW" && env["ADMIN_PW"] != "" {
			return "ADMIN_PW"
		}
		return env[k]
	}
	code := run(args, strings.NewReader(env["STDIN"]), &out, &errb, getenv)
	return result{code, out.String(), errb.String()}
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func resourceYAML(name string, host string, port int) string {
	return fmt.Sprintf("resources:\n  - name: %s\n    host: %s\n    port: %d\n    sslmode: disable\n    admin:\n      user: postgres\n      password_env: ADMIN_PW\n", name, host, port)
}

func TestValidate(t *testing.T) {
	good := writeFiles(t, map[string]string{
		"resources.yaml": resourceYAML("app", "127.0.0.1", 5432),
		"roles.csv":      "resource_name,type,role,scopes,permissions,source_role\napp,managed,ro,app.public,SELECT,\n",
	})
	allow := map[string]string{"ROLECD_CREDENTIALS_ENV_ALLOW": "ADMIN_PW"}
	r := rolecd(t, allow, "validate", good)
	if r.code != 0 || !strings.Contains(r.stdout, "ok: 1 resources, 1 roles") {
		t.Fatalf("validate good: %+v", r)
	}
	bad := writeFiles(t, map[string]string{
		"resources.yaml": resourceYAML("app", "127.0.0.1", 5432),
		"roles.csv":      "resource_name,type,role,scopes,permissions,source_role\napp,managed,ro,app.public,SELECT;FLY,\nnope,managed,rw,app,SELECT,\n",
	})
	r = rolecd(t, allow, "validate", bad)
	if r.code != 1 {
		t.Fatalf("validate bad: exit %d, want 1: %+v", r.code, r)
	}
	for _, want := range []string{"roles.csv:2", "FLY", "roles.csv:3", "nope"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("validate output lacks %q:\n%s", want, r.stdout)
		}
	}
	if lines := strings.Count(strings.TrimSpace(r.stderr), "\n"); lines != 0 {
		t.Errorf("stderr should be one line, got:\n%s", r.stderr)
	}
	r = rolecd(t, allow, "--output", "json", "validate", bad)
	var out struct {
		Valid    bool
		Problems []struct {
			File    string
			Line    int
			Message string
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || out.Valid || len(out.Problems) < 2 || out.Problems[0].Line != 2 {
		t.Errorf("json validate: %v %+v", err, out)
	}
}

func TestHealthAndPlan(t *testing.T) {
	c := pgtest.Start(t)
	c.CreateDatabase(t, "app")
	c.Exec(t, "app", "CREATE TABLE public.t (id int)")
	env := map[string]string{"ADMIN_PW": c.Password, "ROLECD_STORE": "sqlite://" + filepath.Join(t.TempDir(), "rolecd.db")}
	repo := writeFiles(t, map[string]string{
		"resources.yaml":     resourceYAML("app", c.Host, c.Port),
		"roles.yaml":         "roles:\n  - {resource: app, role: ro, scopes: [app], privileges: [SELECT]}\n",
		"../hoop-batch.yaml": "items:\n  - resource_name: app\n    type: managed\n    role: hoopro\n    scopes: [app.public]\n    privileges: [SELECT]\n    rotate_password: false\n",
	})

	t.Run("health ok", func(t *testing.T) {
		r := rolecd(t, env, "--repo", repo, "health", "--resource", "app")
		if r.code != 0 || !strings.Contains(r.stdout, "status: ok") || !strings.Contains(r.stdout, "server_version: ") {
			t.Fatalf("%+v", r)
		}
	})
	t.Run("health failed", func(t *testing.T) {
		secret := "wrong-password-123"
		r := rolecd(t, map[string]string{"ADMIN_PW": secret, "ROLECD_STORE": env["ROLECD_STORE"]}, "--repo", repo, "health", "--resource", "app")
		if r.code != 1 || !strings.Contains(r.stdout, "status: failed") || !strings.Contains(r.stdout, "reason: ") {
			t.Fatalf("%+v", r)
		}
		if strings.Contains(r.stdout+r.stderr, secret) {
			t.Fatalf("password leaked: %+v", r)
		}
	})
	t.Run("plan text", func(t *testing.T) {
		r := rolecd(t, env, "--repo", repo, "plan")
		if r.code != 2 {
			t.Fatalf("exit %d, want 2: %+v", r.code, r)
		}
		for _, want := range []string{"resource app", "+ rolecd_app_ro_", "scope app: 1 table, unprovisioned", "CREATE ROLE", "PASSWORD '<redacted>'", "checksum ", "1 role: 1 to change"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("plan output lacks %q:\n%s", want, r.stdout)
			}
		}
	})
	t.Run("plan json and -o", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "plan.json")
		r := rolecd(t, env, "--repo", repo, "--output", "json", "plan", "-o", out)
		if r.code != 2 {
			t.Fatalf("exit %d: %+v", r.code, r)
		}
		var doc planner.Document
		if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
			t.Fatal(err)
		}
		written, err := os.ReadFile(out)
		if err != nil || !bytes.Equal(written, []byte(r.stdout)) {
			t.Errorf("-o file differs from stdout (%v)", err)
		}
		if doc.Version != 1 || doc.SID == "" || len(doc.Resources) != 1 || len(doc.Resources[0].Roles) != 1 {
			t.Fatalf("doc = %+v", doc)
		}
		role := doc.Resources[0].Roles[0]
		if len(role.Checksum) != 64 || role.CurrentState.Exists || !role.CurrentState.RequiresMigration || role.Config.Label != "ro" {
			t.Errorf("role = %+v", role)
		}
	})
	t.Run("ad-hoc role from flags", func(t *testing.T) {
		r := rolecd(t, env, "--repo", repo, "--output", "json", "plan", "--resource", "app", "--role", "adhoc", "--scopes", "app.public", "--privileges", "select,insert")
		if r.code != 2 {
			t.Fatalf("exit %d: %+v", r.code, r)
		}
		var doc planner.Document
		if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
			t.Fatal(err)
		}
		if got := doc.Resources[0].Roles; len(got) != 1 || got[0].Config.Label != "adhoc" || strings.Join(got[0].Config.Privileges, ",") != "SELECT,INSERT" {
			t.Errorf("roles = %+v", got)
		}
	})
	t.Run("ad-hoc role with a bad privilege", func(t *testing.T) {
		r := rolecd(t, env, "--repo", repo, "plan", "--resource", "app", "--role", "adhoc", "--scopes", "app", "--privileges", "fly")
		if r.code != 1 || !strings.Contains(r.stderr, "fly") && !strings.Contains(r.stderr, "FLY") {
			t.Errorf("%+v", r)
		}
	})
	t.Run("hoop batch file", func(t *testing.T) {
		r := rolecd(t, env, "--repo", repo, "plan", "-f", filepath.Join(repo, "..", "hoop-batch.yaml"))
		if r.code != 2 || !strings.Contains(r.stdout, "rolecd_app_hoopro_") || strings.Contains(r.stdout, "rolecd_app_ro_") {
			t.Errorf("%+v", r)
		}
	})
	t.Run("nothing to change exits 0", func(t *testing.T) {
		empty := writeFiles(t, map[string]string{"resources.yaml": resourceYAML("app", c.Host, c.Port)})
		r := rolecd(t, env, "--repo", empty, "plan")
		if r.code != 0 || !strings.Contains(r.stdout, "0 roles: 0 to change") {
			t.Errorf("%+v", r)
		}
	})
	t.Run("unreachable resource exits 1 and still shows the others", func(t *testing.T) {
		two := writeFiles(t, map[string]string{
			"a.yaml": resourceYAML("app", c.Host, c.Port) + "roles:\n  - {resource: app, role: ro, scopes: [app], privileges: [SELECT]}\n",
			"b.yaml": resourceYAML("down", "127.0.0.1", 1),
		})
		r := rolecd(t, env, "--repo", two, "plan")
		if r.code != 1 || !strings.Contains(r.stdout, "resource down: FAILED") || !strings.Contains(r.stdout, "+ rolecd_app_ro_") {
			t.Errorf("%+v", r)
		}
	})
}
