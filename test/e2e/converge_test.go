package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/rolecd/rolecd/planner"
	"github.com/rolecd/rolecd/planner/spec"
	"github.com/rolecd/rolecd/test/pgtest"
)

type dbSQL struct{ db, sql string }

// scenario: set up a cluster, declare roles, converge (plan, execute, plan
// again: empty), then optionally change the cluster by hand and/or the
// declarations and converge again.
type scenario struct {
	name     string
	dbs      []string
	setup    []dbSQL
	resource string   // extra keys of resource "app", indented by 4 spaces
	roles    string   // role file (YAML) for resource "app"
	first    []string // the first plan's SQL contains each of these
	drift    []dbSQL  // out-of-band changes after the first convergence
	roles2   string   // new declarations after the first convergence
	second   []string // the plan after drift/roles2 contains each of these
	// secondEmpty: the plan after drift/roles2 must be empty.
	secondEmpty bool
	never       []string // no plan ever contains these
	checks      []dbSQL  // boolean queries, true once converged
}

const directTable = `SELECT EXISTS (SELECT 1 FROM pg_class c, aclexplode(c.relacl) a WHERE c.oid = '%s'::regclass AND a.grantee = '%s'::regrole AND a.privilege_type = '%s')`

var scenarios = []scenario{
	{
		name: "scopes cover every user schema and every table-like relation, with awkward identifiers",
		dbs:  []string{"Sales DB", "other"},
		setup: []dbSQL{
			{"Sales DB", `CREATE SCHEMA "Mixed Case"; CREATE SCHEMA "with.dot"; CREATE SCHEMA "quo""te"; CREATE SCHEMA empty;
				CREATE TABLE public.plain (id int);
				CREATE TABLE "Mixed Case"."Odd Table" (id int);
				CREATE TABLE "with.dot"."t.1" (id int);
				CREATE TABLE "quo""te"."ta""ble" (id int);
				CREATE TABLE public.parted (id int, at date) PARTITION BY RANGE (at);
				CREATE TABLE public.parted_2026 PARTITION OF public.parted FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
				CREATE VIEW public.v AS SELECT * FROM public.plain;
				CREATE MATERIALIZED VIEW public.mv AS SELECT * FROM public.plain;
				CREATE FOREIGN DATA WRAPPER dummy; CREATE SERVER nowhere FOREIGN DATA WRAPPER dummy;
				CREATE FOREIGN TABLE public.ft (id int) SERVER nowhere;`},
			{"other", `CREATE TABLE public.elsewhere (id int)`},
		},
		roles: `roles:
  - resource: app
    role: ro
    scopes: ["Sales DB"]
    privileges: [select]
  - resource: app
    role: rw
    scopes: ["Sales DB.Mixed Case", "Sales DB.quo\"te"]
    privileges: [SELECT, INSERT, UPDATE, DELETE]
`,
		first: []string{`GRANT CONNECT ON DATABASE "Sales DB" TO`, `GRANT USAGE ON SCHEMA "Mixed Case", "empty", "public", "quo""te", "with.dot" TO`,
			`ON ALL TABLES IN SCHEMA "Mixed Case", "public", "quo""te", "with.dot" TO`, `CREATE ROLE`, `COMMENT ON ROLE`},
		never: []string{`DATABASE "other"`, `SCHEMA "empty" TO`},
		checks: []dbSQL{
			{"Sales DB", `SELECT has_schema_privilege('{app:ro}', 'empty', 'USAGE')`},
			{"Sales DB", directTableCheck("public.plain", "{app:ro}", "SELECT")},
			{"Sales DB", directTableCheck("public.parted", "{app:ro}", "SELECT")},
			{"Sales DB", directTableCheck("public.parted_2026", "{app:ro}", "SELECT")},
			{"Sales DB", directTableCheck("public.v", "{app:ro}", "SELECT")},
			{"Sales DB", directTableCheck("public.mv", "{app:ro}", "SELECT")},
			{"Sales DB", directTableCheck("public.ft", "{app:ro}", "SELECT")},
			{"Sales DB", directTableCheck(`"quo""te"."ta""ble"`, "{app:rw}", "INSERT")},
			{"Sales DB", noDirectTable("public.plain", "{app:rw}", "SELECT")},
			{"other", `SELECT NOT has_table_privilege('{app:ro}', 'public.elsewhere', 'SELECT')`},
		},
	},
	{
		name:  "privileges PUBLIC already holds do not make the plan loop",
		dbs:   []string{"shop"},
		setup: []dbSQL{{"shop", `CREATE SCHEMA s; CREATE TABLE s.t (id int); GRANT SELECT ON s.t TO PUBLIC; GRANT USAGE ON SCHEMA s TO PUBLIC`}},
		roles: `roles:
  - {resource: app, role: ro, scopes: [shop.s], privileges: [SELECT]}
`,
		first:  []string{`GRANT SELECT ON ALL TABLES IN SCHEMA "s" TO`, `GRANT USAGE ON SCHEMA "s" TO`},
		checks: []dbSQL{{"shop", directTableCheck("s.t", "{app:ro}", "SELECT")}},
	},
	{
		name: "a managed role is fully owned: stray grants, attributes and memberships are reverted everywhere",
		dbs:  []string{"app", "elsewhere", "nologin"},
		setup: []dbSQL{
			{"app", `CREATE SCHEMA a; CREATE SCHEMA b; CREATE TABLE a.t (id int); CREATE TABLE a.u (id int); CREATE TABLE b.t (id int)`},
			{"elsewhere", `CREATE TABLE public.x (id int)`},
			{"postgres", `CREATE ROLE grp NOLOGIN; CREATE ROLE bystander LOGIN`},
			{"app", `GRANT SELECT, INSERT ON a.t TO bystander`},
		},
		roles: `roles:
  - {resource: app, role: ro, scopes: [app.a], privileges: [SELECT]}
`,
		drift: []dbSQL{
			{"app", `GRANT INSERT ON a.t TO {app:ro}; GRANT SELECT ON b.t TO {app:ro}; GRANT USAGE, CREATE ON SCHEMA b TO {app:ro};
				GRANT CREATE ON SCHEMA a TO {app:ro}; REVOKE SELECT ON a.u FROM {app:ro}; GRANT UPDATE ON a.u TO {app:ro} WITH GRANT OPTION;
				GRANT SELECT ON a.t TO {app:ro} WITH GRANT OPTION`},
			{"elsewhere", `GRANT CONNECT, TEMPORARY ON DATABASE elsewhere TO {app:ro}; GRANT SELECT ON public.x TO {app:ro}`},
			{"postgres", `GRANT CONNECT ON DATABASE nologin TO {app:ro}; ALTER DATABASE nologin ALLOW_CONNECTIONS false;
				ALTER ROLE {app:ro} SUPERUSER CREATEDB CREATEROLE REPLICATION BYPASSRLS NOLOGIN NOINHERIT CONNECTION LIMIT 3;
				GRANT grp TO {app:ro}; COMMENT ON ROLE {app:ro} IS 'hand edited'`},
		},
		second: []string{`REVOKE INSERT, UPDATE ON ALL TABLES IN SCHEMA "a" FROM`, `REVOKE SELECT ON ALL TABLES IN SCHEMA "b" FROM`,
			`REVOKE CREATE ON SCHEMA "a" FROM`, `ON SCHEMA "b" FROM`, `ON DATABASE "elsewhere" FROM`,
			`[elsewhere] REVOKE SELECT ON ALL TABLES IN SCHEMA "public" FROM`, `REVOKE CONNECT ON DATABASE "nologin" FROM`,
			`REVOKE GRANT OPTION FOR SELECT ON ALL TABLES IN SCHEMA "a" FROM`, `GRANT SELECT ON ALL TABLES IN SCHEMA "a" TO`,
			`NOSUPERUSER`, `NOCREATEDB`, `NOCREATEROLE`, `NOREPLICATION`, `NOBYPASSRLS`, ` LOGIN`, ` INHERIT`, `CONNECTION LIMIT -1`,
			`REVOKE "grp" FROM`, `COMMENT ON ROLE`},
		never: []string{"bystander"},
		checks: []dbSQL{
			{"postgres", `SELECT NOT rolsuper AND rolcanlogin AND rolinherit AND NOT rolcreatedb AND rolconnlimit = -1 FROM pg_roles WHERE rolname = '{app:ro}'`},
			{"postgres", `SELECT NOT pg_has_role('{app:ro}', 'grp', 'MEMBER')`},
			{"postgres", `SELECT shobj_description('{app:ro}'::regrole, 'pg_authid') LIKE 'rolecd: %'`},
			{"app", directTableCheck("a.u", "{app:ro}", "SELECT")},
			{"app", noDirectTable("a.u", "{app:ro}", "UPDATE")},
			{"app", directTableCheck("a.t", "bystander", "INSERT")},
			{"app", `SELECT NOT has_schema_privilege('{app:ro}', 'b', 'USAGE') AND NOT has_schema_privilege('{app:ro}', 'b', 'CREATE')`},
			{"elsewhere", `SELECT NOT EXISTS (SELECT 1 FROM pg_database d, aclexplode(d.datacl) a WHERE d.datname <> 'app' AND a.grantee = '{app:ro}'::regrole)`},
		},
	},
	{
		name: "narrowing scopes revokes CONNECT, USAGE and table grants no longer declared",
		dbs:  []string{"app", "other"},
		setup: []dbSQL{
			{"app", `CREATE SCHEMA a; CREATE SCHEMA b; CREATE TABLE a.t (id int); CREATE TABLE b.t (id int)`},
			{"other", `CREATE TABLE public.o (id int)`},
		},
		roles: `roles:
  - {resource: app, role: rw, scopes: [app, other], privileges: [SELECT, INSERT]}
`,
		roles2: `roles:
  - {resource: app, role: rw, scopes: [app.b], privileges: [SELECT]}
`,
		second: []string{`REVOKE CONNECT ON DATABASE "other" FROM`, `REVOKE USAGE ON SCHEMA "a", "public" FROM`, `REVOKE SELECT, INSERT ON ALL TABLES IN SCHEMA "a" FROM`,
			`REVOKE INSERT ON ALL TABLES IN SCHEMA "b" FROM`, `[other] REVOKE SELECT, INSERT ON ALL TABLES IN SCHEMA "public" FROM`, `REVOKE USAGE ON SCHEMA "public" FROM`},
		checks: []dbSQL{
			{"app", `SELECT NOT has_schema_privilege('{app:rw}', 'a', 'USAGE')`},
			{"app", directTableCheck("b.t", "{app:rw}", "SELECT")},
		},
	},
	{
		name: "external roles: membership in the source role, and a changed source revokes the old one",
		dbs:  []string{"app"},
		setup: []dbSQL{
			{"postgres", `CREATE ROLE "Weird ""Src"".x" NOLOGIN; CREATE ROLE src2 NOLOGIN`},
		},
		roles: `roles:
  - {resource: app, type: external, role: bi, source_role: 'Weird "Src".x'}
`,
		first: []string{`GRANT "Weird ""Src"".x" TO`},
		roles2: `roles:
  - {resource: app, type: external, role: bi, source_role: src2}
`,
		second: []string{`REVOKE "Weird ""Src"".x" FROM`, `GRANT "src2" TO`},
		checks: []dbSQL{
			{"postgres", `SELECT pg_has_role('{app:bi}', 'src2', 'MEMBER') AND NOT pg_has_role('{app:bi}', 'Weird "Src".x', 'MEMBER')`},
		},
	},
	{
		name: "a role that exists under the computed name without the marker is adopted and reconciled",
		dbs:  []string{"app"},
		setup: []dbSQL{
			{"postgres", `CREATE ROLE {app:ro} LOGIN CREATEDB`},
			{"app", `CREATE TABLE public.t (id int); CREATE TABLE public.secret (id int); GRANT SELECT ON public.secret TO {app:ro}`},
		},
		roles: `roles:
  - {resource: app, role: ro, scopes: [app.public], privileges: [SELECT]}
`,
		first:  []string{`NOCREATEDB`, `COMMENT ON ROLE`},
		never:  []string{`CREATE ROLE`},
		checks: []dbSQL{{"postgres", `SELECT shobj_description('{app:ro}'::regrole, 'pg_authid') LIKE 'rolecd: %'`}},
	},
	{
		name: "tables, sequences and functions created after apply by the schema owner or an object creator are covered with no new apply",
		dbs:  []string{"app"},
		setup: []dbSQL{
			{"postgres", `CREATE ROLE etl NOLOGIN; CREATE ROLE owner2 NOLOGIN`},
			{"app", `CREATE SCHEMA s; GRANT USAGE, CREATE ON SCHEMA s TO etl;
				CREATE TABLE s.t (id serial); CREATE TABLE s.x (id int); ALTER TABLE s.x OWNER TO owner2;
				ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
				CREATE FUNCTION s.f() RETURNS int LANGUAGE sql AS 'SELECT 1';
				CREATE PROCEDURE s.p() LANGUAGE sql AS 'SELECT 1'`},
		},
		resource: "    object_creators: [etl]\n",
		roles: `roles:
  - {resource: app, role: ro, scopes: [app.s], privileges: [SELECT]}
  - {resource: app, role: rw, scopes: [app.s], privileges: [SELECT, INSERT, UPDATE], functions: [EXECUTE]}
`,
		first: []string{`ALTER DEFAULT PRIVILEGES FOR ROLE "etl", "owner2", "postgres" IN SCHEMA "s" GRANT SELECT ON TABLES TO`,
			`ALTER DEFAULT PRIVILEGES FOR ROLE "etl", "owner2", "postgres" IN SCHEMA "s" GRANT SELECT, INSERT, UPDATE ON TABLES TO`,
			`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA "s" TO "{app:rw}"`, `GRANT EXECUTE ON ALL ROUTINES IN SCHEMA "s" TO "{app:rw}"`,
			`IN SCHEMA "s" GRANT USAGE, SELECT ON SEQUENCES TO "{app:rw}"`, `IN SCHEMA "s" GRANT EXECUTE ON FUNCTIONS TO "{app:rw}"`},
		never: []string{`SEQUENCES IN SCHEMA "s" TO "{app:ro}"`, `ON SEQUENCES TO "{app:ro}"`, `FUNCTIONS TO "{app:ro}"`, `ROUTINES IN SCHEMA "s" TO "{app:ro}"`},
		drift: []dbSQL{
			{"app", `CREATE TABLE s.by_owner (id bigint GENERATED ALWAYS AS IDENTITY, v text);
				CREATE FUNCTION s.g() RETURNS int LANGUAGE sql AS 'SELECT 2';
				SET ROLE etl; CREATE TABLE s.by_etl (id serial, v text); CREATE VIEW s.etl_view AS SELECT 1 AS one; RESET ROLE`},
		},
		secondEmpty: true,
		checks: []dbSQL{
			{"app", directTableCheck("s.by_owner", "{app:ro}", "SELECT")},
			{"app", directTableCheck("s.by_etl", "{app:ro}", "SELECT")},
			{"app", directTableCheck("s.etl_view", "{app:ro}", "SELECT")},
			{"app", directTableCheck("s.by_etl", "{app:rw}", "INSERT")},
			{"app", directTableCheck("s.by_etl_id_seq", "{app:rw}", "USAGE")},
			{"app", directTableCheck("s.t_id_seq", "{app:rw}", "USAGE")},
			{"app", directTableCheck("s.by_owner_id_seq", "{app:rw}", "USAGE")},
			{"app", noDirectTable("s.by_etl_id_seq", "{app:ro}", "USAGE")},
			{"app", `SELECT has_function_privilege('{app:rw}', 's.g()', 'EXECUTE') AND has_function_privilege('{app:rw}', 's.p()', 'EXECUTE')`},
			{"app", `SELECT NOT has_function_privilege('{app:ro}', 's.g()', 'EXECUTE') AND NOT has_function_privilege('{app:ro}', 's.f()', 'EXECUTE')`},
		},
	},
	{
		name: "role options: connection limit, password expiry and settings are set, and drift in them is reverted",
		dbs:  []string{"app"},
		roles: `roles:
  - resource: app
    role: ro
    scopes: [app]
    privileges: [SELECT]
    connection_limit: 3
    valid_until: 2031-02-03
    options: {statement_timeout: 30s, search_path: '"$user", Public', work_mem: 8MB}
  - {resource: app, type: external, role: bi, source_role: pg_monitor, options: {application_name: bi-tool}}
`,
		first: []string{`CONNECTION LIMIT 3 VALID UNTIL '2031-02-03T00:00:00Z' PASSWORD`, `SET search_path = '$user', 'public'`,
			`SET statement_timeout = '30s'`, `SET work_mem = '8MB'`, `SET application_name = 'bi-tool'`},
		drift: []dbSQL{
			{"postgres", `ALTER ROLE {app:ro} CONNECTION LIMIT 50 VALID UNTIL '2001-01-01'; ALTER ROLE {app:ro} SET statement_timeout = '1min';
				ALTER ROLE {app:ro} SET lock_timeout = '1s'; ALTER ROLE {app:bi} RESET application_name; ALTER ROLE {app:bi} VALID UNTIL '2040-01-01'`},
		},
		second: []string{`ALTER ROLE "{app:ro}" WITH CONNECTION LIMIT 3 VALID UNTIL '2031-02-03T00:00:00Z'`, `SET statement_timeout = '30s'`,
			`ALTER ROLE "{app:ro}" RESET lock_timeout`, `ALTER ROLE "{app:bi}" SET application_name = 'bi-tool'`,
			`ALTER ROLE "{app:bi}" WITH VALID UNTIL 'infinity'`},
		never: []string{`SET search_path = '$user', 'public'"`},
		checks: []dbSQL{
			{"postgres", `SELECT rolconnlimit = 3 AND rolvaliduntil = '2031-02-03 00:00:00+00' AND cardinality(rolconfig) = 3
				AND rolconfig @> ARRAY['statement_timeout=30s', 'work_mem=8MB', 'search_path="$user", public'] FROM pg_roles WHERE rolname = '{app:ro}'`},
			{"postgres", `SELECT rolconfig = ARRAY['application_name=bi-tool'] AND rolvaliduntil = 'infinity' FROM pg_roles WHERE rolname = '{app:bi}'`},
		},
	},
	{
		name: "sequence grants and default privileges follow the declared privileges; stray default privileges are revoked",
		dbs:  []string{"app"},
		setup: []dbSQL{
			{"app", `CREATE SCHEMA a; CREATE SCHEMA b; CREATE TABLE a.t (id serial); CREATE TABLE b.t (id serial)`},
		},
		roles: `roles:
  - {resource: app, role: rw, scopes: [app.a], privileges: [SELECT, INSERT]}
`,
		drift: []dbSQL{
			{"app", `ALTER DEFAULT PRIVILEGES IN SCHEMA b GRANT SELECT ON TABLES TO {app:rw}; ALTER DEFAULT PRIVILEGES GRANT USAGE ON TYPES TO {app:rw};
				ALTER DEFAULT PRIVILEGES IN SCHEMA a GRANT DELETE ON TABLES TO {app:rw}; GRANT UPDATE ON SEQUENCE b.t_id_seq TO {app:rw};
				ALTER DEFAULT PRIVILEGES IN SCHEMA a GRANT SELECT ON TABLES TO {app:rw} WITH GRANT OPTION`},
		},
		roles2: `roles:
  - {resource: app, role: rw, scopes: [app.a], privileges: [SELECT]}
`,
		second: []string{`ALTER DEFAULT PRIVILEGES FOR ROLE "postgres" IN SCHEMA "b" REVOKE SELECT ON TABLES FROM`,
			`ALTER DEFAULT PRIVILEGES FOR ROLE "postgres" REVOKE USAGE ON TYPES FROM`, `IN SCHEMA "a" REVOKE INSERT, DELETE ON TABLES FROM`,
			`REVOKE USAGE, SELECT ON ALL SEQUENCES IN SCHEMA "a" FROM`, `REVOKE UPDATE ON ALL SEQUENCES IN SCHEMA "b" FROM`,
			`IN SCHEMA "a" REVOKE USAGE, SELECT ON SEQUENCES FROM`, `IN SCHEMA "a" REVOKE GRANT OPTION FOR SELECT ON TABLES FROM`},
		checks: []dbSQL{
			{"app", `SELECT NOT EXISTS (SELECT 1 FROM pg_default_acl d, aclexplode(d.defaclacl) a
				WHERE a.grantee = '{app:rw}'::regrole AND NOT (d.defaclobjtype = 'r' AND a.privilege_type = 'SELECT' AND NOT a.is_grantable))`},
			{"app", `SELECT EXISTS (SELECT 1 FROM pg_default_acl d, aclexplode(d.defaclacl) a WHERE a.grantee = '{app:rw}'::regrole)`},
			{"app", noDirectTable("a.t_id_seq", "{app:rw}", "USAGE")},
		},
	},
	{
		name: "a rolecd role no longer declared is dropped after what it owns is reassigned, in every database",
		dbs:  []string{"app", "other"},
		setup: []dbSQL{
			{"app", `CREATE TABLE public.t (id int)`},
			{"postgres", `CREATE ROLE bystander LOGIN; COMMENT ON ROLE bystander IS 'rolecd: {"resource":"elsewhere","label":"x","type":"managed"}'`},
		},
		roles: `roles:
  - {resource: app, role: ro, scopes: [app], privileges: [SELECT]}
  - {resource: app, role: old, scopes: [app, other], privileges: [SELECT, INSERT]}
`,
		drift: []dbSQL{
			{"app", `CREATE TABLE public.owned_by_old (id int); ALTER TABLE public.owned_by_old OWNER TO {app:old}`},
			{"other", `CREATE SCHEMA old_s AUTHORIZATION {app:old}; CREATE TABLE old_s.t (id int); ALTER TABLE old_s.t OWNER TO {app:old}`},
		},
		roles2: `roles:
  - {resource: app, role: ro, scopes: [app], privileges: [SELECT]}
`,
		second: []string{`[postgres] ALTER ROLE "{app:old}" WITH NOLOGIN`, `[app] REASSIGN OWNED BY "{app:old}" TO "postgres"`,
			`[other] DROP OWNED BY "{app:old}"`, `[postgres] DROP ROLE "{app:old}"`},
		never: []string{"bystander"},
		checks: []dbSQL{
			{"postgres", `SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{app:old}') AND EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bystander')`},
			{"app", `SELECT pg_get_userbyid(relowner) = 'postgres' FROM pg_class WHERE oid = 'public.owned_by_old'::regclass`},
			{"other", `SELECT pg_get_userbyid(nspowner) = 'postgres' FROM pg_namespace WHERE nspname = 'old_s'`},
		},
	},
	{
		name:     "with prune: false a rolecd role no longer declared keeps its objects and loses its login",
		dbs:      []string{"app"},
		resource: "    prune: false\n",
		roles: `roles:
  - {resource: app, role: ro, scopes: [app], privileges: [SELECT]}
  - {resource: app, role: old, scopes: [app], privileges: [SELECT]}
`,
		roles2: `roles:
  - {resource: app, role: ro, scopes: [app], privileges: [SELECT]}
`,
		second: []string{`ALTER ROLE "{app:old}" WITH NOLOGIN`},
		never:  []string{`DROP ROLE`, `DROP OWNED`, `REASSIGN OWNED`},
		checks: []dbSQL{
			{"postgres", `SELECT NOT rolcanlogin FROM pg_roles WHERE rolname = '{app:old}'`},
			{"app", `SELECT has_schema_privilege('{app:old}', 'public', 'USAGE')`},
		},
	},
}

