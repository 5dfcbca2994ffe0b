package planner

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/rolecd/rolecd/planner/catalog"
)

// creatorsCluster: app.public is owned by pg_database_owner (the database
// belongs to dba), app.sales by alice, who owns some of its tables while
// bob owns others.
func creatorsCluster() *catalog.Snapshot {
	s := snapshot(v16,
		inspected("app", schema("public", 4), schema("sales", 3)),
		inspected("postgres", schema("public", 0)),
	)
	d, _ := s.Database("app")
	d.Owner = "dba"
	d.Schemas[0].Owner = databaseOwner
	d.Schemas[0].Creators = []string{"dba"}
	d.Schemas[1].Owner = "alice"
	d.Schemas[1].Creators = []string{"alice", "bob", "pg_monitor", "rolecd_analytics_ro_0badc0de"}
	for _, r := range []string{"dba", "alice", "bob", "etl"} {
		withRole(s, catalog.Role{Name: r, Login: true, Inherit: true, ConnLimit: -1})
	}
	return s
}

// marked is a live role carrying rolecd's marker for resource/label/type.
func marked(name, resource, label, typ string, login bool) catalog.Role {
	return catalog.Role{Name: name, Login: login, Inherit: true, ConnLimit: -1,
		Comment: catalog.MarkerPrefix + `{"resource":"` + resource + `","label":"` + label + `","type":"` + typ + `"}`}
}

// removalCluster has, besides the declared roles, rolecd roles that are
// no longer declared and roles that must never be removed.
func removalCluster() *catalog.Snapshot {
	s := snapshot(v16,
		inspected("app", schema("public", 2)),
		inspected("postgres", schema("public", 0)),
		inspected("reports", schema("a", 1)),
		notInspected("closed", false),
	)
	for _, r := range []catalog.Role{
		marked("rolecd_analytics_old_1", testResource, "old", "managed", true),
		marked("rolecd_analytics_ext_2", testResource, "ext", "external", true),
		marked("rolecd_analytics_gone_3", testResource, "gone", "managed", false),
		marked("rolecd_other_x_4", "other", "x", "managed", true),
		marked("pg_fake", testResource, "fake", "managed", true),
		marked("src_role", testResource, "src", "managed", true),
		{Name: "handmade", Login: true, Comment: "created by hand"},
		{Name: "broken_marker", Login: true, Comment: catalog.MarkerPrefix + `{"resource":"analytics"`},
	} {
		withRole(s, r)
	}
	// The admin itself carries a marker (it was adopted once): never removed.
	a := s.Roles[admin]
	a.Comment = marked(admin, testResource, "admin", "managed", true).Comment
	s.Roles[admin] = a
	return s
}

func complete(in Input) Input {
	in.Resource.Complete = true
	in.Resource.Admin.User = admin
	return in
}

