package spec

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestCSVErrors(t *testing.T) {
	const header = "resource_name,type,role,scopes,permissions,source_role\n"
	tests := []struct {
		name string
		data string
		want []string
	}{
		{"unknown and missing columns (source_role may be omitted)", "resource_name,kind,role,scopes,permissions\n", []string{
			`roles.csv:1: missing column "type" (want header resource_name,type,role,scopes,permissions,source_role)`,
			`roles.csv:1: unknown column "kind": want resource_name,type,role,scopes,permissions,source_role (and optionally rotate_password)`,
		}},
		{"duplicate column", "resource_name,type,role,role,scopes,permissions,source_role\n", []string{
			`roles.csv:1: duplicate column "role"`,
		}},
		{"permissions and privileges", "resource_name,type,role,scopes,permissions,privileges,source_role\n", []string{
			"roles.csv:1: both permissions and privileges columns (privileges is an alias of permissions)",
		}},
		{"wrong field count", header + "analytics,managed,ro,a,SELECT\n", []string{
			"roles.csv:2: 5 fields, want 6 as in the header (line 1)",
		}},
		{"unterminated quote names the record's line", header + "analytics,managed,ro,a,SELECT,\nanalytics,managed,\"rw,a,SELECT,\nx\n", []string{
			`roles.csv:3: invalid CSV: extraneous or missing " in quoted-field (detected at line 4, column 3)`,
		}},
		{"bare quote", header + "analytics,man\"aged,ro,a,SELECT,\n", []string{
			`roles.csv:2: invalid CSV: bare " in non-quoted-field (column 14)`,
		}},
		{"cell problems name their line", header + "\nanalytics,managed,ro,a.b.c,SELECT;CONNECT,\nnope,bogus,,,,\n", []string{
			`roles.csv:3: invalid scope "a.b.c": more than one dot (want db or db.schema)`,
			`roles.csv:3: privilege "CONNECT" is a database privilege: every scope grants CONNECT on its database; list table privileges only`,
			`roles.csv:4: role needs a label (role: ...)`,
			`roles.csv:4: unknown resource "nope"`,
			`roles.csv:4: unknown type "bogus": want managed or external`,
		}},
		{"multi-line cell", header + "analytics,managed,ro,\"a;\nb.c.d\",SELECT,\n", []string{
			`roles.csv:2: invalid scope "b.c.d": more than one dot (want db or db.schema)`,
		}},
		{"external with permissions", header + "analytics,external,bi,,SELECT,pg_monitor\n", []string{
			"roles.csv:2: privileges are only for managed roles (an external role gets its access from source_role)",
		}},
		{"bad rotate_password", "resource_name,type,role,scopes,permissions,source_role,rotate_password\nanalytics,,ro,a,SELECT,,maybe\n", []string{
			`roles.csv:2: invalid rotate_password "maybe": want true or false`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseErrs(t, Options{Resources: knownResources}, csvOf(tt.data))
			if !slices.Equal(got, tt.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestCSVForms(t *testing.T) {
	want := []Role{
		{Resource: "analytics", Type: External, Label: "bi", Name: "rolecd_analytics_bi_" + Hash8("analytics", "bi"),
			SourceRole: "pg_read_all_data", Pos: Pos{File: "roles.csv", Line: 5}},
		{Resource: "analytics", Type: Managed, Label: "ro", Name: "rolecd_analytics_ro_6075a443",
			Scopes: []Scope{{"analytics", "public"}, {"legacy", "public"}}, Privileges: []string{"SELECT", "INSERT"},
			RotatePassword: true, Pos: Pos{File: "roles.csv", Line: 3}},
	}
	// A BOM, columns in another order, the privileges alias, an optional
	// rotate_password column, blank lines and rows, spaces around cells;
	// Hoop's meaning: the label lower-cased (RO names the role ro), a bare
	// scope is its public schema, permissions ","-separated.
	data := "\uFEFF\n source_role , Role,privileges,scopes,type,resource_name,rotate_password\n" +
		`, RO , "INSERT, select", analytics.public;legacy;, managed, analytics,TRUE` + "\n" +
		" , , , , , ,\n" +
		"pg_read_all_data,bi,,,EXTERNAL,analytics,\n"
	tree := mustParse(t, Options{Resources: knownResources}, csvOf(data))
	if !reflect.DeepEqual(tree.Roles, want) {
		t.Errorf("roles:\n%+v\nwant:\n%+v", tree.Roles, want)
	}
}

func TestEmptyCSV(t *testing.T) {
	// A header alone declares no roles.
	tree := mustParse(t, Options{}, csvOf("resource_name,type,role,scopes,permissions,source_role\n"))
	if len(tree.Roles) != 0 || len(tree.Resources) != 0 {
		t.Errorf("header only: tree = %+v, want empty", tree)
	}
	// No header at all is a mistake (a truncated export, the wrong file).
	want := []string{"roles.csv:1: empty CSV file: want the header resource_name,type,role,scopes,permissions,source_role (and rows below it)"}
	for _, data := range []string{"", "\n\n", "\uFEFF", " , \n"} {
		if got := parseErrs(t, Options{}, csvOf(data)); !slices.Equal(got, want) {
			t.Errorf("%q: errors %q, want %q", data, got, want)
		}
	}
}