// directTableCheck is true when role directly holds priv on table.
func directTableCheck(table, role, priv string) string {
	return fmt.Sprintf(directTable, table, role, priv)
}

// noDirectTable is true when role does not directly hold priv on table.
func noDirectTable(table, role, priv string) string {
	return "SELECT NOT " + strings.TrimPrefix(directTableCheck(table, role, priv), "SELECT ")
}

// executor carries out a plan document: the planned SQL run directly, or
// rolecd's checksum-gated apply.
type executor func(t *testing.T, doc *planner.Document, tree *spec.Tree, clusters map[string]*pgtest.Cluster)

// TestConverge runs the planned SQL directly: the planner alone converges.
func TestConverge(t *testing.T) {
	runScenarios(t, func(t *testing.T, doc *planner.Document, _ *spec.Tree, clusters map[string]*pgtest.Cluster) {
		execute(t, doc, clusters)
	})
}

// TestApplyConverges runs every scenario through applier.Apply: apply, then
// plan is empty.
func TestApplyConverges(t *testing.T) {
	runScenarios(t, func(t *testing.T, doc *planner.Document, tree *spec.Tree, clusters map[string]*pgtest.Cluster) {
		h := newApplyHarness(t, clusters)
		rep := h.apply(t, doc, tree)
		if st := rep.Status(); st != "applied" {
			t.Fatalf("apply status %s: %+v", st, rep)
		}
	})
}

