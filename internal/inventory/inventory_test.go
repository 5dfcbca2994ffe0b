package inventory

import (
	"reflect"
	"testing"

	"github.com/rolecd/rolecd/planner/spec"
)

func res(name, host string, port int, env string) spec.Resource {
	return spec.Resource{Name: name, Host: host, Port: port, Database: "postgres", SSLMode: "prefer",
		Admin: spec.Admin{User: "postgres", PasswordEnv: env}, Complete: true}
}

func role(resource, label string) spec.Role {
	return spec.Role{Resource: resource, Type: spec.Managed, Label: label, Name: "rolecd_" + resource + "_" + label}
}

func tree(rs []spec.Resource, roles ...spec.Role) *spec.Tree {
	return &spec.Tree{Resources: rs, Roles: roles}
}

func conn(r spec.Resource) *spec.Connection {
	c := r.Connection()
	return &c
}

func TestCompare(t *testing.T) {
	analytics := res("analytics", "db1.internal", 5432, "ANALYTICS_PW")
	billing := res("billing", "db2.internal", 5432, "")
	moved := analytics
	moved.Port = 6543
	stolen := analytics
	stolen.Admin.PasswordEnv = "ROLECD_SECRET_KEY"
	shadow := analytics
	shadow.Admin = spec.Admin{User: "postgres", PasswordFile: "/etc/shadow"}
	cleartext := analytics
	cleartext.Admin.AllowCleartext = true
	planningOnly := analytics
	planningOnly.ObjectCreators, planningOnly.KeepRemoved, planningOnly.Pos = []string{"etl"}, true, spec.Pos{File: "x.yaml", Line: 9}
	evil := res("evil", "evil.example", 5432, "X")

	tests := []struct {
		name              string
		trusted, proposed *spec.Tree
		want              Diff
	}{
		{"same inventory", tree([]spec.Resource{analytics, billing}), tree([]spec.Resource{analytics, billing}, role("analytics", "ro")),
			Diff{Connected: []string{"analytics", "billing"}}},
		{"planning settings are not connection settings", tree([]spec.Resource{analytics}), tree([]spec.Resource{planningOnly}),
			Diff{Connected: []string{"analytics"}}},
		{"added", tree([]spec.Resource{analytics}), tree([]spec.Resource{analytics, evil}, role("evil", "a"), role("evil", "b")),
			Diff{Connected: []string{"analytics"}, Changes: []Change{{Kind: Added, Resource: "evil", Proposed: conn(evil), Roles: []string{"rolecd_evil_a", "rolecd_evil_b"}}}}},
		{"port moved", tree([]spec.Resource{analytics}), tree([]spec.Resource{moved}, role("analytics", "ro")),
			Diff{Changes: []Change{{Kind: Changed, Resource: "analytics", Trusted: conn(analytics), Proposed: conn(moved),
				Fields: []Field{{"port", "5432", "6543"}}, Roles: []string{"rolecd_analytics_ro"}}}}},
		{"credential env changed", tree([]spec.Resource{analytics}), tree([]spec.Resource{stolen}),
			Diff{Changes: []Change{{Kind: Changed, Resource: "analytics", Trusted: conn(analytics), Proposed: conn(stolen),
				Fields: []Field{{"credential", "env:ANALYTICS_PW", "env:ROLECD_SECRET_KEY"}}}}}},
		{"credential file", tree([]spec.Resource{analytics}), tree([]spec.Resource{shadow}),
			Diff{Changes: []Change{{Kind: Changed, Resource: "analytics", Trusted: conn(analytics), Proposed: conn(shadow),
				Fields: []Field{{"credential", "env:ANALYTICS_PW", "file:/etc/shadow"}}}}}},
		{"allow_cleartext turned on", tree([]spec.Resource{analytics}), tree([]spec.Resource{cleartext}),
			Diff{Changes: []Change{{Kind: Changed, Resource: "analytics", Trusted: conn(analytics), Proposed: conn(cleartext),
				Fields: []Field{{"allow_cleartext", "false", "true"}}}}}},
		{"removed", tree([]spec.Resource{analytics, billing}), tree([]spec.Resource{billing}),
			Diff{Connected: []string{"billing"}, Changes: []Change{{Kind: Removed, Resource: "analytics", Trusted: conn(analytics)}}}},
		{"nothing trusted", nil, tree([]spec.Resource{evil}),
			Diff{NoTrusted: true, Changes: []Change{{Kind: Added, Resource: "evil", Proposed: conn(evil)}}}},
		{"sorted by resource", tree([]spec.Resource{billing}), tree([]spec.Resource{evil, analytics}),
			Diff{Changes: []Change{{Kind: Added, Resource: "analytics", Proposed: conn(analytics)}, {Kind: Removed, Resource: "billing", Trusted: conn(billing)},
				{Kind: Added, Resource: "evil", Proposed: conn(evil)}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Compare(tt.trusted, tt.proposed)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Compare =\n%+v\nwant\n%+v", got, tt.want)
			}
			if again := Compare(tt.trusted, tt.proposed); !reflect.DeepEqual(again, got) {
				t.Error("Compare is not deterministic")
			}
		})
	}
}

// Every field of spec.Connection counts: one that differs alone is a
// change naming a field.
func TestEveryConnectionFieldCounts(t *testing.T) {
	base := spec.Connection{Host: "h", Port: 1, Database: "d", SSLMode: "prefer", AdminUser: "u", Credential: "store"}
	v := reflect.ValueOf(&base).Elem()
	for i := range v.NumField() {
		other := base
		f := reflect.ValueOf(&other).Elem().Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString(f.String() + "x")
		case reflect.Int:
			f.SetInt(f.Int() + 1)
		case reflect.Bool:
			f.SetBool(!f.Bool())
		default:
			t.Fatalf("field %s: kind %s not covered by this test", v.Type().Field(i).Name, f.Kind())
		}
		fs := fields(base, other)
		if len(fs) != 1 || fs[0].Name == "connection" {
			t.Errorf("field %s: fields = %+v, want one named change", v.Type().Field(i).Name, fs)
		}
	}
}

func TestRestrict(t *testing.T) {
	analytics := res("analytics", "db1.internal", 5432, "ANALYTICS_PW")
	analytics.Pos = spec.Pos{File: "main.yaml", Line: 2}
	proposed := analytics
	proposed.ObjectCreators, proposed.DropReassignTo, proposed.Pos = []string{"etl"}, "owner", spec.Pos{File: "pr.yaml", Line: 5}
	evil := res("evil", "evil.example", 5432, "ROLECD_SECRET_KEY")
	moved := res("billing", "127.0.0.1", 6543, "BILLING_PW")
	billing := res("billing", "db2.internal", 5432, "BILLING_PW")

	got, d := Restrict(tree([]spec.Resource{analytics, billing}),
		tree([]spec.Resource{proposed, moved, evil}, role("analytics", "ro"), role("billing", "rw"), role("evil", "x")))
	want := proposed
	want.Pos = proposed.Pos
	if len(got.Resources) != 1 || !reflect.DeepEqual(got.Resources[0], want) {
		t.Fatalf("resources = %+v, want only %+v", got.Resources, want)
	}
	if len(got.Roles) != 1 || got.Roles[0].Resource != "analytics" {
		t.Errorf("roles = %+v, want only analytics's", got.Roles)
	}
	if d.NotConnected() != 2 || len(d.Connected) != 1 {
		t.Errorf("diff = %+v, want 2 not connected, 1 connected", d)
	}
	for _, r := range got.Resources {
		if r.Host != "db1.internal" {
			t.Errorf("resource %s connects to %s", r.Name, r.Host)
		}
	}
}
