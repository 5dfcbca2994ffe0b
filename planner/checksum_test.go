package planner

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"testing"

	"github.com/rolecd/rolecd/planner/spec"
)

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestChecksumCanonicalJSON(t *testing.T) {
	tests := []struct {
		name      string
		resource  string
		role      string
		plan      map[string][]string
		canonical string
	}{
		{
			name:      "nil plan",
			resource:  "analytics",
			role:      "r",
			canonical: `{"resource":"analytics","role_name":"r","sql_plan":{}}`,
		},
		{
			name:      "empty plan",
			resource:  "analytics",
			role:      "r",
			plan:      map[string][]string{},
			canonical: `{"resource":"analytics","role_name":"r","sql_plan":{}}`,
		},
		{
			name:     "keys sorted, no HTML escaping",
			resource: "a&b",
			role:     `r"x`,
			plan: map[string][]string{
				"postgres": {`CREATE ROLE "r" WITH LOGIN PASSWORD '<redacted>'`, "COMMENT ON ROLE \"r\" IS 'x > y & z'"},
				"app":      {`GRANT CONNECT ON DATABASE "app" TO "r"`},
				"Zed":      nil,
			},
			canonical: `{"resource":"a&b","role_name":"r\"x","sql_plan":{"Zed":[],"app":["GRANT CONNECT ON DATABASE \"app\" TO \"r\""],` +
				`"postgres":["CREATE ROLE \"r\" WITH LOGIN PASSWORD '<redacted>'","COMMENT ON ROLE \"r\" IS 'x > y & z'"]}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, want := Checksum(tt.resource, tt.role, tt.plan), sha(tt.canonical); got != want {
				t.Errorf("Checksum = %s, want sha256(%s) = %s", got, tt.canonical, want)
			}
		})
	}
}

func TestChecksumSensitivity(t *testing.T) {
	base := map[string][]string{
		"postgres": {`CREATE ROLE "r"`, `COMMENT ON ROLE "r" IS 'm'`},
		"app":      {`GRANT CONNECT ON DATABASE "app" TO "r"`},
	}
	sum := Checksum("res", "r", base)
	if len(sum) != 64 {
		t.Fatalf("checksum %q is not 64 hex digits", sum)
	}
	if again := Checksum("res", "r", clonePlan(base)); again != sum {
		t.Errorf("checksum not stable: %s then %s", sum, again)
	}
	// Re-decoding the plan document keeps the checksum.
	raw, err := json.Marshal(base)
	if err != nil {
		t.Fatal(err)
	}
	var decoded map[string][]string
	if err := json.Unmarshal(raw, &decoded); err != nil {
		t.Fatal(err)
	}
	if got := Checksum("res", "r", decoded); got != sum {
		t.Errorf("checksum after a JSON round trip %s, want %s", got, sum)
	}

	changes := map[string]func(p map[string][]string) (res, role string){
		"resource":        func(map[string][]string) (string, string) { return "res2", "r" },
		"role name":       func(map[string][]string) (string, string) { return "res", "r2" },
		"statement text":  func(p map[string][]string) (string, string) { p["app"][0] += " "; return "res", "r" },
		"statement order": func(p map[string][]string) (string, string) { slices.Reverse(p["postgres"]); return "res", "r" },
		"statement moved": func(p map[string][]string) (string, string) {
			p["app"] = append(p["app"], p["postgres"][1])
			p["postgres"] = p["postgres"][:1]
			return "res", "r"
		},
		"database renamed": func(p map[string][]string) (string, string) {
			p["app2"] = p["app"]
			delete(p, "app")
			return "res", "r"
		},
		"extra statement": func(p map[string][]string) (string, string) {
			p["app"] = append(p["app"], "SELECT 1")
			return "res", "r"
		},
		"dropped database": func(p map[string][]string) (string, string) { delete(p, "app"); return "res", "r" },
		"empty list added": func(p map[string][]string) (string, string) { p["x"] = nil; return "res", "r" },
		"field boundaries": func(map[string][]string) (string, string) { return "re", "sr" },
	}
	seen := map[string]string{sum: "base"}
	for name, change := range changes {
		p := clonePlan(base)
		res, role := change(p)
		got := Checksum(res, role, p)
		if prev, dup := seen[got]; dup {
			t.Errorf("%s: checksum equals the one of %s", name, prev)
		}
		seen[got] = name
	}
}

func clonePlan(p map[string][]string) map[string][]string {
	out := make(map[string][]string, len(p))
	for k, v := range p {
		out[k] = slices.Clone(v)
	}
	return out
}

func TestMarker(t *testing.T) {
	tests := []struct {
		role spec.Role
		want string
	}{
		{
			role: spec.Role{Resource: "analytics", Label: "ro", Type: spec.Managed},
			want: `rolecd: {"resource":"analytics","label":"ro","type":"managed"}`,
		},
		{
			role: spec.Role{Resource: "a<b>&c", Label: "x", Type: spec.External},
			want: `rolecd: {"resource":"a<b>&c","label":"x","type":"external"}`,
		},
		{
			role: spec.Role{Resource: "r", Label: "l"},
			want: `rolecd: {"resource":"r","label":"l","type":"managed"}`,
		},
	}
	for _, tt := range tests {
		if got := Marker(tt.role); got != tt.want {
			t.Errorf("Marker(%+v) = %s, want %s", tt.role, got, tt.want)
		}
	}
}

func TestConfigOf(t *testing.T) {
	r := managed("ro", []string{"app", "app.Mixed Case"}, "ALL")
	r.RotatePassword = true
	got := ConfigOf(r)
	want := Config{Type: "managed", Label: "ro", RoleName: r.Name, Scopes: []string{"app", "app.Mixed Case"}, Privileges: []string{"ALL"}, RotatePassword: true}
	if !equalConfig(got, want) {
		t.Errorf("ConfigOf = %+v, want %+v", got, want)
	}
	got.Privileges[0] = "changed"
	if r.Privileges[0] != "ALL" {
		t.Error("ConfigOf shares the role's privilege slice")
	}

	x := external("bi", "pg_monitor")
	want = Config{Type: "external", Label: "bi", RoleName: x.Name, SourceRole: "pg_monitor"}
	if got := ConfigOf(x); !equalConfig(got, want) {
		t.Errorf("ConfigOf = %+v, want %+v", got, want)
	}
}

func equalConfig(a, b Config) bool {
	return a.Type == b.Type && a.Label == b.Label && a.RoleName == b.RoleName && a.SourceRole == b.SourceRole &&
		a.RotatePassword == b.RotatePassword && slices.Equal(a.Scopes, b.Scopes) && slices.Equal(a.Privileges, b.Privileges)
}

func TestOrderedDatabases(t *testing.T) {
	plan := map[string][]string{"zeta": {"x"}, "postgres": {"x"}, "Alpha": {"x"}, "app": {"x"}}
	tests := []struct {
		maint string
		want  []string
	}{
		{"postgres", []string{"postgres", "Alpha", "app", "zeta"}},
		{"zeta", []string{"zeta", "Alpha", "app", "postgres"}},
		{"absent", []string{"Alpha", "app", "postgres", "zeta"}},
	}
	for _, tt := range tests {
		if got := OrderedDatabases(plan, tt.maint); !slices.Equal(got, tt.want) {
			t.Errorf("OrderedDatabases(maint %s) = %q, want %q", tt.maint, got, tt.want)
		}
	}
	if got := OrderedDatabases(nil, "postgres"); len(got) != 0 {
		t.Errorf("OrderedDatabases(nil) = %q", got)
	}
}
