package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rolecd/rolecd/test/pgtest"
)

// A Hoop team's files, unchanged, planned and applied against a real
// cluster: they grant exactly what Hoop grants (a bare "app" scope is
// app.public only: hr.salaries stays out of reach) under the role names
// Hoop's function gives.
func TestHoopFilesGrantWhatHoopGrants(t *testing.T) {
	c := pgtest.Start(t)
	c.CreateDatabase(t, "app")
	c.Exec(t, "app", "CREATE TABLE public.orders (id int); CREATE SCHEMA hr; CREATE TABLE hr.salaries (id int)")
	work := t.TempDir() // where the user stands: not the role tree
	env := map[string]string{
		"ADMIN_PW": c.Password, "ROLECD_ROLE_PREFIX": "hoopdev",
		"ROLECD_STORE": "sqlite://" + filepath.Join(work, "state", "rolecd.db"),
	}
	repo := writeFiles(t, map[string]string{"resources.yaml": resourceYAML("app", c.Host, c.Port)})
	// Hoop's import CSV (docs: Provisioning hub, "Import from CSV"), here in
	// the older managed-only form without source_role, label in capitals,
	// permissions written as in SQL.
	hoopCSV := filepath.Join(work, "hoop-roles.csv")
	writeFile(t, hoopCSV, "resource_name,type,role,scopes,permissions\napp,managed,RO,app,\"SELECT, INSERT\"\n")
	// Hoop's batch plan file (hoop resources plan -f), with an item whose
	// resource this inventory does not have.
	batch := filepath.Join(work, "plan.yaml")
	writeFile(t, batch, `items:
  - resource_name: app
    type: managed
    role: RW
    source_role: ""
    scopes: [app]
    privileges: [SELECT, UPDATE]
    rotate_password: false
  - resource_name: warehouse
    type: managed
    role: ro
    scopes: [wh]
    privileges: [SELECT]
`)

	// Role names computed by hand from Hoop's generateSecurePostgresRoleName:
	// the CSV importer sends "ro", the batch CLI sends "RW" unchanged.
	const ro, rw = "hoopdev_app_ro_7249975c", "hoopdev_app_rw_a50c46e8"

	planFile := filepath.Join(work, "csv-plan.json")
	r := rolecd(t, env, "--repo", repo, "plan", "-f", hoopCSV, "-o", planFile)
	if r.code != 2 || !strings.Contains(r.stdout, "+ "+ro) || !strings.Contains(r.stdout, "scope app.public: 1 table") {
		t.Fatalf("plan -f CSV: %+v", r)
	}
	if strings.Contains(r.stdout, "hr") {
		t.Errorf("plan of a bare Hoop scope mentions schema hr:\n%s", r.stdout)
	}
	if r = rolecd(t, env, "--repo", repo, "apply", "-f", planFile); r.code != 0 {
		t.Fatalf("apply CSV plan: %+v", r)
	}

	r = rolecd(t, env, "--repo", repo, "plan", "-f", batch, "-o", filepath.Join(work, "batch-plan.json"))
	if r.code != 1 || !strings.Contains(r.stdout, "+ "+rw) || !strings.Contains(r.stdout, `resource not found: "warehouse"`) {
		t.Fatalf("plan -f batch: want the app item planned and the warehouse item failed alone, exit 1: %+v", r)
	}
	r = rolecd(t, env, "--repo", repo, "apply", "-f", filepath.Join(work, "batch-plan.json"))
	if r.code != 1 || !strings.Contains(r.stdout, rw) {
		t.Fatalf("apply batch plan: want the app item applied and the failed item reported: %+v", r)
	}

	conn := c.Connect(t, "app")
	for _, tt := range []struct {
		role, table, priv string
		want              bool
	}{
		{ro, "public.orders", "SELECT", true},
		{ro, "public.orders", "INSERT", true},
		{ro, "public.orders", "UPDATE", false},
		{ro, "hr.salaries", "SELECT", false},
		{rw, "public.orders", "UPDATE", true},
		{rw, "public.orders", "INSERT", false},
		{rw, "hr.salaries", "SELECT", false},
	} {
		var got bool
		if err := conn.QueryRow(context.Background(), "SELECT has_table_privilege($1, $2, $3)", tt.role, tt.table, tt.priv).Scan(&got); err != nil {
			t.Fatalf("%s: %v", tt.role, err)
		}
		if got != tt.want {
			t.Errorf("%s %s on %s = %v, want %v", tt.role, tt.priv, tt.table, got, tt.want)
		}
	}
	var hrUsage bool
	if err := conn.QueryRow(context.Background(), "SELECT has_schema_privilege($1, 'hr', 'USAGE')", ro).Scan(&hrUsage); err != nil || hrUsage {
		t.Errorf("%s has USAGE on schema hr (%v)", ro, err)
	}

	// The YAML Hoop's CLI writes with -o is no rolecd plan: said plainly,
	// from a directory without role files.
	result := filepath.Join(work, "plan-result.yaml")
	writeFile(t, result, "results:\n  - sid: 5701046a-7b7a-4a78-abb0-a24c95e6fe54\n    resource_name: app\n    role: hoopdev_app_ro_7249975c\n    source_role: \"\"\n    status: out-of-sync\n    message: \"\"\n")
	r = rolecd(t, env, "apply", "-f", result)
	if r.code != 1 || !strings.Contains(r.stderr, "Hoop plan-result file") || !strings.Contains(r.stderr, "rolecd plan -f") || strings.Contains(r.stderr, "invalid character") {
		t.Errorf("apply -f of a Hoop plan-result file: %+v", r)
	}
}

func writeFile(t *testing.T, name, body string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}
