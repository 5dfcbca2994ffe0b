package planner

import (
	"slices"
	"strings"
	"testing"

	"github.com/rolecd/rolecd/planner/catalog"
)

// inspectedAdmin is a CREATEROLE admin as catalog.Inspect reports it: a
// member of the owner of every schema and table of appCluster.
func inspectedAdmin(s *catalog.Snapshot, rights map[string]catalog.RoleRights) *catalog.Snapshot {
	s.CurrentUser = "svc_admin"
	all := map[string]catalog.RoleRights{"svc_admin": {Usage: true, Set: true}, admin: {Usage: true, Set: true}}
	for k, v := range rights {
		all[k] = v
	}
	s.Admin = catalog.Admin{Name: "svc_admin", CreateRole: true, CreateDB: true, Rights: all}
	return s
}

func TestCapabilityErrors(t *testing.T) {
	existing := func(r catalog.Role) catalog.Role {
		r.Name, r.Login, r.Inherit, r.ConnLimit = ro.Name, true, true, -1
		return r
	}
	for _, tt := range []struct {
		name string
		s    *catalog.Snapshot
		want string // "" for no error
	}{
		{"15: any non-superuser role", withRole(inspectedAdmin(appCluster(v15), nil), existing(catalog.Role{CreateDB: true})), ""},
		{"15: a REPLICATION role", withRole(inspectedAdmin(appCluster(v15), nil), existing(catalog.Role{Replication: true})),
			`role "ro": existing role "` + ro.Name + `" has REPLICATION: before PostgreSQL 16 only a superuser may alter such a role, and admin "svc_admin" is not one`},
		{"15: BYPASSRLS", withRole(inspectedAdmin(appCluster(v15), nil), existing(catalog.Role{BypassRLS: true})), `has BYPASSRLS: before PostgreSQL 16 only a superuser may revert it`},
		{"any: a superuser", withRole(inspectedAdmin(appCluster(v16), nil), existing(catalog.Role{Superuser: true})), `is a superuser: only a superuser may alter it`},
		{"16: without ADMIN OPTION", withRole(inspectedAdmin(appCluster(v16), nil), existing(catalog.Role{})),
			`admin "svc_admin" lacks ADMIN OPTION on existing role "` + ro.Name + `" (created by another role)`},
		{"16: with ADMIN OPTION", withRole(inspectedAdmin(appCluster(v16), map[string]catalog.RoleRights{ro.Name: {Admin: true}}), existing(catalog.Role{CreateDB: true})), ""},
		{"16: REPLICATION the admin lacks", withRole(inspectedAdmin(appCluster(v16), map[string]catalog.RoleRights{ro.Name: {Admin: true}}), existing(catalog.Role{Replication: true})),
			`has REPLICATION: reverting it needs the admin to have REPLICATION itself, and admin "svc_admin" has not`},
		{"16: a new role", inspectedAdmin(appCluster(v16), nil), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := PlanResource(input(tt.s, ro))
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("err = %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// A non-superuser admin's removal starts by granting itself the role; the
// plan notes that password drift is not checked.
func TestRemovalByCreateRoleAdmin(t *testing.T) {
	for _, tt := range []struct {
		version int
		want    string
	}{
		{v15, `GRANT "rolecd_analytics_old_1" TO "svc_admin"`},
		{v16, `GRANT "rolecd_analytics_old_1" TO "svc_admin" WITH INHERIT TRUE, SET TRUE`},
	} {
		s := removalCluster()
		s.ServerVersionNum = tt.version
		inspectedAdmin(s, map[string]catalog.RoleRights{"rolecd_analytics_old_1": {Admin: true}, "rolecd_analytics_ext_2": {Admin: true},
			"rolecd_analytics_gone_3": {Admin: true}, "src_role": {Admin: true}})
		rp, err := PlanResource(complete(input(s, ro, external("bi", "src_role"))))
		if err != nil {
			t.Fatalf("%d: %v", tt.version, err)
		}
		for _, r := range rp.Roles {
			if r.Config.RoleName == "rolecd_analytics_old_1" && (len(r.SQLPlan["postgres"]) == 0 || r.SQLPlan["postgres"][0] != tt.want) {
				t.Errorf("%d: removal starts %q, want %q", tt.version, r.SQLPlan["postgres"], tt.want)
			}
		}
		if !slices.ContainsFunc(rp.Notes, func(n string) bool { return strings.HasPrefix(n, `password drift is not checked: admin "svc_admin"`) }) {
			t.Errorf("notes = %q", rp.Notes)
		}
	}
	s := removalCluster()
	inspectedAdmin(s, map[string]catalog.RoleRights{"src_role": {Admin: true}})
	if _, err := PlanResource(complete(input(s, ro, external("bi", "src_role")))); err == nil ||
		!strings.Contains(err.Error(), `removing "rolecd_analytics_ext_2": admin "svc_admin" has neither the privileges of "rolecd_analytics_ext_2" nor ADMIN OPTION on it`) {
		t.Errorf("removal without ADMIN OPTION on 16: %v", err)
	}
}

// An object owned by a superuser (a managed service's own role) cannot be
// fixed by membership: the plan says to narrow the scope.
func TestObjectOwnedBySuperuser(t *testing.T) {
	s := inspectedAdmin(appCluster(v16), nil)
	sc, _ := s.Databases[0].Schema("sales")
	sc.Creators = []string{"rdsadmin"}
	withRole(s, catalog.Role{Name: "rdsadmin", Superuser: true})
	r := managed("ro", []string{"app"}, "SELECT")
	_, err := PlanResource(input(s, r))
	want := `role "ro": objects in schema "app"."sales" owned by "rdsadmin": admin "svc_admin" does not have the privileges of "rdsadmin", so PostgreSQL would grant nothing there; fix: "rdsadmin" is a superuser, which a non-superuser admin cannot act for: declare scopes (db.schema) that leave its objects out`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want %q", err, want)
	}
}
