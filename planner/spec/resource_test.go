package spec

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestResourceErrors(t *testing.T) {
	tests := []struct {
		name string
		data string
		want []string
	}{
		{"missing name", `resources:
  - host: h
    admin: {user: u}
`, []string{"roles.yaml:2:5: resource needs a name"}},
		{"name with a space", `resources:
  - name: "bad name"
    host: h
    admin: {user: u}
`, []string{`roles.yaml:2:11: invalid resource name "bad name": want 1-63 characters from letters, digits, "_", "-" and "."`}},
		{"name too long", `resources:
  - name: ` + strings.Repeat("n", 64) + `
    host: h
    admin: {user: u}
`, []string{`roles.yaml:2:11: invalid resource name "` + strings.Repeat("n", 64) + `": want 1-63 characters from letters, digits, "_", "-" and "."`}},
		{"object_creators a single value", `resources:
  - {name: a, host: h, admin: {user: u}, object_creators: app_owner}
`, []string{`roles.yaml:2:59: object_creators: want a list, got a single value "app_owner": write object_creators: [app_owner]`}},
		{"missing host", `resources:
  - name: a
    admin: {user: u}
`, []string{`roles.yaml:2:5: resource "a" needs a host`}},
		{"host with a space", `resources:
  - name: a
    host: "db 1"
    admin: {user: u}
`, []string{`roles.yaml:3:11: invalid host "db 1": want a host name, address or socket directory without spaces`}},
		{"port zero", `resources:
  - {name: a, host: h, port: 0, admin: {user: u}}
`, []string{`roles.yaml:2:30: invalid port "0": want a number from 1 to 65535`}},
		{"port too big", `resources:
  - {name: a, host: h, port: 65536, admin: {user: u}}
`, []string{`roles.yaml:2:30: invalid port "65536": want a number from 1 to 65535`}},
		{"port not a number", `resources:
  - {name: a, host: h, port: five, admin: {user: u}}
`, []string{`roles.yaml:2:30: invalid port "five": want a number from 1 to 65535`}},
		{"database too long", `resources:
  - {name: a, host: h, database: ` + strings.Repeat("d", 64) + `, admin: {user: u}}
`, []string{`roles.yaml:2:34: invalid database "` + strings.Repeat("d", 64) + `": longer than 63 bytes`}},
		{"database with NUL", `resources:
  - {name: a, host: h, database: "a\0b", admin: {user: u}}
`, []string{`roles.yaml:2:34: invalid database "a\x00b": contains a NUL byte`}},
		{"sslmode", `resources:
  - {name: a, host: h, sslmode: strict, admin: {user: u}}
`, []string{`roles.yaml:2:33: invalid sslmode "strict": want one of disable, allow, prefer, require, verify-ca, verify-full`}},
		{"no admin", `resources:
  - {name: a, host: h}
`, []string{`roles.yaml:2:5: resource "a" needs admin.user`}},
		{"admin without user", `resources:
  - name: a
    host: h
    admin:
      password_env: PW
`, []string{`roles.yaml:5:7: resource "a" needs admin.user`}},
		{"admin not a mapping", `resources:
  - {name: a, host: h, admin: postgres}
`, []string{`roles.yaml:2:31: admin: want a mapping with user and password_env, password_file or password_command, got a single value`}},
		{"admin user too long", `resources:
  - {name: a, host: h, admin: {user: ` + strings.Repeat("u", 64) + `}}
`, []string{`roles.yaml:2:38: invalid admin.user "` + strings.Repeat("u", 64) + `": longer than 63 bytes`}},
		{"password_env not a name, value not shown", `resources:
  - {name: a, host: h, admin: {user: u, password_env: "s3cret!"}}
`, []string{`roles.yaml:2:55: invalid admin.password_env: want an environment variable name such as ANALYTICS_ADMIN_PASSWORD (value not shown: it may be a secret)`}},
		{"password_env and password_file", `resources:
  - name: a
    host: h
    admin:
      user: u
      password_env: PW
      password_file: /run/secrets/pw
`, []string{`roles.yaml:7:22: admin.password_env, admin.password_file and admin.password_command are mutually exclusive`}},
		{"password_file with NUL", `resources:
  - {name: a, host: h, admin: {user: u, password_file: "/x\0"}}
`, []string{`roles.yaml:2:56: invalid admin.password_file "/x\x00": contains a NUL byte`}},
		{"allow_cleartext not a boolean", `resources:
  - {name: a, host: h, admin: {user: u, allow_cleartext: sometimes}}
`, []string{`roles.yaml:2:58: invalid admin.allow_cleartext "sometimes": want true (answer a server that asks for a cleartext or MD5 password) or false`}},
		{"key that is not a name", `resources:
  - name: a
    host: h
    admin: {user: u}
    ? [port]
    : 5432
`, []string{`roles.yaml:5:7: unknown key (a list) in resource: want name, host, port, database, sslmode, sslrootcert, admin, object_creators, drop_reassign_to, prune, allow_source_roles`}},
		{"password in the file", `resources:
  - {name: a, host: h, admin: {user: u, password: hunter2}}
`, []string{`roles.yaml:2:41: admin passwords never live in role files: use password_env, password_file, password_command or the store`}},
		{"unknown key", `resources:
  - {name: a, host: h, admin: {user: u}, hots: h}
`, []string{`roles.yaml:2:42: unknown key "hots" in resource: want name, host, port, database, sslmode, sslrootcert, admin, object_creators, drop_reassign_to, prune, allow_source_roles`}},
		{"duplicate key", `resources:
  - name: a
    host: h
    host: h2
    admin: {user: u}
`, []string{`roles.yaml:4:5: duplicate key "host" in resource (first at line 3)`}},
		{"field is a list", `resources:
  - {name: a, host: [h1, h2], admin: {user: u}}
`, []string{`roles.yaml:2:21: host: want a single value, got a list`}},
		{"declared differently twice", `resources:
  - {name: a, host: h1, admin: {user: u}}
  - {name: a, host: h2, admin: {user: u}}
`, []string{`roles.yaml:3:5: resource "a" already declared differently at roles.yaml:2:5`}},
		{"every problem at once", `resources:
  - {name: a, host: h, port: 0, sslmode: x, admin: {user: u}}
  - {host: h}
`, []string{
			`roles.yaml:2:30: invalid port "0": want a number from 1 to 65535`,
			`roles.yaml:2:42: invalid sslmode "x": want one of disable, allow, prefer, require, verify-ca, verify-full`,
			`roles.yaml:3:5: resource needs a name`,
			`roles.yaml:3:5: resource needs admin.user`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseErrs(t, Options{}, yamlOf(tt.data))
			if !slices.Equal(got, tt.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestResourceDefaultsAndMerge(t *testing.T) {
	a := yamlOf(`resources:
  - name: analytics
    host: db1.internal
    admin: {user: postgres, password_file: /run/secrets/pw}
`)
	b := File{Name: "more/b.yaml", Data: []byte(`resources:
  - {name: analytics, host: db1.internal, port: 5432, database: postgres, sslmode: prefer, admin: {user: postgres, password_file: /run/secrets/pw}}
  - {name: billing, host: db2, port: "6432", database: main, sslmode: verify-full, admin: {user: admin, password_env: BILLING_PW, allow_cleartext: true}}
`)}
	tree := mustParse(t, Options{}, a, b)
	want := []Resource{
		{Name: "analytics", Host: "db1.internal", Port: 5432, Database: "postgres", SSLMode: "prefer",
			Admin: Admin{User: "postgres", PasswordFile: "/run/secrets/pw"}, Complete: true, Pos: Pos{File: "roles.yaml", Line: 2, Col: 5}},
		{Name: "billing", Host: "db2", Port: 6432, Database: "main", SSLMode: "verify-full",
			Admin: Admin{User: "admin", PasswordEnv: "BILLING_PW", AllowCleartext: true}, Complete: true, Pos: Pos{File: "more/b.yaml", Line: 3, Col: 5}},
	}
	if !reflect.DeepEqual(tree.Resources, want) {
		t.Errorf("resources = %+v\nwant %+v", tree.Resources, want)
	}
}
