package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rolecd/rolecd/internal/cluster"
	"github.com/rolecd/rolecd/internal/credentials"
	"github.com/rolecd/rolecd/planner"
	"github.com/rolecd/rolecd/planner/spec"
	"github.com/rolecd/rolecd/store"
	"github.com/rolecd/rolecd/test/pgtest"
	"github.com/rolecd/rolecd/test/pgtest/profiles"
)

// managedEnv is one profile's cluster: the admin it gives, and the
// resources pointing at it.
type managedEnv struct {
	p        profiles.Profile
	c        *pgtest.Cluster
	admin    profiles.Admin
	clusters map[string]*pgtest.Cluster
}

// limited reports whether the admin is not a superuser.
func (e *managedEnv) limited() bool { return !e.p.Superuser() }

// pg16 reports whether the server has PostgreSQL 16's CREATEROLE rules.
func (e *managedEnv) pg16() bool { return e.c.VersionNum >= 160000 }

// resource declares resource name on the cluster with the profile's admin.
func (e *managedEnv) resource(name string) string {
	e.clusters[name] = e.c
	return fmt.Sprintf("  - name: %s\n    host: %s\n    port: %d\n    sslmode: disable\n    admin:\n      user: %s\n      password_env: PGTEST_PASSWORD_%s\n",
		name, e.c.Host, e.c.Port, e.admin.User, strings.ToUpper(name))
}

// asAdmin prefixes SQL run by the superuser so that it runs as the admin.
func (e *managedEnv) asAdmin(sql string) string {
	return fmt.Sprintf("SET ROLE %q; %s; RESET ROLE", e.admin.User, sql)
}