func runScenarios(t *testing.T, exec executor) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			c := pgtest.Start(t)
			clusters := map[string]*pgtest.Cluster{"app": c}
			for _, db := range sc.dbs {
				c.CreateDatabase(t, db)
			}
			for _, s := range sc.setup {
				c.Exec(t, s.db, expand(s.sql))
			}
			res := resourceYAML("app", c) + sc.resource
			tree, err := parseTree(t, map[string]string{"resources.yaml": res, "roles.yaml": sc.roles})
			if err != nil {
				t.Fatal(err)
			}
			first := plan(t, tree, clusters)
			checkContains(t, "first plan", allSQL(first), sc.first, sc.never)
			exec(t, first, tree, clusters)
			again := plan(t, tree, clusters)
			requireEmpty(t, again)
			checkChecksumsStable(t, again, plan(t, tree, clusters))

			if len(sc.drift) > 0 || sc.roles2 != "" {
				for _, s := range sc.drift {
					c.Exec(t, s.db, expand(s.sql))
				}
				if sc.roles2 != "" {
					if tree, err = parseTree(t, map[string]string{"resources.yaml": res, "roles.yaml": sc.roles2}); err != nil {
						t.Fatal(err)
					}
				}
				second := plan(t, tree, clusters)
				checkContains(t, "plan after changes", allSQL(second), sc.second, sc.never)
				if sc.secondEmpty {
					requireEmpty(t, second)
				}
				exec(t, second, tree, clusters)
				requireEmpty(t, plan(t, tree, clusters))
			}
			for _, chk := range sc.checks {
				if q := expand(chk.sql); !queryBool(t, c, chk.db, q) {
					t.Errorf("after convergence, in %s: %s is false", chk.db, q)
				}
			}
		})
	}
}

func checkContains(t *testing.T, what, sql string, want, never []string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(sql, expand(w)) {
			t.Errorf("%s lacks %q; it is:\n%s", what, expand(w), sql)
		}
	}
	for _, n := range never {
		if strings.Contains(sql, expand(n)) {
			t.Errorf("%s contains %q; it is:\n%s", what, expand(n), sql)
		}
	}
}
