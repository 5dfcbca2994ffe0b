package spec

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParsePasswordMaxAge(t *testing.T) {
	for in, want := range map[string]time.Duration{"90d": 90 * 24 * time.Hour, "2w": 14 * 24 * time.Hour, "12h": 12 * time.Hour, "3650d": 3650 * 24 * time.Hour} {
		if got, err := ParsePasswordMaxAge(in); err != nil || got != want {
			t.Errorf("ParsePasswordMaxAge(%q) = %v, %v, want %v", in, got, err, want)
		}
		if back := FormatPasswordMaxAge(want); back != in && !(in == "2w" && back == "14d") {
			t.Errorf("FormatPasswordMaxAge(%v) = %q, want %q", want, back, in)
		}
	}
}

func TestRoleOptionErrors(t *testing.T) {
	tests := []struct {
		name string
		data string
		want []string
	}{
		{name: "functions other than EXECUTE", data: `roles:
  - {resource: analytics, role: ro, scopes: [a], privileges: [SELECT], functions: [EXECUTE, USAGE]}
`, want: []string{`roles.yaml:2:93: unknown function privilege "USAGE": want EXECUTE (on the functions and procedures of the scopes)`}},
		{name: "functions on an external role", data: `roles:
  - {resource: analytics, type: external, role: bi, source_role: pg_monitor, functions: [EXECUTE]}
`, want: []string{`roles.yaml:2:89: functions are only for managed roles (an external role gets its access from source_role)`}},
		{name: "connection limits", data: `roles:
  - {resource: analytics, role: a, scopes: [a], privileges: [SELECT], connection_limit: -2}
  - {resource: analytics, role: b, scopes: [a], privileges: [SELECT], connection_limit: ten}
  - {resource: analytics, role: c, scopes: [a], privileges: [SELECT], connection_limit: 2147483648}
`, want: []string{
			`roles.yaml:2:89: invalid connection_limit "-2": want -1 (no limit) or a number of connections up to 2147483647`,
			`roles.yaml:3:89: invalid connection_limit "ten": want -1 (no limit) or a number of connections up to 2147483647`,
			`roles.yaml:4:89: invalid connection_limit "2147483648": want -1 (no limit) or a number of connections up to 2147483647`,
		}},
		{name: "valid_until", data: `roles:
  - {resource: analytics, role: a, scopes: [a], privileges: [SELECT], valid_until: tomorrow}
  - {resource: analytics, role: b, scopes: [a], privileges: [SELECT], valid_until: "2027-01-01 10:00"}
  - {resource: analytics, role: c, scopes: [a], privileges: [SELECT], valid_until: 1969-12-31}
`, want: []string{
			`roles.yaml:2:84: invalid valid_until "tomorrow": want a date (2027-01-31), an RFC 3339 time (2027-01-31T18:00:00Z) or infinity`,
			`roles.yaml:3:84: invalid valid_until "2027-01-01 10:00": want a date (2027-01-31), an RFC 3339 time (2027-01-31T18:00:00Z) or infinity`,
			`roles.yaml:4:84: invalid valid_until "1969-12-31": want a year from 1970 to 9999`,
		}},
		{name: "password_max_age", data: `roles:
  - {resource: analytics, role: a, scopes: [a], privileges: [SELECT], password_max_age: 90}
  - {resource: analytics, role: b, scopes: [a], privileges: [SELECT], password_max_age: 0d}
  - {resource: analytics, role: c, scopes: [a], privileges: [SELECT], password_max_age: 3651d}
`, want: []string{
			`roles.yaml:2:89: invalid password_max_age "90": want a whole number of days (90d), weeks (2w) or hours (12h), from 1h to 3650d`,
			`roles.yaml:3:89: invalid password_max_age "0d": want a whole number of days (90d), weeks (2w) or hours (12h), from 1h to 3650d`,
			`roles.yaml:4:89: invalid password_max_age "3651d": want a whole number of days (90d), weeks (2w) or hours (12h), from 1h to 3650d`,
		}},
		{name: "options outside the allow-list and bad values", data: `roles:
  - resource: analytics
    role: ro
    scopes: [a]
    privileges: [SELECT]
    options:
      log_statement: none
      session_replication_role: replica
      statement_timeout: 30 s
      lock_timeout: "-1"
      work_mem: 64mb
      application_name: "caf\u00e9"
      search_path: 'a, "unterminated'
      idle_in_transaction_session_timeout:
`, want: []string{
			`roles.yaml:7:7: option "log_statement" is not allowed: want one of application_name, idle_in_transaction_session_timeout, lock_timeout, search_path, statement_timeout, work_mem`,
			`roles.yaml:8:7: option "session_replication_role" is not allowed: want one of application_name, idle_in_transaction_session_timeout, lock_timeout, search_path, statement_timeout, work_mem`,
			`roles.yaml:9:26: invalid statement_timeout "30 s": want a whole number of milliseconds, or with a unit (us, ms, s, min, h, d), e.g. 30s`,
			`roles.yaml:10:21: invalid lock_timeout "-1": want a whole number of milliseconds, or with a unit (us, ms, s, min, h, d), e.g. 30s`,
			`roles.yaml:11:17: invalid work_mem "64mb": want a whole number of kilobytes, or with a unit (B, kB, MB, GB, TB), e.g. 64MB`,
			`roles.yaml:12:25: invalid application_name "café": want printable ASCII only`,
			`roles.yaml:13:20: invalid search_path "a, \"unterminated": unterminated quoted schema name`,
			`roles.yaml:14:43: option idle_in_transaction_session_timeout needs a value`,
		}},
		{name: "control characters, duplicates, and options that are not a mapping", data: `roles:
  - resource: analytics
    role: ro
    scopes: [a]
    privileges: [SELECT]
    options:
      application_name: "a\tb"
      Work_Mem: 1MB
      work_mem: 2MB
  - {resource: analytics, role: rw, scopes: [a], privileges: [SELECT], options: [statement_timeout]}
`, want: []string{
			`roles.yaml:7:25: invalid application_name "a\tb": control character in value`,
			`roles.yaml:9:7: option "work_mem" given twice`,
			`roles.yaml:10:81: options: want a mapping of setting names to values, got a list`,
		}},
		{name: "resource fields", data: `resources:
  - name: r
    host: h
    admin: {user: u}
    object_creators: [ok, ""]
    drop_reassign_to: "` + strings.Repeat("x", 64) + `"
    prune: sometimes
`, want: []string{
			`roles.yaml:5:27: invalid object_creators entry "": empty`,
			`roles.yaml:6:23: invalid drop_reassign_to "` + strings.Repeat("x", 64) + `": longer than 63 bytes`,
			`roles.yaml:7:12: invalid prune "sometimes": want true (drop rolecd roles no longer declared) or false (keep them, NOLOGIN)`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseErrs(t, Options{Resources: knownResources}, yamlOf(tt.data))
			if !slices.Equal(got, tt.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestRoleOptionsNormalised(t *testing.T) {
	tree := mustParse(t, Options{Resources: knownResources}, yamlOf(`roles:
  - resource: analytics
    role: rw
    scopes: [a]
    privileges: [INSERT]
    functions: [execute, EXECUTE]
    connection_limit: 0
    valid_until: 2027-06-30T12:30:45.9+02:00
    options: {Statement_Timeout: 30s, search_path: '"$user", Public', work_mem: 65536}
  - {resource: analytics, type: external, role: bi, source_role: pg_monitor, valid_until: infinity, connection_limit: -1}
`))
	zero, none := 0, -1
	want := []Role{
		{Resource: "analytics", Type: External, Label: "bi", Name: "rolecd_analytics_bi_" + Hash8("analytics", "bi"),
			SourceRole: "pg_monitor", ConnectionLimit: &none, Pos: Pos{File: "roles.yaml", Line: 10, Col: 5}},
		{Resource: "analytics", Type: Managed, Label: "rw", Name: "rolecd_analytics_rw_" + Hash8("analytics", "rw"),
			Scopes: []Scope{{Database: "a"}}, Privileges: []string{"INSERT"}, Functions: []string{"EXECUTE"},
			ConnectionLimit: &zero, ValidUntil: "2027-06-30T10:30:45Z",
			Options: map[string]string{"statement_timeout": "30s", "search_path": `"$user", Public`, "work_mem": "65536"},
			Pos:     Pos{File: "roles.yaml", Line: 2, Col: 5}},
	}
	if !reflect.DeepEqual(tree.Roles, want) {
		t.Errorf("roles:\n%+v\nwant:\n%+v", tree.Roles, want)
	}
	if got := tree.Roles[0].Limit(); got != -1 {
		t.Errorf("explicit -1: Limit() = %d", got)
	}
	if got := (Role{}).Limit(); got != -1 {
		t.Errorf("no limit: Limit() = %d", got)
	}
}

// A role declared twice must agree on the new fields too.
func TestRoleRedeclaredWithOtherOptions(t *testing.T) {
	got := parseErrs(t, Options{Resources: knownResources}, yamlOf(`roles:
  - {resource: analytics, role: ro, scopes: [a], privileges: [SELECT], options: {work_mem: 1MB}}
  - {resource: analytics, role: ro, scopes: [a], privileges: [SELECT], options: {work_mem: 2MB}}
  - {resource: analytics, role: rw, scopes: [a], privileges: [SELECT], connection_limit: -1}
  - {resource: analytics, role: rw, scopes: [a], privileges: [SELECT]}
`))
	want := []string{`roles.yaml:3:5: role "ro" of resource "analytics" already declared differently at roles.yaml:2:5`}
	if !slices.Equal(got, want) {
		t.Errorf("errors = %q, want %q", got, want)
	}
}

func TestResourceCompleteness(t *testing.T) {
	files := yamlOf(`resources:
  - {name: own, host: h, admin: {user: u}, object_creators: [b, a, b], drop_reassign_to: archive, prune: false}
roles:
  - {resource: analytics, role: ro, scopes: [a], privileges: [SELECT]}
  - {resource: own, role: ro, scopes: [a], privileges: [SELECT]}
`)
	known := slices.Clone(knownResources)
	known[0].Complete = true // as the repository's own Load returns it
	tree := mustParse(t, Options{Resources: known}, files)
	own, _ := tree.Resource("own")
	if !own.Complete || !own.KeepRemoved || own.DropReassignTo != "archive" || !slices.Equal(own.ObjectCreators, []string{"a", "b"}) {
		t.Errorf("own = %+v", own)
	}
	if a, _ := tree.Resource("analytics"); a.Complete {
		t.Error("a resource known from Options is complete: planning a -f file would remove every other role")
	}
}

func TestParseSearchPath(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr string
	}{
		{in: "public", want: []string{"public"}},
		{in: ` "$user" , Public,"Mixed ""Q"" Case"`, want: []string{"$user", "public", `Mixed "Q" Case`}},
		{in: "a,b", want: []string{"a", "b"}},
		{in: "", wantErr: "empty schema name"},
		{in: "a,", wantErr: "empty schema name"},
		{in: `""`, wantErr: "empty quoted schema name"},
		{in: "a b", wantErr: `want a comma after schema name "a"`},
		{in: `"a`, wantErr: "unterminated quoted schema name"},
		{in: strings.Repeat("s", 64), wantErr: "longer than 63 bytes"},
	}
	for _, tt := range tests {
		got, err := ParseSearchPath(tt.in)
		switch {
		case tt.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseSearchPath(%q) = %q, %v; want error %q", tt.in, got, err, tt.wantErr)
			}
		case err != nil || !slices.Equal(got, tt.want):
			t.Errorf("ParseSearchPath(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}
