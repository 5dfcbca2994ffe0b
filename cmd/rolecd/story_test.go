package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/rolecd/rolecd/test/pgtest"
)

// The whole CLI story on a throwaway cluster: plan -> apply -> creds ->
// sessions, then drift refused with exit 3.
func TestPlanApplyCredsSessions(t *testing.T) {
	c := pgtest.Start(t)
	c.CreateDatabase(t, "app")
	c.Exec(t, "app", "CREATE SCHEMA s; CREATE TABLE s.t (id int); INSERT INTO s.t VALUES (42)")
	dir := t.TempDir()
	env := map[string]string{"ADMIN_PW": c.Password, "ROLECD_STORE": "sqlite://" + filepath.Join(dir, "state", "rolecd.db")}
	repo := writeFiles(t, map[string]string{
		"resources.yaml": resourceYAML("app", c.Host, c.Port),
		"roles.yaml":     "roles:\n  - {resource: app, role: ro, scopes: [app.s], privileges: [SELECT]}\n",
	})

	r := rolecd(t, env, "--repo", repo, "plan")
	if r.code != 2 {
		t.Fatalf("plan: %+v", r)
	}
	m := regexp.MustCompile(`rolecd apply --sid ([0-9a-f-]{36})`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("plan does not tell how to apply:\n%s", r.stdout)
	}
	sid := m[1]
	if _, err := os.Stat(filepath.Join(dir, "state", "secret.key")); err != nil {
		t.Errorf("no secret key created beside the SQLite store: %v", err)
	}

	r = rolecd(t, env, "--repo", repo, "apply", "--sid", sid)
	if r.code != 0 || !strings.Contains(r.stdout, "applied") || !strings.Contains(r.stdout, "1 role: 1 applied, 0 skipped, 0 refused, 0 failed.") {
		t.Fatalf("apply: %+v", r)
	}
	if strings.Contains(r.stdout, "SCRAM-SHA-256") {
		t.Error("apply output shows the verifier")
	}

	r = rolecd(t, env, "--repo", repo, "--output", "json", "creds", "get", roleName(t, r.stdout))
	var creds struct {
		Role, Host, User, Password, Database, URI string
		Port                                      int
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &creds) != nil {
		t.Fatalf("creds get: %+v", r)
	}
	conn, err := pgx.Connect(context.Background(), creds.URI)
	if err != nil {
		t.Fatalf("the URI from creds get does not log in: %v", err)
	}
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT id FROM s.t").Scan(&n); err != nil || n != 42 {
		t.Errorf("reading through the generated credentials: %d, %v", n, err)
	}
	conn.Close(context.Background())

	r = rolecd(t, env, "--repo", repo, "plan")
	if r.code != 0 || !strings.Contains(r.stdout, "in sync") {
		t.Fatalf("plan after apply: %+v", r)
	}

	r = rolecd(t, env, "--repo", repo, "--output", "json", "sessions", "list")
	var list []struct {
		SID    string `json:"sid"`
		Kind   string `json:"kind"`
		Status string `json:"status"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &list) != nil {
		t.Fatalf("sessions list: %+v", r)
	}
	kinds := []string{}
	for _, s := range list {
		kinds = append(kinds, s.Kind+":"+s.Status)
	}
	if got, want := strings.Join(kinds, " "), "plan:no-changes credential:ok apply:applied plan:changes"; got != want {
		t.Errorf("sessions newest first = %q, want %q", got, want)
	}
	for _, s := range list {
		if s.Kind != "apply" {
			continue
		}
		r = rolecd(t, env, "--repo", repo, "sessions", "show", s.SID)
		if r.code != 0 || !strings.Contains(r.stdout, "kind:      apply") || !strings.Contains(r.stdout, "plan:      "+sid) || !strings.Contains(r.stdout, "PASSWORD '<redacted>'") {
			t.Errorf("sessions show: %+v", r)
		}
		if strings.Contains(r.stdout, creds.Password) {
			t.Error("sessions show prints the password")
		}
	}
	r = rolecd(t, env, "--repo", repo, "sessions", "list", "--kind", "plan", "--status", "changes")
	if r.code != 0 || strings.Count(r.stdout, "\n") != 2 {
		t.Errorf("filtered list: %+v", r)
	}

	// Drift between plan and apply: exit 3, nothing changed.
	if err := os.WriteFile(filepath.Join(repo, "roles.yaml"), []byte("roles:\n  - {resource: app, role: ro, scopes: [app.s], privileges: [SELECT, INSERT]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	planFile := filepath.Join(dir, "plan.json")
	if r = rolecd(t, env, "--repo", repo, "plan", "-o", planFile); r.code != 2 {
		t.Fatalf("plan: %+v", r)
	}
	c.Exec(t, "app", fmt.Sprintf(`GRANT DELETE ON s.t TO %q`, creds.Role))
	r = rolecd(t, env, "--repo", repo, "apply", "-f", planFile)
	if r.code != 3 || !strings.Contains(r.stdout, "refused") || !strings.Contains(r.stderr, "drifted") {
		t.Fatalf("apply after drift: %+v", r)
	}

	// An out-of-band password change is detected and reset by the next apply.
	c.Exec(t, "postgres", fmt.Sprintf(`ALTER ROLE %q PASSWORD 'changed-by-hand'`, creds.Role))
	r = rolecd(t, env, "--repo", repo, "plan")
	if r.code != 2 || !strings.Contains(r.stdout, "reset password: password changed outside rolecd") {
		t.Fatalf("plan after a password change: %+v", r)
	}
}

// roleName finds the role name in apply output.
func roleName(t *testing.T, out string) string {
	t.Helper()
	m := regexp.MustCompile(`rolecd_app_ro_[0-9a-f]{8}`).FindString(out)
	if m == "" {
		t.Fatalf("no role name in:\n%s", out)
	}
	return m
}

func TestAdminSetAndImport(t *testing.T) {
	c := pgtest.Start(t)
	c.Exec(t, "postgres", `CREATE ROLE rolecd_admin LOGIN SUPERUSER PASSWORD 'admin-secret-1'`)
	env := map[string]string{"ROLECD_STORE": "sqlite://" + filepath.Join(t.TempDir(), "rolecd.db")}
	// No password_env: the store (or libpq's sources) provides it.
	res := strings.Replace(resourceYAML("app", c.Host, c.Port), "      password_env: ADMIN_PW\n", "", 1)
	repo := writeFiles(t, map[string]string{"resources.yaml": res})

	if r := rolecd(t, env, "--repo", repo, "health"); r.code != 1 {
		t.Fatalf("health without credentials: %+v", r)
	}
	env["STDIN"] = "wrong-password\n"
	r := rolecd(t, env, "--repo", repo, "admin", "set", "--resource", "app", "--user", "rolecd_admin")
	if r.code != 1 || !strings.Contains(r.stderr, "nothing stored") || strings.Contains(r.stdout+r.stderr, "wrong-password") {
		t.Fatalf("admin set with a wrong password: %+v", r)
	}
	env["STDIN"] = "admin-secret-1\n"
	if r = rolecd(t, env, "--repo", repo, "admin", "set", "--resource", "app", "--user", "rolecd_admin"); r.code != 0 {
		t.Fatalf("admin set: %+v", r)
	}
	if r = rolecd(t, env, "--repo", repo, "health"); r.code != 0 || !strings.Contains(r.stdout, "status: ok") {
		t.Fatalf("health with the stored credential: %+v", r)
	}

	csvPath := filepath.Join(t.TempDir(), "creds.csv")
	body := "name,admin_user,password\napp,rolecd_admin,nope\nmissing,x,y\napp,rolecd_admin,admin-secret-1\n"
	if err := os.WriteFile(csvPath, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	r = rolecd(t, env, "--repo", repo, "admin", "import", csvPath)
	if r.code != 1 || !strings.Contains(r.stderr, "creds.csv:2: resource app") || !strings.Contains(r.stderr, `creds.csv:3: unknown resource "missing"`) ||
		!strings.Contains(r.stdout, "creds.csv:4: resource app: admin credential stored") || strings.Contains(r.stdout+r.stderr, "admin-secret-1") {
		t.Fatalf("admin import: %+v", r)
	}
}
