package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/rolecd/rolecd/internal/credentials"
	"github.com/rolecd/rolecd/planner"
	"github.com/rolecd/rolecd/planner/spec"
	"github.com/rolecd/rolecd/store"
	"github.com/rolecd/rolecd/test/pgtest"
)

// A saved plan is self-contained, as a CI job uses it: plan in the role
// tree, apply -f from a directory that is not the tree (and holds a broken
// role file), creds get from a third, and the URI logs in.
func TestSavedPlanAppliesFromAnywhere(t *testing.T) {
	c := pgtest.Start(t)
	c.CreateDatabase(t, "app")
	c.Exec(t, "app", "CREATE SCHEMA s; CREATE TABLE s.t (id int); INSERT INTO s.t VALUES (7)")
	state := t.TempDir()
	env := map[string]string{"ADMIN_PW": c.Password, "ROLECD_STORE": "sqlite://" + filepath.Join(state, "rolecd.db")}
	roles := writeFiles(t, map[string]string{
		"resources.yaml": resourceYAML("app", c.Host, c.Port),
		"roles.yaml":     "roles:\n  - {resource: app, role: ro, scopes: [app.s], privileges: [SELECT]}\n",
	})
	broken := map[string]string{"resources.yaml": "resources:\n  - {name: app, host: 10.0.0.1, port: nope}\n"}
	ciDir, userDir := writeFiles(t, broken), writeFiles(t, broken)

	t.Chdir(roles)
	if r := rolecd(t, env, "plan", "-o", "plan.json"); r.code != 2 {
		t.Fatalf("plan in the role tree: %+v", r)
	}
	plan := filepath.Join(roles, "plan.json")
	var doc planner.Document
	data, err := os.ReadFile(plan)
	if err != nil || json.Unmarshal(data, &doc) != nil {
		t.Fatalf("reading the plan: %v", err)
	}
	if got := doc.Connections["app"]; got.Host != c.Host || got.Port != c.Port || got.Credential != "env:ADMIN_PW" || got.AdminUser != "postgres" {
		t.Errorf("plan connection = %+v", got)
	}
	if strings.Contains(string(data), c.Password) {
		t.Fatal("the plan document holds the admin password")
	}

	t.Chdir(ciDir)
	r := rolecd(t, env, "apply", "-f", plan)
	if r.code != 0 || !strings.Contains(r.stdout, "1 role: 1 applied") {
		t.Fatalf("apply -f from another directory: %+v", r)
	}
	role := roleName(t, r.stdout)

	t.Chdir(userDir)
	r = rolecd(t, env, "--output", "json", "creds", "get", role)
	var creds struct{ Host, URI, Database string }
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &creds) != nil {
		t.Fatalf("creds get from a third directory: %+v", r)
	}
	if creds.Host != c.Host || creds.Database != "app" {
		t.Errorf("creds = %+v", creds)
	}
	conn, err := pgx.Connect(context.Background(), creds.URI)
	if err != nil {
		t.Fatalf("the URI does not log in: %v", err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT id FROM s.t").Scan(&n); err != nil || n != 7 {
		t.Errorf("reading as %s: %d, %v", role, n, err)
	}
}

// What apply -f refuses, each with its reason on stderr.
func TestSavedPlanRefusals(t *testing.T) {
	c := pgtest.Start(t)
	c.CreateDatabase(t, "app")
	env := map[string]string{"ADMIN_PW": c.Password, "ROLECD_STORE": "sqlite://" + filepath.Join(t.TempDir(), "rolecd.db")}
	roles := writeFiles(t, map[string]string{
		"resources.yaml": resourceYAML("app", c.Host, c.Port),
		"roles.yaml":     "roles:\n  - {resource: app, role: ro, scopes: [app], privileges: [SELECT]}\n",
	})
	plan := filepath.Join(t.TempDir(), "plan.json")
	if r := rolecd(t, env, "--repo", roles, "plan", "-o", plan); r.code != 2 {
		t.Fatalf("plan: %+v", r)
	}
	var doc map[string]any
	data, _ := os.ReadFile(plan)
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	edited := func(edit func(conn map[string]any)) string {
		var d map[string]any
		_ = json.Unmarshal(data, &d)
		conns := d["connections"].(map[string]any)
		if edit == nil {
			delete(d, "connections")
		} else {
			edit(conns["app"].(map[string]any))
		}
		b, _ := json.Marshal(d)
		p := filepath.Join(t.TempDir(), "plan.json")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	moved := writeFiles(t, map[string]string{
		"resources.yaml": resourceYAML("app", c.Host, c.Port+1),
		"roles.yaml":     "roles:\n  - {resource: app, role: ro, scopes: [app], privileges: [SELECT]}\n",
	})
	tests := []struct {
		name   string
		args   []string
		env    map[string]string
		stderr []string
	}{
		{"a connection that differs from --repo", []string{"--repo", moved, "apply", "-f", plan}, env, []string{
			"rolecd: resource app: the plan connects to 127.0.0.1:", "the role files at " + moved + " say 127.0.0.1:", "plan again from these files"}},
		{"a credential source the policy refuses", []string{"apply", "-f", edited(func(c map[string]any) { c["credential"] = "env:ROLECD_SECRET_KEY" })}, env, []string{
			"rolecd: resource app of the plan: admin password_env: not allowed by the credential policy: ROLECD_SECRET_KEY is one of rolecd's own secrets"}},
		{"a password file outside file_dirs", []string{"apply", "-f", edited(func(c map[string]any) { c["credential"] = "file:/etc/shadow" })}, env, []string{
			`rolecd: resource app of the plan: admin password_file: not allowed by the credential policy: "/etc/shadow": no directory is configured in credentials.file_dirs`}},
		{"a plan without connections", []string{"apply", "-f", edited(nil)}, env, []string{
			"rolecd: the plan document has no connection for app (it was written by an older rolecd): plan again, or give --repo with the role files"}},
		{"the admin secret is missing", []string{"apply", "-f", plan}, map[string]string{"ROLECD_STORE": env["ROLECD_STORE"], "ROLECD_CREDENTIALS_ENV_ALLOW": "ADMIN_PW"}, []string{
			"rolecd: resource app: resource app: admin password: environment variable ADMIN_PW is not set", "1 role(s) or resource(s) failed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rolecd(t, tt.env, tt.args...)
			if r.code != 1 {
				t.Fatalf("exit %d, want 1: %+v", r.code, r)
			}
			for _, want := range tt.stderr {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
				}
			}
		})
	}
	// Nothing was applied: the role does not exist.
	var exists bool
	if err := c.Connect(t, "postgres").QueryRow(context.Background(), "SELECT count(*) > 0 FROM pg_roles WHERE rolname LIKE 'rolecd_app_ro_%'").Scan(&exists); err != nil || exists {
		t.Errorf("role exists = %v, %v", exists, err)
	}
}

