package planner

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/rolecd/rolecd/planner/catalog"
	"github.com/rolecd/rolecd/planner/spec"
)

// appCluster is a PostgreSQL cluster with databases app (public: 12
// relations, sales: 3) and reports (a: 2, empty: none).
func appCluster(version int) *catalog.Snapshot {
	return snapshot(version,
		inspected("app", schema("public", 12), schema("sales", 3)),
		inspected("postgres", schema("public", 0)),
		inspected("reports", schema("a", 2), schema("empty", 0)),
	)
}

// synced is a role that holds exactly SELECT on app.public.
func synced(s *catalog.Snapshot, r spec.Role) *catalog.Snapshot {
	withRole(s, liveRole(r))
	grant(s, "app", "", catalog.Grant{Grantee: r.Name, Privilege: "CONNECT"})
	grant(s, "app", "public", catalog.Grant{Grantee: r.Name, Privilege: "USAGE"})
	tableGrant(s, "app", "public", r.Name, "SELECT", 12, 0)
	defaultPriv(s, "app", "public", admin, "TABLES", r.Name, "SELECT")
	return s
}

var ro = managed("ro", []string{"app.public"}, "SELECT")

func TestPlanResource(t *testing.T) {
	tests := []goldenCase{
		{
			name: "new_managed",
			in: func() Input {
				return input(appCluster(v16), managed("rw", []string{"app.public", "reports"}, "SELECT", "INSERT", "UPDATE"))
			},
			check: func(t *testing.T, rp ResourcePlan) {
				st := rp.Roles[0].CurrentState
				if st.Exists || !st.RequiresMigration {
					t.Errorf("state = %+v, want a missing role requiring migration", st)
				}
				for _, s := range st.Scopes {
					if s.Status != StatusUnprovisioned {
						t.Errorf("scope %s: status %s, want %s", s.Scope, s.Status, StatusUnprovisioned)
					}
				}
				if got := st.Scopes[1].Tables; got != 2 {
					t.Errorf("reports: %d tables, want 2", got)
				}
				for _, stmt := range rp.Roles[0].SQLPlan["reports"] {
					if strings.Contains(stmt, `ALL TABLES IN SCHEMA "empty"`) {
						t.Errorf("table statement for a schema without tables: %s", stmt)
					}
				}
				if !slices.Contains(rp.Roles[0].SQLPlan["reports"], `GRANT USAGE ON SCHEMA "a", "empty" TO "rolecd_analytics_rw_0badc0de"`) {
					t.Errorf("a schema without tables must still get USAGE: %q", rp.Roles[0].SQLPlan["reports"])
				}
			},
		},
		{
			name: "in_sync",
			in:   func() Input { return input(synced(appCluster(v16), ro), ro) },
			check: func(t *testing.T, rp ResourcePlan) {
				p := rp.Roles[0]
				if p.SQLPlan == nil || len(p.SQLPlan) != 0 {
					t.Errorf("sql_plan = %#v, want an empty non-nil map", p.SQLPlan)
				}
				if p.CurrentState.RequiresMigration || len(p.CurrentState.Changes) != 0 || p.CurrentState.Adopt {
					t.Errorf("state = %+v, want in sync", p.CurrentState)
				}
				if p.CurrentState.Scopes[0].Status != StatusInSync {
					t.Errorf("scope status %s, want %s", p.CurrentState.Scopes[0].Status, StatusInSync)
				}
				if want := Checksum(testResource, ro.Name, nil); p.Checksum != want {
					t.Errorf("checksum %s, want the empty plan's %s", p.Checksum, want)
				}
			},
		},
		{
			name: "extra_privileges",
			in: func() Input {
				s := synced(appCluster(v16), ro)
				tableGrant(s, "app", "public", ro.Name, "INSERT", 3, 0)
				tableGrant(s, "app", "public", ro.Name, "DELETE", 3, 0)
				tableGrant(s, "app", "public", ro.Name, "TRUNCATE", 1, 0)
				tableGrant(s, "app", "sales", ro.Name, "SELECT", 3, 0)
				tableGrant(s, "app", "sales", ro.Name, "INSERT", 3, 0)
				tableGrant(s, "app", "sales", ro.Name, "DELETE", 3, 0)
				grant(s, "app", "public", catalog.Grant{Grantee: ro.Name, Privilege: "CREATE"})
				grant(s, "app", "sales", catalog.Grant{Grantee: ro.Name, Privilege: "USAGE"})
				grant(s, "app", "", catalog.Grant{Grantee: ro.Name, Privilege: "TEMPORARY"})
				// Grants to other roles are not ours to touch.
				tableGrant(s, "app", "public", "someone_else", "INSERT", 12, 12)
				return input(s, ro)
			},
			check: func(t *testing.T, rp ResourcePlan) {
				if got := rp.Roles[0].CurrentState.Scopes[0].Status; got != StatusOutOfSync {
					t.Errorf("scope status %s, want %s", got, StatusOutOfSync)
				}
				for _, stmt := range rp.Roles[0].SQLPlan["app"] {
					if strings.Contains(stmt, "someone_else") {
						t.Errorf("statement about another role: %s", stmt)
					}
				}
			},
		},
		{
			name: "grant_option",
			in: func() Input {
				s := appCluster(v16)
				withRole(s, liveRole(ro))
				grant(s, "app", "", catalog.Grant{Grantee: ro.Name, Privilege: "CONNECT", Grantable: true})
				grant(s, "app", "public", catalog.Grant{Grantee: ro.Name, Privilege: "USAGE", Grantable: true})
				tableGrant(s, "app", "public", ro.Name, "SELECT", 12, 5)
				return input(s, ro)
			},
		},
		{
			name: "stray_databases",
			in: func() Input {
				s := snapshot(v16,
					inspected("app", schema("public", 12)),
					inspected("other", schema("public", 4), schema("s", 1)),
					notInspected("closed", false, catalog.Grant{Grantee: ro.Name, Privilege: "CONNECT"}),
					inspected("postgres"),
					notInspected("template1", true, catalog.Grant{Grantee: ro.Name, Privilege: "CREATE"}, catalog.Grant{Grantee: ro.Name, Privilege: "TEMPORARY"}),
				)
				synced(s, ro)
				grant(s, "other", "", catalog.Grant{Grantee: ro.Name, Privilege: "CONNECT"})
				grant(s, "other", "", catalog.Grant{Grantee: ro.Name, Privilege: "TEMPORARY"})
				grant(s, "other", "s", catalog.Grant{Grantee: ro.Name, Privilege: "USAGE"})
				tableGrant(s, "other", "s", ro.Name, "SELECT", 1, 0)
				tableGrant(s, "other", "public", ro.Name, "SELECT", 4, 0)
				grant(s, "postgres", "", catalog.Grant{Grantee: ro.Name, Privilege: "CREATE"})
				return input(s, ro)
			},
			check: func(t *testing.T, rp ResourcePlan) {
				p := rp.Roles[0].SQLPlan
				if _, ok := p["closed"]; ok {
					t.Errorf("statements under a database rolecd cannot connect to: %q", p["closed"])
				}
				for _, want := range []string{
					`REVOKE CONNECT ON DATABASE "closed" FROM "rolecd_analytics_ro_0badc0de"`,
					`REVOKE TEMPORARY, CREATE ON DATABASE "template1" FROM "rolecd_analytics_ro_0badc0de"`,
				} {
					if !slices.Contains(p["postgres"], want) {
						t.Errorf("maintenance database lacks %s: %q", want, p["postgres"])
					}
				}
				if got := rp.Roles[0].CurrentState.Scopes[0].Status; got != StatusInSync {
					t.Errorf("scope status %s, want %s: stray grants elsewhere do not concern the scope", got, StatusInSync)
				}
			},
		},
		{
			name: "attribute_drift",
			in: func() Input {
				r := ro
				r.RotatePassword = true
				s := synced(appCluster(v16), r)
				l := s.Roles[r.Name]
				l.Superuser, l.Login, l.CreateDB, l.Inherit, l.BypassRLS, l.ConnLimit = true, false, true, false, true, 5
				s.Roles[r.Name] = l
				return input(s, r)
			},
		},
		{
			name: "rotate_password_only",
			in: func() Input {
				r := ro
				r.RotatePassword = true
				return input(synced(appCluster(v16), r), r)
			},
		},
		{
			name: "membership_pg15",
			in: func() Input {
				s := synced(appCluster(v15), ro)
				l := s.Roles[ro.Name]
				l.MemberOf = []catalog.Membership{
					{Role: "pg_read_all_data", Grantor: admin, Inherit: true, Set: true},
					{Role: "pg_monitor", Grantor: admin, Admin: true, Inherit: true, Set: true},
				}
				s.Roles[ro.Name] = l
				return input(s, ro)
			},
		},
		{
			name: "membership_pg16",
			in: func() Input {
				s := synced(appCluster(v16), ro)
				l := s.Roles[ro.Name]
				l.MemberOf = []catalog.Membership{
					{Role: "pg_read_all_data", Grantor: admin, Inherit: true, Set: true},
					{Role: "pg_read_all_data", Grantor: "alice", Admin: true, Inherit: false, Set: true},
					{Role: "pg_monitor", Grantor: admin, Inherit: true, Set: true},
				}
				s.Roles[ro.Name] = l
				return input(s, ro)
			},
		},
		{
			name: "external_new",
			in: func() Input {
				return input(appCluster(v16), external("bi", "pg_read_all_data"))
			},
			check: func(t *testing.T, rp ResourcePlan) {
				p := rp.Roles[0]
				if len(p.CurrentState.Scopes) != 0 || len(p.Config.Scopes) != 0 || len(p.Config.Privileges) != 0 {
					t.Errorf("external role with scopes: %+v", p)
				}
				if len(p.SQLPlan) != 1 {
					t.Errorf("external role: statements outside the maintenance database: %q", p.SQLPlan)
				}
			},
		},
		{
			name: "external_new_pg15",
			in: func() Input {
				return input(appCluster(v15), external("bi", "pg_read_all_data"))
			},
		},
		{
			name: "external_changed_source",
			in: func() Input {
				bi := external("bi", "pg_monitor")
				s := appCluster(v16)
				was := bi
				was.SourceRole = "pg_read_all_data"
				withRole(s, liveRole(was, catalog.Membership{Role: "pg_read_all_data", Grantor: admin, Inherit: true, Set: true}))
				// External roles hold no direct privileges.
				grant(s, "app", "", catalog.Grant{Grantee: bi.Name, Privilege: "CONNECT"})
				tableGrant(s, "app", "sales", bi.Name, "SELECT", 3, 0)
				return input(s, bi)
			},
		},
		{
			name: "external_membership_options",
			in: func() Input {
				bi := external("bi", "pg_read_all_data")
				s := appCluster(v16)
				withRole(s, liveRole(bi, catalog.Membership{Role: "pg_read_all_data", Grantor: admin, Admin: true, Inherit: false, Set: true}))
				return input(s, bi)
			},
		},
		{
			name: "external_in_sync",
			in: func() Input {
				bi := external("bi", "pg_read_all_data")
				s := appCluster(v16)
				withRole(s, liveRole(bi, catalog.Membership{Role: "pg_read_all_data", Grantor: admin, Inherit: true, Set: true}))
				return input(s, bi)
			},
			check: func(t *testing.T, rp ResourcePlan) {
				if p := rp.Roles[0]; len(p.SQLPlan) != 0 || p.CurrentState.RequiresMigration {
					t.Errorf("in-sync external role planned %q", p.SQLPlan)
				}
			},
		},
		{
			name: "adoption",
			in: func() Input {
				s := appCluster(v16)
				withRole(s, catalog.Role{Name: ro.Name, Login: true, Inherit: true, ConnLimit: -1, Comment: "created by hand"})
				grant(s, "app", "", catalog.Grant{Grantee: ro.Name, Privilege: "CONNECT"})
				tableGrant(s, "app", "public", ro.Name, "SELECT", 5, 0)
				return input(s, ro)
			},
			check: func(t *testing.T, rp ResourcePlan) {
				st := rp.Roles[0].CurrentState
				if !st.Exists || !st.Adopt {
					t.Errorf("state = %+v, want an existing role to adopt", st)
				}
				if !slices.Contains(st.Changes, "adopt existing role without rolecd marker") {
					t.Errorf("changes %q do not say the role is adopted", st.Changes)
				}
				if st.Scopes[0].Status != StatusOutOfSync {
					t.Errorf("scope status %s, want %s", st.Scopes[0].Status, StatusOutOfSync)
				}
			},
		},
		{
			name: "marker_changed",
			in: func() Input {
				s := synced(appCluster(v16), ro)
				l := s.Roles[ro.Name]
				l.Comment = catalog.MarkerPrefix + `{"resource":"analytics","label":"ro","type":"external"}`
				s.Roles[ro.Name] = l
				return input(s, ro)
			},
			check: func(t *testing.T, rp ResourcePlan) {
				if rp.Roles[0].CurrentState.Adopt {
					t.Error("a role with a rolecd marker is not adopted")
				}
			},
		},
		{
			name: "weird_identifiers",
			in: func() Input {
				r := managed("weird.Label-1", []string{`My DB.it's "quoted"`, "My DB.Upper Case"}, "SELECT", "UPDATE")
				r.Name = `Weird "Role" it's`
				x := external("ext", `Source "Role"`)
				x.Name = `ext.Role "x"`
				s := snapshot(v16,
					inspected("My DB", schema(`it's "quoted"`, 2), schema("Upper Case", 1), schema("dot.ted", 1)),
				)
				withRole(s, catalog.Role{Name: `Source "Role"`, Inherit: true, ConnLimit: -1})
				withRole(s, catalog.Role{Name: x.Name, Login: true, Inherit: true, ConnLimit: -1, Comment: Marker(x),
					MemberOf: []catalog.Membership{{Role: "Old.Role", Grantor: `Grantor "G"`, Inherit: true, Set: true}}})
				grant(s, "My DB", "dot.ted", catalog.Grant{Grantee: x.Name, Privilege: "USAGE"})
				grant(s, "My DB", `it's "quoted"`, catalog.Grant{Grantee: x.Name, Privilege: "USAGE"})
				tableGrant(s, "My DB", "dot.ted", x.Name, "SELECT", 1, 0)
				return input(s, r, x)
			},
		},
		{
			name: "all_pg15",
			in: func() Input {
				return input(appCluster(v15), managed("all", []string{"app.public"}, "ALL"))
			},
			check: func(t *testing.T, rp ResourcePlan) {
				assertNoMaintain(t, rp)
				if got := rp.Roles[0].Config.Privileges; !slices.Equal(got, []string{"ALL"}) {
					t.Errorf("config privileges %q, want ALL as declared", got)
				}
			},
		},
		{
			name: "all_pg17",
			in: func() Input {
				return input(appCluster(v17), managed("all", []string{"app.public"}, "ALL"))
			},
		},
		{
			name: "all_pg15_in_sync",
			in: func() Input {
				all := managed("all", []string{"app.public"}, "ALL")
				s := synced(appCluster(v15), all)
				for _, p := range []string{"INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"} {
					tableGrant(s, "app", "public", all.Name, p, 12, 0)
				}
				defaultPriv(s, "app", "public", admin, "TABLES", all.Name, "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
				defaultPriv(s, "app", "public", admin, "SEQUENCES", all.Name, "USAGE", "SELECT")
				return input(s, all)
			},
			check: func(t *testing.T, rp ResourcePlan) {
				if p := rp.Roles[0]; len(p.SQLPlan) != 0 {
					t.Errorf("ALL on 15 with the 7 privileges held planned %q", p.SQLPlan)
				}
			},
		},
		{
			name: "several_roles",
			in: func() Input {
				// Declared out of label order: plans come in label order.
				return input(synced(appCluster(v16), ro),
					managed("zeta", []string{"app"}, "SELECT"), ro, external("bi", "pg_monitor"))
			},
			check: func(t *testing.T, rp ResourcePlan) {
				var labels []string
				for _, r := range rp.Roles {
					labels = append(labels, r.Config.Label)
				}
				if want := []string{"bi", "ro", "zeta"}; !slices.Equal(labels, want) {
					t.Errorf("labels %q, want %q", labels, want)
				}
			},
		},
	}
	runGoldenCases(t, tests)
}

// assertInvariants checks what holds for every plan.
func assertInvariants(t *testing.T, rp ResourcePlan) {
	t.Helper()
	if rp.Error != "" || rp.Resource != testResource || rp.ServerVersion == "" || rp.MaintenanceDatabase != "postgres" {
		t.Errorf("resource plan header: %+v", rp)
	}
	for _, p := range rp.Roles {
		if p.SQLPlan == nil {
			t.Errorf("%s: nil sql_plan", p.Config.Label)
		}
		if p.CurrentState.RequiresMigration != (len(p.SQLPlan) > 0) {
			t.Errorf("%s: requires_migration %v with %d databases", p.Config.Label, p.CurrentState.RequiresMigration, len(p.SQLPlan))
		}
		if (len(p.CurrentState.Changes) > 0) != (len(p.SQLPlan) > 0) {
			t.Errorf("%s: changes %q for sql %q", p.Config.Label, p.CurrentState.Changes, p.SQLPlan)
		}
		if want := Checksum(rp.Resource, p.Config.RoleName, p.SQLPlan); p.Checksum != want {
			t.Errorf("%s: checksum %s, want %s", p.Config.Label, p.Checksum, want)
		}
		for db, stmts := range p.SQLPlan {
			if len(stmts) == 0 {
				t.Errorf("%s: empty statement list for %s", p.Config.Label, db)
			}
			for _, s := range stmts {
				if strings.Contains(s, "PASSWORD") && !strings.HasSuffix(s, "PASSWORD "+PasswordPlaceholder) {
					t.Errorf("%s: password not redacted: %s", p.Config.Label, s)
				}
			}
		}
		// Cluster-level statements only under the maintenance database,
		// and first there; a removal's REASSIGN/DROP OWNED run in every
		// database, its DROP ROLE last in the maintenance database.
		for _, db := range OrderedDatabases(p.SQLPlan, "postgres") {
			clusterDone := false
			stmts := p.SQLPlan[db]
			if p.CurrentState.Remove && !p.CurrentState.Keep {
				if db == "postgres" {
					if !IsRemoval(p.SQLPlan, db) {
						t.Errorf("%s: removal without DROP ROLE last: %q", p.Config.Label, stmts)
					}
					stmts = stmts[:len(stmts)-1]
				}
				if n := len(stmts); n < 2 || !strings.HasPrefix(stmts[n-2], "REASSIGN OWNED BY ") || !strings.HasPrefix(stmts[n-1], "DROP OWNED BY ") {
					t.Errorf("%s: removal without REASSIGN and DROP OWNED in %s: %q", p.Config.Label, db, stmts)
				}
				stmts = stmts[:max(len(stmts)-2, 0)]
			}
			for _, s := range stmts {
				cluster := strings.HasPrefix(s, "COMMENT ON ROLE ") || !strings.Contains(s, " ON ")
				if cluster && db != "postgres" {
					t.Errorf("%s: cluster-level statement under %s: %s", p.Config.Label, db, s)
				}
				if cluster && clusterDone {
					t.Errorf("%s: cluster-level statement after object statements: %s", p.Config.Label, s)
				}
				clusterDone = clusterDone || !cluster
			}
		}
	}
}

func assertNoMaintain(t *testing.T, rp ResourcePlan) {
	t.Helper()
	for _, p := range rp.Roles {
		for _, stmts := range p.SQLPlan {
			for _, s := range stmts {
				if strings.Contains(s, "MAINTAIN") {
					t.Errorf("MAINTAIN before PostgreSQL 17: %s", s)
				}
			}
		}
	}
}

func TestPlanResourceErrors(t *testing.T) {
	tests := []struct {
		name string
		in   func() Input
		want []string // each must appear in the error text
	}{
		{
			name: "missing database and schema",
			in: func() Input {
				return input(appCluster(v16), managed("ro", []string{"app.nope", "app.public", "gone"}, "SELECT"))
			},
			want: []string{
				`role "ro": scope "app.nope": schema "nope" does not exist in database "app"`,
				`role "ro": scope "gone": database "gone" does not exist`,
			},
		},
		{
			name: "unusable databases",
			in: func() Input {
				s := appCluster(v16)
				s.Databases = append(s.Databases, notInspected("template1", true), notInspected("closed", false))
				return input(s, managed("ro", []string{"template1", "closed.public"}, "SELECT"))
			},
			want: []string{
				`scope "template1": database "template1" is a template`,
				`scope "closed.public": database "closed" does not accept connections`,
			},
		},
		{
			name: "maintain before 17",
			in: func() Input {
				return input(appCluster(v15), managed("m", []string{"app"}, "SELECT", "MAINTAIN"))
			},
			want: []string{`role "m": privilege MAINTAIN needs PostgreSQL 17 or later, the server is 15.18`},
		},
		{
			name: "missing source role",
			in: func() Input {
				return input(appCluster(v16), external("bi", "no_such_role"))
			},
			want: []string{`role "bi": source role "no_such_role" does not exist`},
		},
		{
			name: "superuser source role",
			in: func() Input {
				s := withRole(appCluster(v16), catalog.Role{Name: "boss", Superuser: true})
				return input(s, external("bi", "boss"), external("adm", admin))
			},
			want: []string{
				`role "bi": source role "boss" has SUPERUSER; to grant it anyway, list "boss" in allow_source_roles of resource "analytics"`,
				`role "adm": source role "postgres" is the role rolecd connects as`,
			},
		},
		{
			name: "role named like the admin or its source",
			in: func() Input {
				r := managed("ro", []string{"app"}, "SELECT")
				r.Name = admin
				x := external("bi", "pg_monitor")
				x.Name = "pg_monitor"
				return input(appCluster(v16), r, x)
			},
			want: []string{
				`role "ro": role name "postgres" is the role rolecd connects as`,
				`role "bi": role name "pg_monitor" is its own source role`,
			},
		},
		{
			name: "missing maintenance database",
			in: func() Input {
				in := input(appCluster(v16), ro)
				in.Resource.Database = "maint"
				return in
			},
			want: []string{`maintenance database "maint" does not exist`},
		},
		{
			name: "unknown privilege in the catalog",
			in: func() Input {
				s := appCluster(v16)
				tableGrant(s, "app", "public", ro.Name, "SELECT; DROP TABLE x", 1, 0)
				return input(s, ro)
			},
			want: []string{`database "app": schema "public": unknown privilege "SELECT; DROP TABLE x" held by "rolecd_analytics_ro_0badc0de"`},
		},
		{
			name: "NUL in an identifier",
			in: func() Input {
				s := appCluster(v16)
				s.Databases[0].Schemas = append(s.Databases[0].Schemas, schema("a\x00b", 1))
				return input(s, managed("ro", []string{"app"}, "SELECT"))
			},
			want: []string{`role "ro": rendering SQL: identifier "a\x00b" contains a NUL byte`},
		},
		{
			name: "role declared for another resource",
			in: func() Input {
				r := ro
				r.Resource = "other"
				return input(appCluster(v16), r)
			},
			want: []string{`role "ro": declared for resource "other", not "analytics"`},
		},
		{
			name: "no snapshot",
			in:   func() Input { return input(nil, ro) },
			want: []string{"no catalog snapshot"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rp, err := PlanResource(tt.in())
			if err == nil {
				t.Fatalf("no error; plan: %+v", rp)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
			if rp.Error != err.Error() || rp.Roles == nil || len(rp.Roles) != 0 || rp.Resource != testResource {
				t.Errorf("failed resource plan = %+v, want the error and no roles", rp)
			}
		})
	}
}

func TestPlanResourceInputOrder(t *testing.T) {
	roles := []spec.Role{ro, managed("a", []string{"app"}, "ALL"), external("bi", "pg_monitor")}
	first, err := PlanResource(input(synced(appCluster(v16), ro), roles...))
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(roles)
	second, err := PlanResource(input(synced(appCluster(v16), ro), roles...))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(first, second) {
		t.Errorf("plan depends on declaration order:\n%+v\n%+v", first, second)
	}
}

func TestChecksumDependsOnlyOnSQL(t *testing.T) {
	plan := func(mutate func(s *catalog.Snapshot, in *Input)) RolePlan {
		t.Helper()
		s := synced(appCluster(v16), ro)
		tableGrant(s, "app", "public", ro.Name, "INSERT", 2, 0) // something to revoke
		in := input(s, ro)
		mutate(s, &in)
		rp, err := PlanResource(in)
		if err != nil {
			t.Fatal(err)
		}
		return rp.Roles[0]
	}
	base := plan(func(*catalog.Snapshot, *Input) {})
	unrelated := map[string]func(s *catalog.Snapshot, in *Input){
		"server version text": func(s *catalog.Snapshot, _ *Input) { s.ServerVersion = "16.10 (Debian)" },
		"other roles":         func(s *catalog.Snapshot, _ *Input) { withRole(s, catalog.Role{Name: "bob", Superuser: true}) },
		"grants to others":    func(s *catalog.Snapshot, _ *Input) { tableGrant(s, "app", "public", "bob", "DELETE", 12, 12) },
		"another database": func(s *catalog.Snapshot, _ *Input) {
			s.Databases = append(s.Databases, inspected("zzz", schema("x", 4)))
		},
		"relation counts": func(s *catalog.Snapshot, _ *Input) {
			d, _ := s.Database("app")
			d.Schemas[1].Tables = 30 // sales: not in scope, nothing held
		},
		"resource connection": func(_ *catalog.Snapshot, in *Input) { in.Resource.Host, in.Resource.Port = "db2", 6432 },
		"role position":       func(_ *catalog.Snapshot, in *Input) { in.Roles[0].Pos = spec.Pos{File: "x.yaml", Line: 9} },
	}
	for name, mutate := range unrelated {
		if got := plan(mutate); got.Checksum != base.Checksum {
			t.Errorf("%s changed the checksum (%s, was %s)", name, got.Checksum, base.Checksum)
		}
	}
	changed := plan(func(s *catalog.Snapshot, _ *Input) { tableGrant(s, "app", "public", ro.Name, "DELETE", 1, 0) })
	if changed.Checksum == base.Checksum {
		t.Error("a new statement kept the checksum")
	}
}