func TestPlanPrivilegeModel(t *testing.T) {
	rw := managed("rw", []string{"app.public"}, "INSERT")
	rw.Functions = []string{"EXECUTE"}
	tests := []goldenCase{
		{
			name: "future_tables",
			in: func() Input {
				in := input(creatorsCluster(), managed("ro", []string{"app"}, "SELECT"))
				in.Resource.ObjectCreators = []string{"etl"}
				return in
			},
			check: func(t *testing.T, rp ResourcePlan) {
				app := rp.Roles[0].SQLPlan["app"]
				for _, want := range []string{
					`ALTER DEFAULT PRIVILEGES FOR ROLE "dba", "etl" IN SCHEMA "public" GRANT SELECT ON TABLES TO "rolecd_analytics_ro_0badc0de"`,
					`ALTER DEFAULT PRIVILEGES FOR ROLE "alice", "bob", "etl" IN SCHEMA "sales" GRANT SELECT ON TABLES TO "rolecd_analytics_ro_0badc0de"`,
				} {
					if !slices.Contains(app, want) {
						t.Errorf("missing %s in %q", want, app)
					}
				}
				for _, s := range app {
					if strings.Contains(s, "pg_") || strings.Contains(s, "SEQUENCES") || strings.Contains(s, `ROLE "rolecd_`) {
						t.Errorf("unexpected creator or object kind: %s", s)
					}
				}
			},
		},
		{
			name: "default_privileges_drift",
			in: func() Input {
				s := synced(appCluster(v16), ro)
				d, _ := s.Database("app")
				d.Schemas[0].DefaultGrants[0].Grantable = true
				defaultPriv(s, "app", "public", admin, "TABLES", ro.Name, "INSERT")
				defaultPriv(s, "app", "public", admin, "SEQUENCES", ro.Name, "USAGE")
				defaultPriv(s, "app", "public", "alice", "TABLES", ro.Name, "SELECT")
				defaultPriv(s, "app", "sales", admin, "TABLES", ro.Name, "SELECT")
				d.DefaultGrants = []catalog.DefaultGrant{{Creator: "alice", Objects: "FUNCTIONS", Grantee: ro.Name, Privilege: "EXECUTE"}}
				defaultPriv(s, "reports", "a", admin, "TABLES", ro.Name, "SELECT", "DELETE")
				tableGrant(s, "app", "public", ro.Name, "SELECT", 12, 0)
				return input(s, ro)
			},
			check: func(t *testing.T, rp ResourcePlan) {
				st := rp.Roles[0].CurrentState
				if st.Scopes[0].Status != StatusOutOfSync {
					t.Errorf("scope status %s: default privileges differ", st.Scopes[0].Status)
				}
				if !slices.Contains(st.Changes, "revoke all privileges in db reports: outside declared scopes") {
					t.Errorf("changes %q", st.Changes)
				}
			},
		},
		{
			name: "sequences_and_functions",
			in: func() Input {
				s := appCluster(v16)
				d, _ := s.Database("app")
				d.Schemas[0].Sequences, d.Schemas[0].Routines = 3, 4
				d.Schemas[1].Sequences, d.Schemas[1].Routines = 1, 2
				withRole(s, liveRole(rw))
				grant(s, "app", "", catalog.Grant{Grantee: rw.Name, Privilege: "CONNECT"})
				grant(s, "app", "public", catalog.Grant{Grantee: rw.Name, Privilege: "USAGE"})
				tableGrant(s, "app", "public", rw.Name, "INSERT", 12, 0)
				x := &d.Schemas[0]
				x.SequenceGrants = []catalog.ObjectGrant{
					{Grantee: rw.Name, Privilege: "SELECT", Objects: 1},
					{Grantee: rw.Name, Privilege: "UPDATE", Objects: 2, Grantable: 1},
				}
				d.Schemas[1].SequenceGrants = []catalog.ObjectGrant{{Grantee: rw.Name, Privilege: "SELECT", Objects: 1}}
				d.Schemas[1].RoutineGrants = []catalog.ObjectGrant{{Grantee: rw.Name, Privilege: "EXECUTE", Objects: 2}}
				// Someone else's EXECUTE (PUBLIC's is never reported) is not ours.
				x.RoutineGrants = []catalog.ObjectGrant{{Grantee: "someone", Privilege: "EXECUTE", Objects: 4}}
				return input(s, rw)
			},
			check: func(t *testing.T, rp ResourcePlan) {
				app := rp.Roles[0].SQLPlan["app"]
				for _, want := range []string{
					`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA "public" TO "rolecd_analytics_rw_0badc0de"`,
					`GRANT EXECUTE ON ALL ROUTINES IN SCHEMA "public" TO "rolecd_analytics_rw_0badc0de"`,
					`REVOKE UPDATE ON ALL SEQUENCES IN SCHEMA "public" FROM "rolecd_analytics_rw_0badc0de"`,
					`REVOKE SELECT ON ALL SEQUENCES IN SCHEMA "sales" FROM "rolecd_analytics_rw_0badc0de"`,
					`REVOKE EXECUTE ON ALL ROUTINES IN SCHEMA "sales" FROM "rolecd_analytics_rw_0badc0de"`,
					`ALTER DEFAULT PRIVILEGES FOR ROLE "postgres" IN SCHEMA "public" GRANT USAGE, SELECT ON SEQUENCES TO "rolecd_analytics_rw_0badc0de"`,
					`ALTER DEFAULT PRIVILEGES FOR ROLE "postgres" IN SCHEMA "public" GRANT EXECUTE ON FUNCTIONS TO "rolecd_analytics_rw_0badc0de"`,
				} {
					if !slices.Contains(app, want) {
						t.Errorf("missing %s in\n%s", want, strings.Join(app, "\n"))
					}
				}
				if got := rp.Roles[0].Config.Functions; !slices.Equal(got, []string{"EXECUTE"}) {
					t.Errorf("config functions %q", got)
				}
			},
		},
		{
			name: "role_options_new",
			in: func() Input {
				r := managed("ro", []string{"app.public"}, "SELECT")
				limit := 5
				r.ConnectionLimit, r.ValidUntil = &limit, "2027-06-30T00:00:00Z"
				r.Options = map[string]string{"statement_timeout": "30s", "search_path": `"$user", Public, "it's"`}
				return input(appCluster(v16), r)
			},
			check: func(t *testing.T, rp ResourcePlan) {
				want := []string{
					`CREATE ROLE "rolecd_analytics_ro_0badc0de" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT CONNECTION LIMIT 5 VALID UNTIL '2027-06-30T00:00:00Z' PASSWORD '<redacted>'`,
					`COMMENT ON ROLE "rolecd_analytics_ro_0badc0de" IS 'rolecd: {"resource":"analytics","label":"ro","type":"managed"}'`,
					`ALTER ROLE "rolecd_analytics_ro_0badc0de" SET search_path = '$user', 'public', 'it''s'`,
					`ALTER ROLE "rolecd_analytics_ro_0badc0de" SET statement_timeout = '30s'`,
				}
				if got := rp.Roles[0].SQLPlan["postgres"]; !slices.Equal(got, want) {
					t.Errorf("postgres:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			},
		},
		{
			name: "role_options_drift",
			in: func() Input {
				bi := external("bi", "pg_read_all_data")
				bi.Options = map[string]string{"search_path": `"$user",public`, "work_mem": "2MB"}
				l := liveRole(bi, catalog.Membership{Role: "pg_read_all_data", Grantor: admin, Inherit: true, Set: true})
				l.ConnLimit, l.ValidUntil = 3, "2020-01-01T00:00:00Z"
				l.Settings = map[string]string{"search_path": `"$user", public`, "work_mem": "1MB", "application_name": "x", "My.Custom": "y"}
				return input(withRole(appCluster(v16), l), bi)
			},
			check: func(t *testing.T, rp ResourcePlan) {
				want := []string{
					`ALTER ROLE "rolecd_analytics_bi_0badc0de" WITH CONNECTION LIMIT -1 VALID UNTIL 'infinity'`,
					`ALTER ROLE "rolecd_analytics_bi_0badc0de" SET work_mem = '2MB'`,
					`ALTER ROLE "rolecd_analytics_bi_0badc0de" RESET "My"."Custom"`,
					`ALTER ROLE "rolecd_analytics_bi_0badc0de" RESET application_name`,
				}
				if got := rp.Roles[0].SQLPlan["postgres"]; !slices.Equal(got, want) {
					t.Errorf("postgres:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			},
		},
		{
			name: "removal",
			in: func() Input {
				bi := external("bi", "src_role")
				return complete(input(removalCluster(), ro, bi))
			},
			check: func(t *testing.T, rp ResourcePlan) {
				var got []string
				for _, r := range rp.Roles {
					got = append(got, r.Config.RoleName)
				}
				want := []string{"rolecd_analytics_bi_0badc0de", "rolecd_analytics_ro_0badc0de",
					"rolecd_analytics_ext_2", "rolecd_analytics_gone_3", "rolecd_analytics_old_1"}
				if !slices.Equal(got, want) {
					t.Fatalf("planned roles %q, want %q", got, want)
				}
				ext := rp.Roles[2]
				if !ext.CurrentState.Remove || ext.CurrentState.Keep || ext.Config.Type != "external" || ext.Config.Label != "ext" {
					t.Errorf("removal plan = %+v", ext)
				}
				steps := ApplySteps(ext.SQLPlan, "postgres")
				var order []string
				for _, s := range steps {
					order = append(order, s.Database+": "+s.Statements[len(s.Statements)-1])
				}
				wantOrder := []string{
					`postgres: DROP OWNED BY "rolecd_analytics_ext_2"`,
					`app: DROP OWNED BY "rolecd_analytics_ext_2"`,
					`reports: DROP OWNED BY "rolecd_analytics_ext_2"`,
					`postgres: DROP ROLE "rolecd_analytics_ext_2"`,
				}
				if !slices.Equal(order, wantOrder) {
					t.Errorf("apply steps end with %q, want %q", order, wantOrder)
				}
				if _, ok := ext.SQLPlan["closed"]; ok {
					t.Error("statements for a database rolecd cannot connect to")
				}
			},
		},
		{
			name: "removal_keep",
			in: func() Input {
				in := complete(input(removalCluster(), ro, external("bi", "src_role")))
				in.Resource.KeepRemoved = true
				return in
			},
			check: func(t *testing.T, rp ResourcePlan) {
				var got []string
				for _, r := range rp.Roles[2:] {
					got = append(got, r.Config.RoleName)
					if !r.CurrentState.Keep || len(r.SQLPlan) != 1 || IsRemoval(r.SQLPlan, "postgres") {
						t.Errorf("kept role plan = %+v", r)
					}
				}
				// gone_3 cannot log in any more: nothing to do.
				if want := []string{"rolecd_analytics_ext_2", "rolecd_analytics_old_1"}; !slices.Equal(got, want) {
					t.Errorf("kept roles planned: %q, want %q", got, want)
				}
			},
		},
	}
	runGoldenCases(t, tests)
}

// In sync means in sync for everything the model manages: sequences,
// routines, default privileges, settings that PostgreSQL stores in another
// spelling.
func TestPlanPrivilegeModelInSync(t *testing.T) {
	rw := managed("rw", []string{"app.public"}, "SELECT", "INSERT")
	rw.Functions = []string{"EXECUTE"}
	limit := 7
	rw.ConnectionLimit, rw.ValidUntil = &limit, "2030-01-01T00:00:00Z"
	rw.Options = map[string]string{"search_path": `"$user", Public`, "statement_timeout": "1min"}
	s := appCluster(v16)
	d, _ := s.Database("app")
	d.Schemas[0].Sequences, d.Schemas[0].Routines = 2, 5
	l := liveRole(rw)
	l.ConnLimit, l.ValidUntil = 7, "2030-01-01T00:00:00Z"
	l.Settings = map[string]string{"search_path": `"$user", public`, "statement_timeout": "1min"}
	withRole(s, l)
	grant(s, "app", "", catalog.Grant{Grantee: rw.Name, Privilege: "CONNECT"})
	grant(s, "app", "public", catalog.Grant{Grantee: rw.Name, Privilege: "USAGE"})
	tableGrant(s, "app", "public", rw.Name, "SELECT", 12, 0)
	tableGrant(s, "app", "public", rw.Name, "INSERT", 12, 0)
	d.Schemas[0].SequenceGrants = []catalog.ObjectGrant{
		{Grantee: rw.Name, Privilege: "SELECT", Objects: 2}, {Grantee: rw.Name, Privilege: "USAGE", Objects: 2}}
	d.Schemas[0].RoutineGrants = []catalog.ObjectGrant{{Grantee: rw.Name, Privilege: "EXECUTE", Objects: 5}}
	defaultPriv(s, "app", "public", admin, "TABLES", rw.Name, "SELECT", "INSERT")
	defaultPriv(s, "app", "public", admin, "SEQUENCES", rw.Name, "USAGE", "SELECT")
	defaultPriv(s, "app", "public", admin, "FUNCTIONS", rw.Name, "EXECUTE")
	rp, err := PlanResource(input(s, rw))
	if err != nil {
		t.Fatal(err)
	}
	p := rp.Roles[0]
	if len(p.SQLPlan) != 0 || p.CurrentState.Scopes[0].Status != StatusInSync {
		t.Errorf("in-sync role planned %q (%+v)", p.SQLPlan, p.CurrentState)
	}
}

func TestRemovalSelection(t *testing.T) {
	tests := []struct {
		name string
		in   func() Input
		want []string // removed role names
		to   string   // REASSIGN target
	}{
		{
			name: "a resource known only from options removes nothing",
			in:   func() Input { return input(removalCluster(), ro) },
		},
		{
			name: "drop_reassign_to names the new owner",
			in: func() Input {
				in := complete(input(withRole(removalCluster(), catalog.Role{Name: "archive"}), ro, external("bi", "src_role")))
				in.Resource.DropReassignTo = "archive"
				return in
			},
			want: []string{"rolecd_analytics_ext_2", "rolecd_analytics_gone_3", "rolecd_analytics_old_1"},
			to:   "archive",
		},
		{
			name: "a declared role's source role is kept",
			in:   func() Input { return complete(input(removalCluster(), ro)) },
			want: []string{"rolecd_analytics_ext_2", "rolecd_analytics_gone_3", "rolecd_analytics_old_1", "src_role"},
			to:   admin,
		},
		{
			name: "only one removed role, even of a resource that is not complete",
			in: func() Input {
				in := input(removalCluster())
				in.Only = "rolecd_analytics_old_1"
				return in
			},
			want: []string{"rolecd_analytics_old_1"},
			to:   admin,
		},
		{
			name: "only a declared role: no removal",
			in: func() Input {
				in := complete(input(removalCluster(), ro))
				in.Only = ro.Name
				return in
			},
		},
		{
			name: "only a role without the marker: nothing",
			in: func() Input {
				in := input(removalCluster())
				in.Only = "handmade"
				return in
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rp, err := PlanResource(tt.in())
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rp.Roles {
				if !r.CurrentState.Remove {
					continue
				}
				got = append(got, r.Config.RoleName)
				reassign := `REASSIGN OWNED BY "` + r.Config.RoleName + `" TO "` + tt.to + `"`
				if !slices.Contains(r.SQLPlan["app"], reassign) {
					t.Errorf("%s: no %s in %q", r.Config.RoleName, reassign, r.SQLPlan["app"])
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("removed %q, want %q", got, tt.want)
			}
		})
	}
}

func TestApplySteps(t *testing.T) {
	plain := map[string][]string{"b": {"b1"}, "postgres": {"p1", "p2"}, "a": {"a1"}}
	if got, want := ApplySteps(plain, "postgres"), []Step{{"postgres", []string{"p1", "p2"}}, {"a", []string{"a1"}}, {"b", []string{"b1"}}}; !reflect.DeepEqual(got, want) {
		t.Errorf("ApplySteps = %q, want %q", got, want)
	}
	if IsRemoval(plain, "postgres") {
		t.Error("a plan without DROP ROLE is a removal")
	}
	removal := map[string][]string{"a": {"a1"}, "postgres": {"p1", `DROP ROLE "r"`}}
	got := ApplySteps(removal, "postgres")
	want := []Step{{"postgres", []string{"p1"}}, {"a", []string{"a1"}}, {"postgres", []string{`DROP ROLE "r"`}}}
	if !reflect.DeepEqual(got, want) || !IsRemoval(removal, "postgres") {
		t.Errorf("ApplySteps = %q, want %q", got, want)
	}
}

func TestNonSuperuserAdmin(t *testing.T) {
	const createRoleAdmin = "rolecd_admin"
	cluster := func(version int, createRole bool) *catalog.Snapshot {
		s := appCluster(version)
		s.CurrentUser = createRoleAdmin
		withRole(s, catalog.Role{Name: createRoleAdmin, Login: true, Inherit: true, CreateRole: createRole, ConnLimit: -1,
			MemberOf: []catalog.Membership{{Role: "pg_monitor", Admin: true, Inherit: true, Set: true}, {Role: "postgres", Inherit: true, Set: true}}})
		return s
	}
	for _, v := range []int{v15, v16} {
		if _, err := PlanResource(input(cluster(v, true), ro, external("bi", "pg_monitor"))); err != nil {
			t.Errorf("CREATEROLE admin on %d: %v", v, err)
		}
	}
	notMember := cluster(v16, true)
	notMember.Roles[createRoleAdmin] = catalog.Role{Name: createRoleAdmin, Login: true, Inherit: true, CreateRole: true, ConnLimit: -1}
	for _, tt := range []struct {
		s    *catalog.Snapshot
		want string
	}{
		{cluster(v16, false), `admin "rolecd_admin" is neither a superuser nor has CREATEROLE`},
		{notMember, `role "ro": database "app", schema "app"."public" owned by "postgres": admin "rolecd_admin" does not have the privileges of "postgres", so PostgreSQL would grant nothing there; fix: "postgres" is a superuser, which a non-superuser admin cannot act for`},
		{notMember, `role "bi": admin "rolecd_admin" lacks ADMIN OPTION on source role "pg_monitor", which granting it needs from PostgreSQL 16 on; fix: GRANT "pg_monitor" TO "rolecd_admin" WITH ADMIN OPTION`},
	} {
		if _, err := PlanResource(input(tt.s, ro, external("bi", "pg_monitor"))); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("err = %v, want %q", err, tt.want)
		}
	}
}

func TestPlanResourceModelErrors(t *testing.T) {
	for _, tt := range []struct {
		mutate func(*Input)
		want   string
	}{
		{func(in *Input) { in.Resource.ObjectCreators = []string{"nobody"} }, `object creator "nobody" does not exist`},
		{func(in *Input) { in.Resource.DropReassignTo = "gone_owner" },
			`drop_reassign_to role "gone_owner" does not exist (needed to remove "rolecd_analytics_ext_2")`},
	} {
		in := complete(input(removalCluster(), ro, external("bi", "src_role")))
		tt.mutate(&in)
		rp, err := PlanResource(in)
		if err == nil || !strings.Contains(err.Error(), tt.want) || len(rp.Roles) != 0 {
			t.Errorf("err = %v, want %q", err, tt.want)
		}
	}
	s := synced(appCluster(v16), ro)
	defaultPriv(s, "app", "public", admin, "TABLES", ro.Name, "EXECUTE")
	if _, err := PlanResource(input(s, ro)); err == nil || !strings.Contains(err.Error(), `unknown privilege "EXECUTE on TABLES"`) {
		t.Errorf("a default privilege that cannot be is accepted: %v", err)
	}
}
