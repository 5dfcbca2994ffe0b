package spec

import (
	"slices"
	"strings"
	"testing"
)

func TestDangerousSourceRoles(t *testing.T) {
	inventory := File{Name: "inventory.yaml", Data: []byte(`resources:
  - {name: a, host: h, admin: {user: u}}
  - {name: b, host: h, admin: {user: u}, allow_source_roles: [pg_read_server_files, pg_execute_server_program, pg_read_server_files]}
`)}
	tests := []struct {
		name  string
		roles string
		want  []string // nil: valid
	}{
		{name: "each dangerous predefined role is refused without the opt-in", roles: `roles:
  - {resource: a, type: external, role: x, source_role: pg_execute_server_program}
  - {resource: a, type: external, role: r, source_role: pg_read_server_files}
  - {resource: a, type: external, role: w, source_role: pg_write_server_files}
`, want: []string{
			`roles.yaml:2:57: source_role "pg_execute_server_program" lets its members run programs on the database host as the server's operating-system user (COPY ... PROGRAM): shell access; to grant it anyway, list it in allow_source_roles of resource "a" (inventory.yaml:2:5)`,
			`roles.yaml:3:57: source_role "pg_read_server_files" lets its members read any file the server's operating-system user can read (COPY ... FROM, pg_read_file); to grant it anyway, list it in allow_source_roles of resource "a" (inventory.yaml:2:5)`,
			`roles.yaml:4:57: source_role "pg_write_server_files" lets its members write any file the server's operating-system user can write (COPY ... TO); to grant it anyway, list it in allow_source_roles of resource "a" (inventory.yaml:2:5)`,
		}},
		{name: "allowed where the resource lists them", roles: `roles:
  - {resource: b, type: external, role: x, source_role: pg_execute_server_program}
  - {resource: b, type: external, role: r, source_role: pg_read_server_files}
`},
		{name: "the allow-list is per role, not all or nothing", roles: `roles:
  - {resource: b, type: external, role: w, source_role: pg_write_server_files}
`, want: []string{
			`roles.yaml:2:57: source_role "pg_write_server_files" lets its members write any file the server's operating-system user can write (COPY ... TO); to grant it anyway, list it in allow_source_roles of resource "b" (inventory.yaml:3:5)`,
		}},
		{name: "ordinary predefined roles need nothing", roles: `roles:
  - {resource: a, type: external, role: m, source_role: pg_monitor}
  - {resource: a, type: external, role: d, source_role: pg_read_all_data}
`},
		{name: "a CSV row too", roles: "", want: []string{
			`roles.csv:2: source_role "pg_execute_server_program" lets its members run programs on the database host as the server's operating-system user (COPY ... PROGRAM): shell access; to grant it anyway, list it in allow_source_roles of resource "a" (inventory.yaml:2:5)`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			roles := yamlOf(tt.roles)
			if tt.roles == "" {
				roles = csvOf("resource_name,type,role,scopes,permissions,source_role\na,external,x,,,pg_execute_server_program\n")
			}
			got := parseErrs(t, Options{}, inventory, roles)
			if !slices.Equal(got, tt.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestAllowSourceRolesKey(t *testing.T) {
	tree := mustParse(t, Options{}, yamlOf(`resources:
  - {name: b, host: h, admin: {user: u}, allow_source_roles: [pg_write_server_files, ops, pg_write_server_files]}
`))
	if got := tree.Resources[0].AllowSourceRoles; !slices.Equal(got, []string{"ops", "pg_write_server_files"}) {
		t.Errorf("AllowSourceRoles = %q, want sorted and de-duplicated", got)
	}
	got := parseErrs(t, Options{}, yamlOf(`resources:
  - {name: b, host: h, admin: {user: u}, allow_source_roles: ["", "x\0"]}
  - {name: c, host: h, admin: {user: u}, allow_source_roles: pg_read_server_files}
`))
	want := []string{
		`roles.yaml:2:63: invalid allow_source_roles entry "": empty`,
		`roles.yaml:2:67: invalid allow_source_roles entry "x\x00": contains a NUL byte`,
		`roles.yaml:3:62: allow_source_roles: want a list, got a single value "pg_read_server_files": write allow_source_roles: [pg_read_server_files]`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// A resource declared twice must declare the same allow-list.
	got = parseErrs(t, Options{}, yamlOf(`resources:
  - {name: b, host: h, admin: {user: u}, allow_source_roles: [ops]}
  - {name: b, host: h, admin: {user: u}}
`))
	if len(got) != 1 || !strings.Contains(got[0], `resource "b" already declared differently`) {
		t.Errorf("errors = %q, want one naming the second declaration", got)
	}
}
