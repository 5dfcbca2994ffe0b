package spec

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestRoleErrors(t *testing.T) {
	label45 := strings.Repeat("l", 45)
	tests := []struct {
		name string
		opts Options
		data string
		want []string
	}{
		{name: "missing resource", data: `roles:
  - {role: ro, scopes: [a], privileges: [SELECT]}
`, want: []string{"roles.yaml:2:5: role needs a resource"}},
		{name: "unknown resource", data: `roles:
  - {resource: nope, role: ro, scopes: [a], privileges: [SELECT]}
`, want: []string{`roles.yaml:2:16: unknown resource "nope"`}},
		{name: "unknown type", data: `roles:
  - {resource: analytics, type: admin, role: ro}
`, want: []string{`roles.yaml:2:33: unknown type "admin": want managed or external`}},
		{name: "missing label", data: `roles:
  - {resource: analytics, scopes: [a], privileges: [SELECT]}
`, want: []string{"roles.yaml:2:5: role needs a label (role: ...)"}},
		{name: "label with a space", data: `roles:
  - {resource: analytics, role: "read only", scopes: [a], privileges: [SELECT]}
`, want: []string{`roles.yaml:2:33: invalid role label "read only": want 1-44 characters from letters, digits, "_", "-" and ".", with at least one letter or digit`}},
		{name: "label without letter or digit", data: `roles:
  - {resource: analytics, role: "._-", scopes: [a], privileges: [SELECT]}
`, want: []string{`roles.yaml:2:33: invalid role label "._-": want 1-44 characters from letters, digits, "_", "-" and ".", with at least one letter or digit`}},
		{name: "label over 44", data: `roles:
  - {resource: analytics, role: ` + label45 + `, scopes: [a], privileges: [SELECT]}
`, want: []string{`roles.yaml:2:33: invalid role label "` + label45 + `": want 1-44 characters from letters, digits, "_", "-" and ".", with at least one letter or digit`}},
		{name: "label over the budget of a long prefix", opts: Options{Prefix: strings.Repeat("p", 30)}, data: `roles:
  - {resource: analytics, role: ` + strings.Repeat("l", 22) + `, scopes: [a], privileges: [SELECT]}
`, want: []string{`roles.yaml:2:33: label "` + strings.Repeat("l", 22) + `" is too long for the 63-byte role name under prefix "` + strings.Repeat("p", 30) + `": its slug has 22 characters, at most 21 fit`}},
		{name: "managed without scopes and privileges", data: `roles:
  - {resource: analytics, role: ro, scopes: [], privileges: ""}
`, want: []string{
			"roles.yaml:2:5: managed role needs privileges",
			"roles.yaml:2:5: managed role needs scopes",
		}},
		{name: "managed with source_role", data: `roles:
  - {resource: analytics, role: ro, scopes: [a], privileges: [SELECT], source_role: pg_monitor}
`, want: []string{`roles.yaml:2:85: source_role "pg_monitor" is only for external roles`}},
		{name: "external without source_role", data: `roles:
  - {resource: analytics, type: external, role: bi}
`, want: []string{"roles.yaml:2:5: external role needs a source_role"}},
		{name: "external with scopes and privileges", data: `roles:
  - resource: analytics
    type: External
    role: bi
    source_role: pg_read_all_data
    scopes: [a]
    privileges: [SELECT]
`, want: []string{
			"roles.yaml:6:13: scopes are only for managed roles (an external role gets its access from source_role)",
			"roles.yaml:7:17: privileges are only for managed roles (an external role gets its access from source_role)",
		}},
		{name: "source_role too long", data: `roles:
  - {resource: analytics, type: external, role: bi, source_role: ` + strings.Repeat("s", 64) + `}
`, want: []string{`roles.yaml:2:66: invalid source_role "` + strings.Repeat("s", 64) + `": longer than 63 bytes`}},
		{name: "source_role with NUL", data: `roles:
  - {resource: analytics, type: external, role: bi, source_role: "a\0"}
`, want: []string{`roles.yaml:2:66: invalid source_role "a\x00": contains a NUL byte`}},
		{name: "non-table privileges", data: `roles:
  - resource: analytics
    role: ro
    scopes: [a]
    privileges:
      - CONNECT
      - usage
      - TEMPORARY
      - temp
      - CREATE
      - EXECUTE
      - SELEKT
      - ""
`, want: []string{
			`roles.yaml:6:9: privilege "CONNECT" is a database privilege: every scope grants CONNECT on its database; list table privileges only`,
			`roles.yaml:7:9: privilege "usage" is a schema and sequence privilege: every scope grants USAGE on its schemas, and INSERT or UPDATE adds USAGE, SELECT on their sequences; list table privileges only`,
			`roles.yaml:8:9: privilege "TEMPORARY" is a database privilege that rolecd does not grant; list table privileges only`,
			`roles.yaml:9:9: privilege "temp" is a database privilege that rolecd does not grant; list table privileges only`,
			`roles.yaml:10:9: privilege "CREATE" is a database and schema privilege that rolecd does not grant (roles that create tables belong in the resource's object_creators); list table privileges only`,
			`roles.yaml:11:9: privilege "EXECUTE" is a function privilege, not a table privilege: declare functions: [EXECUTE] on the role`,
			`roles.yaml:12:9: unknown privilege "SELEKT": want SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER, MAINTAIN or ALL`,
			`roles.yaml:13:9: empty privilege`,
		}},
		{name: "bad scopes", data: `roles:
  - resource: analytics
    role: ro
    privileges: [SELECT]
    scopes:
      - a.b.c
      - .public
      - "analytics."
      - " analytics"
      - ` + strings.Repeat("d", 64) + `
      - "a\0"
      -
`, want: []string{
			`roles.yaml:6:9: invalid scope "a.b.c": more than one dot (want db or db.schema)`,
			`roles.yaml:7:9: invalid scope ".public": empty database name`,
			`roles.yaml:8:9: invalid scope "analytics.": empty schema name`,
			`roles.yaml:9:9: invalid scope " analytics": leading or trailing space`,
			`roles.yaml:10:9: invalid scope "` + strings.Repeat("d", 64) + `": database name longer than 63 bytes`,
			`roles.yaml:11:9: invalid scope "a\x00": contains a NUL byte`,
			`roles.yaml:12:8: scopes: empty entry`,
		}},
		{name: "scopes as a mapping", data: `roles:
  - {resource: analytics, role: ro, scopes: {a: b}, privileges: [SELECT]}
`, want: []string{"roles.yaml:2:45: scopes: want a list, got a mapping"}},
		{name: "a single value where a list is expected", data: `roles:
  - resource: analytics
    role: ro
    scopes: analytics
    privileges: SELECT
    functions: EXECUTE
  - {resource: analytics, role: rw, scopes: "analytics.public; legacy", permissions: "SELECT;INSERT"}
`, want: []string{
			`roles.yaml:4:13: scopes: want a list, got a single value "analytics": write scopes: [analytics]`,
			`roles.yaml:5:17: privileges: want a list, got a single value "SELECT": write privileges: [SELECT]`,
			`roles.yaml:6:16: functions: want a list, got a single value "EXECUTE": write functions: [EXECUTE]`,
			`roles.yaml:7:45: scopes: want a list, got a single value "analytics.public; legacy": write scopes: [analytics.public, legacy]`,
			`roles.yaml:7:86: permissions: want a list, got a single value "SELECT;INSERT": write permissions: [SELECT, INSERT]`,
		}},
		{name: "Hoop's items keep the ;-separated string", data: `items:
  - {resource_name: analytics, role: ro, scopes: "analytics.public;legacy", privileges: SELECT}
`},
		{name: "rotate_password not a bool", data: `roles:
  - {resource: analytics, role: ro, scopes: [a], privileges: [SELECT], rotate_password: sometimes}
`, want: []string{`roles.yaml:2:89: invalid rotate_password "sometimes": want true or false`}},
		{name: "privileges and permissions", data: `roles:
  - resource: analytics
    role: ro
    scopes: [a]
    privileges: [SELECT]
    permissions: [SELECT]
`, want: []string{"roles.yaml:6:5: both privileges and permissions given (permissions is an alias of privileges, first at line 5)"}},
		{name: "unknown key", data: `roles:
  - {resource: analytics, label: ro, scopes: [a], privileges: [SELECT]}
`, want: []string{
			"roles.yaml:2:5: role needs a label (role: ...)",
			`roles.yaml:2:27: unknown key "label" in role: want resource, type, role, scopes, privileges, permissions, source_role, rotate_password, functions, connection_limit, valid_until, password_max_age, options`,
		}},
		{name: "role not a mapping", data: `roles:
  - analytics
`, want: []string{"roles.yaml:2:5: each role must be a mapping, got a single value"}},
		{name: "roles not a list", data: `roles:
  resource: analytics
`, want: []string{"roles.yaml:2:3: roles: want a list, got a mapping"}},
		{name: "declared differently twice", data: `roles:
  - {resource: analytics, role: ro, scopes: [a], privileges: [SELECT]}
  - {resource: analytics, role: ro, scopes: [a], privileges: [INSERT]}
`, want: []string{`roles.yaml:3:5: role "ro" of resource "analytics" already declared differently at roles.yaml:2:5`}},
		{name: "items use resource_name", data: `items:
  - {resource: analytics, role: ro, scopes: [a], privileges: [SELECT]}
`, want: []string{
			"roles.yaml:2:5: role needs a resource",
			`roles.yaml:2:6: unknown key "resource" in item: want resource_name, type, role, scopes, privileges, permissions, source_role, rotate_password, functions, connection_limit, valid_until, password_max_age, options`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Resources = knownResources
			got := parseErrs(t, tt.opts, yamlOf(tt.data))
			if !slices.Equal(got, tt.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestRoleNormalisation(t *testing.T) {
	files := []File{
		yamlOf(`roles:
  - resource: analytics
    type: MANAGED
    role: ro
    scopes: [legacy.public, analytics.public, legacy.public, "analytics.Mixed Case"]
    privileges: [trigger, Select, SELECT, maintain]
  - resource: analytics
    role: rw
    scopes: [analytics.public, analytics.public]
    privileges: [select, all, INSERT]
    rotate_password: true
  - {resource: analytics, type: external, role: bi, source_role: pg_read_all_data}
`),
		// The same roles again, identical once normalised (a bare scope of
		// a Hoop CSV is its public schema): merged silently.
		csvOf("resource_name,type,role,scopes,permissions,source_role\n" +
			"analytics,managed,ro,analytics.public;legacy;analytics.Mixed Case,MAINTAIN;TRIGGER;SELECT,\n" +
			"analytics,External,bi,,,pg_read_all_data\n"),
	}
	tree := mustParse(t, Options{Prefix: "hoopdev", Resources: knownResources}, files...)
	want := []Role{
		{Resource: "analytics", Type: External, Label: "bi", Name: "hoopdev_analytics_bi_" + Hash8("analytics", "bi"),
			SourceRole: "pg_read_all_data", Pos: Pos{File: "roles.yaml", Line: 12, Col: 5}},
		{Resource: "analytics", Type: Managed, Label: "ro", Name: "hoopdev_analytics_ro_6075a443",
			Scopes:     []Scope{{"analytics", "Mixed Case"}, {"analytics", "public"}, {"legacy", "public"}},
			Privileges: []string{"SELECT", "TRIGGER", "MAINTAIN"}, Pos: Pos{File: "roles.yaml", Line: 2, Col: 5}},
		{Resource: "analytics", Type: Managed, Label: "rw", Name: "hoopdev_analytics_rw_" + Hash8("analytics", "rw"),
			Scopes: []Scope{{"analytics", "public"}}, Privileges: []string{"ALL"}, RotatePassword: true,
			Pos: Pos{File: "roles.yaml", Line: 7, Col: 5}},
	}
	if !reflect.DeepEqual(tree.Roles, want) {
		t.Errorf("roles:\n%+v\nwant:\n%+v", tree.Roles, want)
	}
	if len(tree.Resources) != 1 || tree.Resources[0].Name != "analytics" {
		t.Errorf("resources = %+v, want only the referenced analytics", tree.Resources)
	}
}

func TestOptionResources(t *testing.T) {
	known := append(slices.Clone(knownResources), Resource{Name: "unused", Host: "h", Port: 5432, Database: "postgres", SSLMode: "prefer"})
	t.Run("only referenced ones are in the tree", func(t *testing.T) {
		tree := mustParse(t, Options{Resources: known}, yamlOf(`roles:
  - {resource: analytics, role: ro, scopes: [a], privileges: [SELECT]}
`))
		if !reflect.DeepEqual(tree.Resources, knownResources) {
			t.Errorf("resources = %+v, want %+v", tree.Resources, knownResources)
		}
	})
	t.Run("identical redeclaration is merged", func(t *testing.T) {
		tree := mustParse(t, Options{Resources: known}, yamlOf(`resources:
  - {name: analytics, host: db1.internal, admin: {user: postgres}}
`))
		if len(tree.Resources) != 1 || tree.Resources[0].Pos != knownResources[0].Pos {
			t.Errorf("resources = %+v, want the known analytics", tree.Resources)
		}
	})
	t.Run("different redeclaration names the other position", func(t *testing.T) {
		got := parseErrs(t, Options{Resources: known}, yamlOf(`resources:
  - {name: analytics, host: db9.internal, admin: {user: postgres}}
`))
		want := []string{`roles.yaml:2:5: resource "analytics" already declared differently at inventory.yaml:2:5`}
		if !slices.Equal(got, want) {
			t.Errorf("errors = %q, want %q", got, want)
		}
	})
}

func TestRoleReferencesInvalidResource(t *testing.T) {
	// A declared but invalid resource is reported once, not again as
	// "unknown resource" by each of its roles.
	got := parseErrs(t, Options{}, yamlOf(`resources:
  - {name: analytics, host: h, port: 0, admin: {user: u}}
roles:
  - {resource: analytics, role: ro, scopes: [a], privileges: [SELECT]}
`))
	want := []string{`roles.yaml:2:38: invalid port "0": want a number from 1 to 65535`}
	if !slices.Equal(got, want) {
		t.Errorf("errors = %q, want %q", got, want)
	}
}

func TestPrefixOption(t *testing.T) {
	got := parseErrs(t, Options{Prefix: "Bad-Prefix"})
	want := []string{`role_prefix: invalid role prefix "Bad-Prefix": want lower-case letters, digits and "_"`}
	if !slices.Equal(got, want) {
		t.Errorf("errors = %q, want %q", got, want)
	}
}
