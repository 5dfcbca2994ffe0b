package planner

import (
	"slices"
	"strings"
	"testing"

	"github.com/rolecd/rolecd/planner/catalog"
)

func TestDangerousSourceRoles(t *testing.T) {
	member := func(roles ...string) []catalog.Membership {
		var out []catalog.Membership
		for _, r := range roles {
			out = append(out, catalog.Membership{Role: r, Inherit: true, Set: true})
		}
		return out
	}
	// A cluster with roles of every kind: attributes, and memberships
	// leading to them.
	cluster := func() *catalog.Snapshot {
		s := appCluster(v16)
		for _, r := range []catalog.Role{
			{Name: "boss", Superuser: true},
			{Name: "replicator", Replication: true, Login: true},
			{Name: "auditor", BypassRLS: true},
			{Name: "allpowers", Superuser: true, Replication: true, BypassRLS: true},
			{Name: "team_lead", MemberOf: member("boss")},
			{Name: "ops", MemberOf: member("reporting", "team_lead")},
			{Name: "reporting", MemberOf: member("pg_read_all_data")},
			{Name: "etl", MemberOf: member("pg_write_server_files")},
			{Name: "a_loop", MemberOf: member("b_loop")},
			{Name: "b_loop", MemberOf: member("a_loop", "pg_monitor")},
			{Name: "pg_read_all_data"},
			{Name: "pg_write_server_files"},
			{Name: "pg_execute_server_program"},
		} {
			withRole(s, r)
		}
		return s
	}
	tests := []struct {
		name   string
		source string
		allow  []string
		want   string // "": planned
	}{
		{name: "superuser", source: "boss",
			want: `role "bi": source role "boss" has SUPERUSER; to grant it anyway, list "boss" in allow_source_roles of resource "analytics"`},
		{name: "replication", source: "replicator",
			want: `role "bi": source role "replicator" has REPLICATION; to grant it anyway, list "replicator" in allow_source_roles of resource "analytics"`},
		{name: "bypassrls", source: "auditor",
			want: `role "bi": source role "auditor" has BYPASSRLS; to grant it anyway, list "auditor" in allow_source_roles of resource "analytics"`},
		{name: "every attribute named", source: "allpowers",
			want: `role "bi": source role "allpowers" has SUPERUSER, REPLICATION, BYPASSRLS; to grant it anyway, list "allpowers" in allow_source_roles of resource "analytics"`},
		{name: "member of a superuser", source: "team_lead",
			want: `role "bi": source role "team_lead" is a member of "boss", which has SUPERUSER: its members can SET ROLE to it; to grant it anyway, list "team_lead" in allow_source_roles of resource "analytics"`},
		{name: "member of a member of a superuser", source: "ops",
			want: `role "bi": source role "ops" is a member of "boss" (through "team_lead"), which has SUPERUSER: its members can SET ROLE to it; to grant it anyway, list "ops" in allow_source_roles of resource "analytics"`},
		{name: "member of a dangerous predefined role", source: "etl",
			want: `role "bi": source role "etl" is a member of "pg_write_server_files", which lets its members write any file the server's operating-system user can write (COPY ... TO): its members can SET ROLE to it; to grant it anyway, list "etl" in allow_source_roles of resource "analytics"`},
		{name: "allowed superuser", source: "boss", allow: []string{"boss"}},
		{name: "allowed indirect superuser", source: "ops", allow: []string{"ops"}},
		{name: "allowing the superuser itself does not allow its members", source: "team_lead", allow: []string{"boss"},
			want: `role "bi": source role "team_lead" is a member of "boss", which has SUPERUSER: its members can SET ROLE to it; to grant it anyway, list "team_lead" in allow_source_roles of resource "analytics"`},
		{name: "a predefined role, not allowed", source: "pg_execute_server_program",
			want: `role "bi": source role "pg_execute_server_program" lets its members run programs on the database host as the server's operating-system user (COPY ... PROGRAM): shell access; to grant it anyway, list "pg_execute_server_program" in allow_source_roles of resource "analytics"`},
		{name: "a predefined role allowed in the files", source: "pg_execute_server_program", allow: []string{"pg_execute_server_program"}},
		{name: "ordinary memberships", source: "reporting"},
		{name: "a membership loop", source: "a_loop"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := input(cluster(), external("bi", tt.source))
			in.Resource.AllowSourceRoles = tt.allow
			rp, err := PlanResource(in)
			if tt.want != "" {
				if err == nil || err.Error() != tt.want {
					t.Fatalf("error = %v\nwant    %s", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("error = %v, want a plan", err)
			}
			if len(rp.Roles) != 1 || !slices.ContainsFunc(rp.Roles[0].SQLPlan["postgres"], func(s string) bool {
				return strings.HasPrefix(s, `GRANT "`+tt.source+`" TO `)
			}) {
				t.Errorf("plan = %+v, want the grant of %s", rp.Roles, tt.source)
			}
		})
	}
}
