package planner

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/rolecd/rolecd/internal/golden"
	"github.com/rolecd/rolecd/planner/catalog"
	"github.com/rolecd/rolecd/planner/spec"
)

const (
	testResource = "analytics"
	admin        = "postgres"
)

// Server versions used by the tests.
const (
	v15 = 150018
	v16 = 160010
	v17 = 170006
)

// snapshot builds a cluster with a superuser admin, a few predefined roles
// and the given databases, plus the maintenance database "postgres" when
// they do not include it.
func snapshot(version int, dbs ...catalog.Database) *catalog.Snapshot {
	s := &catalog.Snapshot{
		ServerVersionNum: version,
		ServerVersion:    versionString(version),
		CurrentUser:      admin,
		Roles: map[string]catalog.Role{
			admin:              {Name: admin, Superuser: true, Login: true, Inherit: true, CreateRole: true, CreateDB: true, Replication: true, BypassRLS: true, ConnLimit: -1},
			"pg_read_all_data": {Name: "pg_read_all_data", Inherit: true, ConnLimit: -1},
			"pg_monitor":       {Name: "pg_monitor", Inherit: true, ConnLimit: -1},
		},
	}
	hasMaint := false
	for _, d := range dbs {
		hasMaint = hasMaint || d.Name == admin
	}
	if !hasMaint {
		dbs = append([]catalog.Database{inspected("postgres", schema("public", 0))}, dbs...)
	}
	s.Databases = dbs
	return s
}

func versionString(num int) string {
	return map[int]string{v15: "15.18", v16: "16.10", v17: "17.6"}[num]
}

// inspected is a database rolecd can connect to.
func inspected(name string, schemas ...catalog.Schema) catalog.Database {
	return catalog.Database{Name: name, Owner: admin, AllowConn: true, Inspected: true, Schemas: schemas}
}

// notInspected is a database rolecd cannot connect to: only its ACL is known.
func notInspected(name string, template bool, acl ...catalog.Grant) catalog.Database {
	return catalog.Database{Name: name, Owner: admin, AllowConn: template, IsTemplate: template, ACL: acl}
}

func schema(name string, tables int) catalog.Schema {
	return catalog.Schema{Name: name, Owner: admin, Tables: tables}
}

// withRole adds a live role to the snapshot.
func withRole(s *catalog.Snapshot, r catalog.Role) *catalog.Snapshot {
	s.Roles[r.Name] = r
	return s
}

// liveRole is a role exactly as rolecd wants it, marker included.
func liveRole(r spec.Role, memberOf ...catalog.Membership) catalog.Role {
	return catalog.Role{Name: r.Name, Login: true, Inherit: true, ConnLimit: -1, Comment: Marker(r), MemberOf: memberOf}
}

// grant adds a direct grant to database db (and schema sc when not empty).
func grant(s *catalog.Snapshot, db, sc string, g catalog.Grant) {
	d, ok := s.Database(db)
	if !ok {
		panic("no database " + db)
	}
	if sc == "" {
		d.ACL = append(d.ACL, g)
		return
	}
	x, ok := d.Schema(sc)
	if !ok {
		panic("no schema " + sc)
	}
	x.ACL = append(x.ACL, g)
}

// tableGrant records that grantee holds priv on n relations of db.sc, on g
// of them WITH GRANT OPTION.
func tableGrant(s *catalog.Snapshot, db, sc, grantee, priv string, n, g int) {
	d, _ := s.Database(db)
	x, ok := d.Schema(sc)
	if !ok {
		panic("no schema " + sc)
	}
	x.TableGrants = append(x.TableGrants, catalog.ObjectGrant{Grantee: grantee, Privilege: priv, Objects: n, Grantable: g})
}

// defaultPriv records that objects creator makes in db.sc will grant
// grantee privs (default privileges).
func defaultPriv(s *catalog.Snapshot, db, sc, creator, objects, grantee string, privs ...string) {
	d, _ := s.Database(db)
	x, ok := d.Schema(sc)
	if !ok {
		panic("no schema " + sc)
	}
	for _, p := range privs {
		x.DefaultGrants = append(x.DefaultGrants, catalog.DefaultGrant{Creator: creator, Objects: objects, Grantee: grantee, Privilege: p})
	}
}

// managed declares a managed role; scopes are written as in role files.
func managed(label string, scopes []string, privs ...string) spec.Role {
	r := spec.Role{Resource: testResource, Type: spec.Managed, Label: label, Name: "rolecd_analytics_" + label + "_0badc0de", Privileges: privs}
	for _, s := range scopes {
		db, sc, _ := strings.Cut(s, ".")
		r.Scopes = append(r.Scopes, spec.Scope{Database: db, Schema: sc})
	}
	return r
}

// external declares an external role.
func external(label, source string) spec.Role {
	return spec.Role{Resource: testResource, Type: spec.External, Label: label, Name: "rolecd_analytics_" + label + "_0badc0de", SourceRole: source}
}

func input(s *catalog.Snapshot, roles ...spec.Role) Input {
	return Input{Resource: spec.Resource{Name: testResource, Database: "postgres"}, Roles: roles, Snapshot: s}
}

// marshalIndent renders v as the golden files hold it: indented JSON
// without HTML escaping, so SQL stays readable.
func marshalIndent(t testing.TB, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatalf("encoding: %v", err)
	}
	return buf.Bytes()
}

// goldenCase is one planner scenario: its input, optional extra checks,
// and the golden file testdata/<name>.golden holding the plan.
type goldenCase struct {
	name  string
	in    func() Input
	check func(t *testing.T, rp ResourcePlan)
}

// runGoldenCases plans each case twice (the plans must be equal), checks
// the plan invariants and the case's own checks, and compares the plan with
// its golden file.
func runGoldenCases(t *testing.T, tests []goldenCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rp, err := PlanResource(tt.in())
			if err != nil {
				t.Fatalf("PlanResource: %v", err)
			}
			assertInvariants(t, rp)
			again, err := PlanResource(tt.in())
			if err != nil || !reflect.DeepEqual(rp, again) {
				t.Errorf("planning twice differs:\n%+v\n%+v (%v)", rp, again, err)
			}
			if tt.check != nil {
				tt.check(t, rp)
			}
			golden.Assert(t, tt.name+".golden", marshalIndent(t, rp))
		})
	}
}
