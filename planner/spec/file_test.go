package spec

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/rolecd/rolecd/internal/yamlpos"
)

func TestFileErrors(t *testing.T) {
	tests := []struct {
		name  string
		files []File
		want  []string
	}{
		{"YAML not UTF-8", []File{yamlOf("roles:\n  - resource: analytics\n    role: r\xffo\n")}, []string{
			"roles.yaml:3:12: not valid UTF-8: save the file as UTF-8",
		}},
		{"UTF-16 is not UTF-8", []File{yamlOf("\xff\xfer\x00o\x00")}, []string{
			"roles.yaml:1:1: not valid UTF-8: save the file as UTF-8",
		}},
		{"CSV not UTF-8", []File{csvOf("resource_name,type,role,scopes,permissions,source_role\nanalytics,,r\xe9,a,SELECT,\n")}, []string{
			"roles.csv:2: not valid UTF-8: save the file as UTF-8",
		}},
		{"YAML syntax error", []File{yamlOf("roles:\n  - resource: analytics\n   role: [ro\n")}, []string{
			"roles.yaml:3: invalid YAML: did not find expected '-' indicator",
		}},
		// yaml.v3 itself would say "line 4" (the 0-based start of the list).
		{"YAML syntax error deep in a block", []File{yamlOf("resources: []\n# c\n\nroles:\n  - resource: analytics\n    role: ro\n   x: 1\n")}, []string{
			"roles.yaml:7: invalid YAML: did not find expected '-' indicator",
		}},
		{"YAML unterminated flow list", []File{yamlOf("roles:\n  - resource: analytics\n    scopes: [a, b\n\n    role: ro\n")}, []string{
			"roles.yaml:3: invalid YAML: did not find expected ',' or ']'",
		}},
		{"YAML unknown anchor", []File{yamlOf("roles:\n  - resource: analytics\n    scopes: *nope\n")}, []string{
			"roles.yaml:3: invalid YAML: unknown anchor 'nope' referenced",
		}},
		{"YAML tab indentation", []File{yamlOf("roles:\n\t- resource: analytics\n")}, []string{
			"roles.yaml:2: invalid YAML: found character that cannot start any token",
		}},
		{"none of the known keys", []File{yamlOf("apiVersion: v1\nkind: ConfigMap\n")}, []string{
			"roles.yaml:1:1: no resources, roles or items",
			`roles.yaml:1:1: unknown key "apiVersion" in role file: want resources, roles, items`,
			`roles.yaml:2:1: unknown key "kind" in role file: want resources, roles, items`,
		}},
		{"top level is a list", []File{yamlOf("- resource: analytics\n")}, []string{
			"roles.yaml:1:1: no resources, roles or items: the top level must be a mapping, got a list",
		}},
		{"top level is text", []File{yamlOf("hello\n")}, []string{
			"roles.yaml:1:1: no resources, roles or items: the top level must be a mapping, got a single value",
		}},
		{"alias", []File{yamlOf("scopes: &s [a]\nroles:\n  - {resource: analytics, role: ro, scopes: *s, privileges: [SELECT]}\n")}, []string{
			`roles.yaml:1:1: unknown key "scopes" in role file: want resources, roles, items`,
			"roles.yaml:3:45: YAML aliases are not supported (*s): write the value out",
		}},
		{"alias in an external role", []File{yamlOf("x: &x [a]\nroles:\n  - {resource: analytics, type: external, role: bi, source_role: r, scopes: *x}\n")}, []string{
			`roles.yaml:1:1: unknown key "x" in role file: want resources, roles, items`,
			"roles.yaml:3:77: YAML aliases are not supported (*x): write the value out",
		}},
		{"unsupported extension", []File{{Name: "roles.json", Data: []byte("{}")}}, []string{
			`roles.json: unsupported file type ".json": want .yaml, .yml or .csv`,
		}},
		{"every file, sorted by file then line", []File{
			{Name: "b.yaml", Data: []byte("roles:\n  - {resource: x, role: ro, scopes: [a], privileges: [SELECT]}\n")},
			{Name: "a.csv", Data: []byte("resource_name,type,role,scopes,permissions,source_role\n\n\ny,,ro,a,SELECT,\n")},
			{Name: "b.yaml.d/c.yml", Data: []byte("---\nroles: []\n---\nresources: 1\n")},
		}, []string{
			`a.csv:4: unknown resource "y"`,
			`b.yaml:2:16: unknown resource "x"`,
			"b.yaml.d/c.yml:4:12: resources: want a list, got a single value",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseErrs(t, Options{Resources: knownResources}, tt.files...)
			if !slices.Equal(got, tt.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestEmptyYAML(t *testing.T) {
	for _, data := range []string{"", "\n", "# only a comment\n", "---\n", "---\n...\n", "\uFEFF", "~\n", "roles:\nresources: []\n"} {
		tree := mustParse(t, Options{}, yamlOf(data))
		if len(tree.Roles) != 0 || len(tree.Resources) != 0 {
			t.Errorf("%q: tree = %+v, want empty", data, tree)
		}
	}
}

// TestAliasBomb checks that a "billion laughs" document is refused at once
// rather than expanded.
func TestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString(`l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]` + "\n")
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&b, "l%d: &l%d [*l%[3]d,*l%[3]d,*l%[3]d,*l%[3]d,*l%[3]d,*l%[3]d,*l%[3]d,*l%[3]d,*l%[3]d]\n", i, i, i-1)
	}
	b.WriteString("items: *l9\nroles:\n  - {resource: analytics, role: ro, scopes: *l9, privileges: *l9}\n")
	got := parseErrs(t, Options{Resources: knownResources}, yamlOf(b.String()))
	want := []string{
		"roles.yaml:11:8: YAML aliases are not supported (*l9): write the value out",
		"roles.yaml:13:45: YAML aliases are not supported (*l9): write the value out",
		"roles.yaml:13:62: YAML aliases are not supported (*l9): write the value out",
	}
	var aliasErrs []string
	for _, e := range got {
		if strings.Contains(e, "aliases") {
			aliasErrs = append(aliasErrs, e)
		}
	}
	if !slices.Equal(aliasErrs, want) {
		t.Errorf("alias errors:\n%s\nwant:\n%s", strings.Join(aliasErrs, "\n"), strings.Join(want, "\n"))
	}
}

func TestHoopBatchPlan(t *testing.T) {
	data := `items:
  - resource_name: analytics
    type: managed
    role: ro
    source_role: ""
    scopes: "analytics.public;legacy"
    privileges: "SELECT;INSERT"
    rotate_password: false
  - resource_name: analytics
    type: external
    role: bi
    source_role: pg_read_all_data
    scopes: []
    privileges: []
    rotate_password: true
`
	tree := mustParse(t, Options{Prefix: "hoopdev", Resources: knownResources}, File{Name: "plan.yaml", Data: []byte(data)})
	want := []Role{
		{Resource: "analytics", Type: External, Label: "bi", Name: "hoopdev_analytics_bi_" + Hash8("analytics", "bi"),
			SourceRole: "pg_read_all_data", RotatePassword: true, Pos: Pos{File: "plan.yaml", Line: 9, Col: 5}},
		{Resource: "analytics", Type: Managed, Label: "ro", Name: "hoopdev_analytics_ro_6075a443",
			Scopes: []Scope{{"analytics", "public"}, {"legacy", "public"}}, Privileges: []string{"SELECT", "INSERT"},
			Pos: Pos{File: "plan.yaml", Line: 2, Col: 5}},
	}
	if !reflect.DeepEqual(tree.Roles, want) {
		t.Errorf("roles:\n%+v\nwant:\n%+v", tree.Roles, want)
	}
}

func TestMultiDocumentYAML(t *testing.T) {
	data := `resources:
  - {name: analytics, host: h, admin: {user: u}}
---
roles:
  - {resource: analytics, role: ro, scopes: [analytics], privileges: [SELECT]}
`
	tree := mustParse(t, Options{}, yamlOf(data))
	if len(tree.Resources) != 1 || len(tree.Roles) != 1 || tree.Roles[0].Pos.Line != 5 {
		t.Errorf("tree = %+v, want one resource and one role at line 5", tree)
	}
}

// TestLargeYAMLSyntaxError checks that a syntax error in a file too large
// to search is reported at the parser's own line, without re-parsing.
func TestLargeYAMLSyntaxError(t *testing.T) {
	comment := "# " + strings.Repeat("x", 1021) + "\n"
	data := strings.Repeat(comment, yamlpos.MaxSearched/len(comment)+1) + "roles: [a\nb: c\n"
	lines := strings.Count(data, "\n")
	got := parseErrs(t, Options{}, yamlOf(data))
	// The parser names the flow list's line, 0-based, so one before it.
	want := []string{fmt.Sprintf("roles.yaml:%d: invalid YAML: did not find expected ',' or ']'", lines-2)}
	if !slices.Equal(got, want) {
		t.Errorf("errors = %q, want %q", got, want)
	}
}