// admin.password_command runs the operator's command (from rolecd.yaml,
// never from the role files); one the configuration does not define is a
// validation error at its line.
func TestPasswordCommandFromConfig(t *testing.T) {
	c := pgtest.Start(t)
	dir := t.TempDir()
	pw := filepath.Join(dir, "token")
	if err := os.WriteFile(pw, []byte("#!/bin/sh\n[ \"$1\" = \""+c.Host+"\" ] || exit 2\necho '"+c.Password+"'\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "rolecd.yaml")
	if err := os.WriteFile(cfg, []byte("credentials:\n  commands:\n    iam:\n      argv: ["+pw+", \"{host}\"]\n      timeout: 5s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	resource := strings.Replace(resourceYAML("app", c.Host, c.Port), "password_env: ADMIN_PW", "password_command: iam", 1)
	repo := writeFiles(t, map[string]string{"resources.yaml": resource})
	env := map[string]string{"ROLECD_STORE": "sqlite://" + filepath.Join(dir, "rolecd.db")}
	r := rolecd(t, env, "--config", cfg, "--repo", repo, "health")
	if r.code != 0 || !strings.Contains(r.stdout, "status: ok") {
		t.Fatalf("health with a password command: %+v", r)
	}
	if strings.Contains(r.stdout+r.stderr, c.Password) {
		t.Fatal("the command's output was shown")
	}
	other := writeFiles(t, map[string]string{"resources.yaml": strings.Replace(resource, "password_command: iam", "password_command: gcloud", 1)})
	r = rolecd(t, env, "--config", cfg, "validate", other)
	if r.code != 1 || !strings.Contains(r.stdout, `resources.yaml:8:25: admin.password_command: not allowed by the credential policy: "gcloud" is not in credentials.commands (iam)`) {
		t.Fatalf("validate with an unknown command: %+v", r)
	}
}

// A password stored before rolecd stored where it logs in has no host:
// creds get then reads the role files, and says so when it cannot.
func TestCredsGetOfAnOlderCredential(t *testing.T) {
	state := t.TempDir()
	url := "sqlite://" + filepath.Join(state, "rolecd.db")
	env := map[string]string{"ROLECD_STORE": url}
	key, _, err := credentials.LoadKey(func(string) string { return "" }, "", filepath.Join(state, "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	cipher, err := credentials.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	repo := writeFiles(t, map[string]string{
		"resources.yaml": strings.Replace(resourceYAML("app", "db1.internal", 5433), "      password_env: ADMIN_PW\n", "", 1),
		"roles.yaml":     "roles:\n  - {resource: app, role: ro, scopes: [app.s], privileges: [SELECT]}\n",
	})
	tree, err := spec.Load(os.DirFS(repo), spec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	role := tree.Roles[0].Name
	sealed, err := credentials.NewKeeper(cipher).SealRole(role, "old-password")
	if err != nil {
		t.Fatal(err)
	}
	v, err := st.PutPendingCredential(context.Background(), store.Credential{RoleName: role, Resource: "app", Ciphertext: sealed})
	if err != nil || st.ActivateCredential(context.Background(), role, v) != nil || st.Close() != nil {
		t.Fatalf("storing an old-style credential: %v", err)
	}

	t.Chdir(t.TempDir())
	r := rolecd(t, env, "creds", "get", role)
	if r.code != 1 || !strings.Contains(r.stderr, `the stored password of "`+role+`" predates rolecd storing where it logs in, so the role files must tell: no role files found`) {
		t.Fatalf("creds get without the role files: %+v", r)
	}
	r = rolecd(t, env, "--repo", repo, "--output", "json", "creds", "get", role)
	var creds struct{ Host, Database, Password string }
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &creds) != nil || creds.Host != "db1.internal" || creds.Database != "app" || creds.Password != "old-password" {
		t.Fatalf("creds get with the role files: %+v", r)
	}
}