func (e *managedEnv) tree(t *testing.T, files map[string]string) *spec.Tree {
	t.Helper()
	tree, err := parseTree(t, files)
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

// TestManaged runs, for every admin profile (self-hosted superuser,
// self-hosted CREATEROLE, RDS/Aurora, Cloud SQL, Azure; see
// test/pgtest/profiles) on the server's version, what a team does on such
// a service: the roles.example workload converges in one apply (its BI
// role granted pg_read_all_data), roles created by the admin and by
// another CREATEROLE role are adopted, a removed role that owns tables is
// dropped, and a table owned by a role the admin is not a member of is a
// clear plan error before anything runs.
func TestManaged(t *testing.T) {
	for _, p := range profiles.All() {
		t.Run(p.Name, func(t *testing.T) {
			c := pgtest.Start(t, pgtest.Config{Settings: map[string]string{"log_statement": "all"}})
			t.Logf("%s on server_version_num %d", p.Service, c.VersionNum)
			e := &managedEnv{p: p, c: c, admin: p.Setup(t, c), clusters: map[string]*pgtest.Cluster{}}
			t.Run("Profile", e.testProfile)
			t.Run("Workload", e.testWorkload)
			t.Run("Adopt", e.testAdopt)
			t.Run("DropOwner", e.testDropOwner)
			t.Run("NotMember", e.testNotMember)
			t.Run("PasswordMaxAge", e.testPasswordMaxAge)
		})
	}
}

// The simulated admin is what the service gives: not a superuser, no
// pg_authid, and log_statement out of reach.
func (e *managedEnv) testProfile(t *testing.T) {
	ctx := context.Background()
	conn, err := connectAs(ctx, e.c, e.admin.User, e.admin.Password, "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var super, createRole bool
	if err := conn.QueryRow(ctx, `SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user`).Scan(&super, &createRole); err != nil {
		t.Fatal(err)
	}
	if super != e.p.Superuser() || !createRole {
		t.Fatalf("admin %s: superuser %v, createrole %v", e.admin.User, super, createRole)
	}
	_, authidErr := conn.Exec(ctx, `SELECT rolpassword FROM pg_authid LIMIT 1`)
	_, logErr := conn.Exec(ctx, `SET log_statement = 'none'`)
	if e.limited() && (authidErr == nil || logErr == nil) {
		t.Errorf("a %s admin reads pg_authid (%v) or sets log_statement (%v)", e.p.Name, authidErr, logErr)
	}
	if !e.limited() && (authidErr != nil || logErr != nil) {
		t.Errorf("the superuser: %v, %v", authidErr, logErr)
	}
	if e.p.Group != "" {
		for _, r := range append([]string{e.p.Group}, e.p.Predefined(e.c.VersionNum)...) {
			right := "USAGE"
			if profiles.GrantOnly(r) {
				right = "MEMBER WITH ADMIN OPTION"
			}
			if !queryBool(t, e.c, "postgres", fmt.Sprintf(`SELECT pg_has_role('%s', '%s', '%s')`, e.admin.User, r, right)) {
				t.Errorf("admin %s lacks %s on %s", e.admin.User, right, r)
			}
		}
	}
}

// roles.example, pointed at this cluster: plan, apply, re-plan empty; the
// server log holds no generated password, and, where the admin cannot
// silence it, the SCRAM verifier.
func (e *managedEnv) testWorkload(t *testing.T) {
	c, a := e.c, e.admin
	for _, db := range []string{"analytics", "legacy", "billing"} {
		e.p.CreateDatabase(t, c, a, db)
	}
	profiles.CreateOwner(t, c, a, "app_owner", true)
	c.Exec(t, "analytics", `CREATE SCHEMA reporting AUTHORIZATION app_owner;
		CREATE TABLE public.events (id serial, at timestamptz); ALTER TABLE public.events OWNER TO app_owner;
		SET ROLE app_owner; CREATE TABLE reporting.daily (id bigserial, total int); RESET ROLE`)
	c.Exec(t, "legacy", `CREATE TABLE public.orders (id int); ALTER TABLE public.orders OWNER TO app_owner`)
	c.Exec(t, "billing", `CREATE SCHEMA invoices AUTHORIZATION app_owner;
		CREATE TABLE public.customers (id int); ALTER TABLE public.customers OWNER TO app_owner;
		SET ROLE app_owner; CREATE TABLE invoices.lines (id serial, amount numeric); RESET ROLE`)
	c.Exec(t, "postgres", e.asAdmin(`CREATE ROLE billing_support NOLOGIN`))

	files := map[string]string{"resources.yaml": "resources:\n" + e.resource("analytics") + e.resource("billing")}
	for _, name := range []string{"analytics.yaml", "billing.csv"} {
		body, err := os.ReadFile(filepath.Join("..", "..", "roles.example", name))
		if err != nil {
			t.Fatal(err)
		}
		files[name] = string(body)
	}
	tree := e.tree(t, files)
	doc := plan(t, tree, e.clusters)
	if e.p.Name == "createrole" && e.pg16() {
		// A plain CREATEROLE admin holds no ADMIN OPTION on predefined
		// roles from 16 on: the plan says so, and what fixes it.
		want := fmt.Sprintf(`role "bi": admin %q lacks ADMIN OPTION on source role "pg_read_all_data", which granting it needs from PostgreSQL 16 on; fix: GRANT "pg_read_all_data" TO %q WITH ADMIN OPTION`, a.User, a.User)
		if got := resourceError(doc, "analytics"); !strings.Contains(got, want) {
			t.Fatalf("plan error %q, want %q", got, want)
		}
		c.Exec(t, "postgres", fmt.Sprintf(`GRANT pg_read_all_data TO %q WITH ADMIN OPTION`, a.User))
		doc = plan(t, tree, e.clusters)
	}
	h := newApplyHarness(t, e.clusters)
	h.mustApply(t, doc, tree)
	requireEmpty(t, plan(t, tree, e.clusters))

	bi := expand("{analytics:bi}")
	if !queryBool(t, c, "analytics", fmt.Sprintf(`SELECT pg_has_role('%s', 'pg_read_all_data', 'USAGE')`, bi)) {
		t.Errorf("%s does not read through pg_read_all_data", bi)
	}
	for _, check := range []dbSQL{
		{"analytics", directTableCheck("public.events", "{analytics:ro}", "SELECT")},
		{"analytics", directTableCheck("reporting.daily", "{analytics:rw}", "UPDATE")},
		{"legacy", directTableCheck("public.orders", "{analytics:ro}", "SELECT")},
		{"billing", directTableCheck("invoices.lines", "{billing:app}", "INSERT")},
	} {
		if !queryBool(t, c, check.db, expand(check.sql)) {
			t.Errorf("%s: not true: %s", check.db, expand(check.sql))
		}
	}
	// Grants on app_owner's tables are recorded as made by the owner.
	if !queryBool(t, c, "analytics", expand(`SELECT EXISTS (SELECT 1 FROM pg_class c, aclexplode(c.relacl) a
		WHERE c.oid = 'reporting.daily'::regclass AND a.grantee = '{analytics:rw}'::regrole AND a.grantor = 'app_owner'::regrole)`)) {
		t.Error("the grant on reporting.daily is not recorded as granted by its owner")
	}
	// A table app_owner creates later is readable at once.
	c.Exec(t, "analytics", `SET ROLE app_owner; CREATE TABLE reporting.later (id int); RESET ROLE`)
	if !queryBool(t, c, "analytics", expand(directTableCheck("reporting.later", "{analytics:rw}", "SELECT"))) {
		t.Error("default privileges FOR ROLE app_owner do not cover a new table")
	}

	log, err := c.ServerLog()
	if err != nil {
		t.Fatal(err)
	}
	for _, label := range []string{"{analytics:ro}", "{analytics:rw}", "{billing:app}"} {
		if pw, _ := h.password(t, expand(label)); strings.Contains(log, pw) {
			t.Errorf("the server log holds the password of %s", expand(label))
		}
	}
	if verifier := strings.Contains(log, "SCRAM-SHA-256$"); verifier != e.limited() {
		t.Errorf("SCRAM verifier in the server log: %v, want %v (log_statement silenced for superusers only)", verifier, e.limited())
	}
}

func resourceError(doc *planner.Document, resource string) string {
	for _, rp := range doc.Resources {
		if rp.Resource == resource {
			return rp.Error
		}
	}
	return ""
}

// A role created by the admin, and one created by another CREATEROLE
// role, are adopted; from PostgreSQL 16 on the second needs ADMIN OPTION,
// which the plan names until its creator grants it.
func (e *managedEnv) testAdopt(t *testing.T) {
	c, a := e.c, e.admin
	e.p.CreateDatabase(t, c, a, "app")
	c.Exec(t, "app", e.asAdmin(`CREATE SCHEMA s; CREATE TABLE s.t (id int)`))
	mine, theirs := expand("{app:mine}"), expand("{app:theirs}")
	c.Exec(t, "postgres", `CREATE ROLE other_admin LOGIN CREATEROLE`,
		e.asAdmin("CREATE ROLE "+mine+" LOGIN"),
		"SET ROLE other_admin; CREATE ROLE "+theirs+" LOGIN")
	tree := e.tree(t, map[string]string{"resources.yaml": "resources:\n" + e.resource("app"), "roles.yaml": `roles:
  - {resource: app, role: mine, scopes: [app.s], privileges: [SELECT]}
  - {resource: app, role: theirs, scopes: [app.s], privileges: [SELECT]}
`})
	doc := plan(t, tree, e.clusters)
	if e.limited() && e.pg16() {
		got := resourceError(doc, "app")
		want := fmt.Sprintf(`role "theirs": admin %q lacks ADMIN OPTION on existing role %q (created by another role)`, a.User, theirs)
		if !strings.Contains(got, want) || !strings.Contains(got, fmt.Sprintf(`fix: GRANT %q TO %q WITH ADMIN OPTION, run by a superuser or by one that holds it WITH ADMIN OPTION: "other_admin"`, theirs, a.User)) || strings.Contains(got, `"mine"`) {
			t.Fatalf("plan error %q, want %q with its fix, and nothing about mine", got, want)
		}
		c.Exec(t, "postgres", fmt.Sprintf(`SET ROLE other_admin; GRANT %s TO %q WITH ADMIN OPTION`, theirs, a.User))
		doc = plan(t, tree, e.clusters)
	}
	for _, r := range doc.Resources[0].Roles {
		if !r.CurrentState.Adopt {
			t.Errorf("%s is not adopted: %+v", r.Config.RoleName, r.CurrentState)
		}
	}
	newApplyHarness(t, e.clusters).mustApply(t, doc, tree)
	requireEmpty(t, plan(t, tree, e.clusters))
	for _, name := range []string{mine, theirs} {
		if !queryBool(t, c, "postgres", fmt.Sprintf(`SELECT shobj_description('%s'::regrole, 'pg_authid') LIKE 'rolecd: %%'`, name)) {
			t.Errorf("%s carries no marker", name)
		}
	}
}

// A removed role that owns tables and has an open session is dropped:
// the session ends, its tables go to the admin.
func (e *managedEnv) testDropOwner(t *testing.T) {
	c, a := e.c, e.admin
	e.p.CreateDatabase(t, c, a, "shop")
	res := "resources:\n" + e.resource("shop")
	keep := "  - {resource: shop, role: keep, scopes: [shop.public], privileges: [SELECT]}\n"
	old := expand("{shop:old}")
	tree := e.tree(t, map[string]string{"resources.yaml": res, "roles.yaml": "roles:\n" + keep +
		"  - {resource: shop, role: old, scopes: [shop.public], privileges: [SELECT]}\n"})
	h := newApplyHarness(t, e.clusters)
	h.mustApply(t, plan(t, tree, e.clusters), tree)
	c.Exec(t, "shop", fmt.Sprintf(`CREATE SCHEMA old_s AUTHORIZATION %s; SET ROLE %s; CREATE TABLE old_s.t (id serial); CREATE TABLE old_s.u (id int); RESET ROLE`, old, old))

	ctx := context.Background()
	pw, _ := h.password(t, old)
	session, err := connectAs(ctx, c, old, pw, "shop")
	if err != nil {
		t.Fatal(err)
	}
	defer session.Close(ctx)

	tree = e.tree(t, map[string]string{"resources.yaml": res, "roles.yaml": "roles:\n" + keep})
	doc := plan(t, tree, e.clusters)
	sql := allSQL(doc)
	grant := fmt.Sprintf(`GRANT "%s" TO "%s"`, old, a.User)
	if strings.Contains(sql, grant) != e.limited() {
		t.Errorf("removal plan has %s: %v, want %v:\n%s", grant, !e.limited(), e.limited(), sql)
	}
	h.mustApply(t, doc, tree)
	if queryBool(t, c, "postgres", fmt.Sprintf(`SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '%s')`, old)) {
		t.Fatal("the removed role still exists")
	}
	if err := session.Ping(ctx); err == nil {
		t.Error("the removed role's session survived")
	}
	if !queryBool(t, c, "shop", fmt.Sprintf(`SELECT bool_and(pg_get_userbyid(relowner) = '%s') FROM pg_class WHERE relnamespace = 'old_s'::regnamespace`, a.User)) {
		t.Error("the removed role's tables were not reassigned to the admin")
	}
	requireEmpty(t, plan(t, tree, e.clusters))
}

// A table owned by a role the admin is not a member of: the plan names
// the owner and the fix, and nothing runs; once the fix is applied the
// role converges, its grant recorded as the owner's.
func (e *managedEnv) testNotMember(t *testing.T) {
	c, a := e.c, e.admin
	e.p.CreateDatabase(t, c, a, "ext")
	profiles.CreateOwner(t, c, a, "stranger", false)
	c.Exec(t, "ext", e.asAdmin(`CREATE SCHEMA s; GRANT USAGE, CREATE ON SCHEMA s TO stranger`),
		`SET ROLE stranger; CREATE TABLE s.theirs (id int); RESET ROLE`)
	tree := e.tree(t, map[string]string{"resources.yaml": "resources:\n" + e.resource("ext"),
		"roles.yaml": "roles:\n  - {resource: ext, role: ro, scopes: [ext.s], privileges: [SELECT]}\n"})
	doc := plan(t, tree, e.clusters)
	got := resourceError(doc, "ext")
	if !e.limited() {
		if got != "" {
			t.Fatalf("superuser plan error: %s", got)
		}
	} else {
		fix := fmt.Sprintf(`fix: GRANT "stranger" TO %q`, a.User)
		for _, want := range []string{
			fmt.Sprintf(`role "ro": objects in schema "ext"."s" owned by "stranger": admin %q does not have the privileges of "stranger", so PostgreSQL would grant nothing there; %s`, a.User, fix),
			fmt.Sprintf(`role "ro": default privileges FOR ROLE "stranger" in schema "ext"."s": admin %q cannot act as "stranger" (SET ROLE), which ALTER DEFAULT PRIVILEGES FOR ROLE needs; %s`, a.User, fix),
		} {
			if !strings.Contains(got, want) {
				t.Errorf("plan error %q lacks %q", got, want)
			}
		}
		if len(doc.Resources[0].Roles) != 0 {
			t.Fatal("a plan with an error has roles to apply")
		}
		c.Exec(t, "postgres", fmt.Sprintf(`GRANT stranger TO %q`, a.User))
		doc = plan(t, tree, e.clusters)
	}
	newApplyHarness(t, e.clusters).mustApply(t, doc, tree)
	requireEmpty(t, plan(t, tree, e.clusters))
	if !queryBool(t, c, "ext", expand(`SELECT EXISTS (SELECT 1 FROM pg_class c, aclexplode(c.relacl) a
		WHERE c.oid = 's.theirs'::regclass AND a.grantee = '{ext:ro}'::regrole AND a.privilege_type = 'SELECT' AND a.grantor = 'stranger'::regrole)`)) {
		t.Error("SELECT on s.theirs is not granted, as its owner")
	}
}

// Without pg_authid the plan says password drift is not checked;
// password_max_age rotates a password that has grown older than that,
// whatever the admin, and once rotated the plan is empty.
func (e *managedEnv) testPasswordMaxAge(t *testing.T) {
	c, a := e.c, e.admin
	e.p.CreateDatabase(t, c, a, "rot")
	tree := e.tree(t, map[string]string{"resources.yaml": "resources:\n" + e.resource("rot"),
		"roles.yaml": "roles:\n  - {resource: rot, role: app, scopes: [rot.public], privileges: [SELECT], password_max_age: 30d}\n"})
	h := newApplyHarness(t, e.clusters)
	planAt := func(now time.Time) *planner.Document {
		t.Helper()
		dialer := cluster.Dialer{Getenv: env(e.clusters)}
		doc, err := cluster.Plan(context.Background(), tree, cluster.Options{
			Inspect: dialer.Inspect,
			Passwords: cluster.Passwords{Credentials: func(ctx context.Context, role string) ([]store.Credential, error) {
				versions, err := h.store.Credentials(ctx, role)
				if errors.Is(err, store.ErrNotFound) {
					return nil, nil
				}
				return versions, err
			}, Keeper: credentials.NewKeeper(h.cipher),
				Connect: dialer.Connect, Now: func() time.Time { return now }}.Check,
			SID: "test",
		})
		if err != nil {
			t.Fatalf("plan: %v", err)
		}
		return doc
	}
	doc := planAt(time.Now())
	note := fmt.Sprintf(`password drift is not checked: admin %q is not a superuser and cannot read pg_authid`, a.User)
	if notes := strings.Join(doc.Resources[0].Notes, "\n"); strings.Contains(notes, note) != e.limited() {
		t.Errorf("plan notes %q: want the drift note %v", notes, e.limited())
	}
	if got := doc.Resources[0].Roles[0].Config.PasswordMaxAge; got != "30d" {
		t.Errorf("plan config password_max_age %q, want 30d", got)
	}
	h.mustApply(t, doc, tree)
	role := expand("{rot:app}")
	first, v1 := h.password(t, role)
	if doc := planAt(time.Now()); doc.Resources[0].Roles[0].CurrentState.RequiresMigration {
		t.Fatalf("a fresh password is rotated:\n%s", allSQL(doc))
	}
	later := planAt(time.Now().Add(31 * 24 * time.Hour))
	want := fmt.Sprintf(`ALTER ROLE "%s" WITH PASSWORD %s`, role, planner.PasswordPlaceholder)
	if sql := allSQL(later); !strings.Contains(sql, want) || !slices.ContainsFunc(later.Resources[0].Roles[0].CurrentState.Changes, func(s string) bool {
		return strings.HasPrefix(s, "reset password: password_max_age 30d: the password was set ")
	}) {
		t.Fatalf("31 days later the plan does not rotate: %s %q", sql, later.Resources[0].Roles[0].CurrentState.Changes)
	}
	h.mustApply(t, later, tree)
	second, v2 := h.password(t, role)
	if second == first || v2 <= v1 {
		t.Fatalf("password not rotated: version %d -> %d", v1, v2)
	}
	ctx := context.Background()
	conn, err := connectAs(ctx, c, role, second, "rot")
	if err != nil {
		t.Fatalf("logging in with the rotated password: %v", err)
	}
	conn.Close(ctx)
	requireEmpty(t, planAt(time.Now()))
}
