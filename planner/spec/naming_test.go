package spec

import (
	"strings"
	"testing"
)

func TestHash8(t *testing.T) {
	if got := Hash8("analytics", "ro"); got != "6075a443" {
		t.Errorf("Hash8(analytics, ro) = %q, want 6075a443", got)
	}
	if Hash8("analytics", "ro") == Hash8("Analytics", "ro") {
		t.Error("Hash8 must hash the raw strings, not the slugs")
	}
	if got := len(Hash8("", "")); got != 8 {
		t.Errorf("len(Hash8) = %d, want 8", got)
	}
}

func TestSlug(t *testing.T) {
	tests := []struct{ in, want string }{
		{"analytics", "analytics"},
		{"Analytics-DB.prod", "analytics_db_prod"},
		{"__a--b__", "a_b"},
		{"a...b", "a_b"},
		{"---", ""},
		{"", ""},
		{"Ünïcode Ç", "n_code"},
		{"x1_Y2", "x1_y2"},
	}
	for _, tt := range tests {
		if got := Slug(tt.in); got != tt.want {
			t.Errorf("Slug(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRoleName(t *testing.T) {
	label44 := strings.Repeat("l", 44)
	label45 := strings.Repeat("l", 45)
	label36 := strings.Repeat("l", 36)
	res60 := strings.Repeat("r", 60)
	tests := []struct {
		name                    string
		prefix, resource, label string
		want                    string
		wantErr                 string
	}{
		{name: "hoop vector", prefix: "hoopdev", resource: "analytics", label: "ro",
			want: "hoopdev_analytics_ro_6075a443"},
		{name: "default prefix", prefix: "rolecd", resource: "analytics", label: "ro",
			want: "rolecd_analytics_ro_6075a443"},
		{name: "slugged parts, raw hash", prefix: "rolecd", resource: "Sales-EU.db", label: "Read.Only",
			want: "rolecd_sales_eu_db_read_only_" + Hash8("Sales-EU.db", "Read.Only")},
		{name: "empty resource slug", prefix: "rolecd", resource: "---", label: "ro",
			want: "rolecd_x_ro_" + Hash8("---", "ro")},
		// hoopdev: 7 + 1 + 1 + 1 + 44 + 1 + 8 = 63 bytes exactly.
		{name: "hoopdev 63-byte boundary", prefix: "hoopdev", resource: res60, label: label44,
			want: "hoopdev_r_" + label44 + "_" + Hash8(res60, label44)},
		{name: "hoopdev one byte over", prefix: "hoopdev", resource: "a", label: label45,
			wantErr: `label "` + label45 + `" is too long for the 63-byte role name under prefix "hoopdev": its slug has 45 characters, at most 44 fit`},
		// rolecd is one byte shorter, so a 45-byte label slug still fits.
		{name: "rolecd 63-byte boundary", prefix: "rolecd", resource: res60, label: label45,
			want: "rolecd_r_" + label45 + "_" + Hash8(res60, label45)},
		{name: "rolecd one byte over", prefix: "rolecd", resource: "a", label: label45 + "l",
			wantErr: "at most 45 fit"},
		{name: "resource cut to fit", prefix: "rolecd", resource: "abcdefghij_klmnopqrstuvwxyz_abcdefghijklmnop", label: "reader",
			want: "rolecd_abcdefghij_klmnopqrstuvwxyz_abcdefghijkl_reader_" + Hash8("abcdefghij_klmnopqrstuvwxyz_abcdefghijklmnop", "reader")},
		// 10 bytes are left for the resource slug: "abcdefghi_" loses its "_".
		{name: "cut resource loses trailing underscore", prefix: "rolecd", resource: "abcdefghi_" + strings.Repeat("z", 40), label: label36,
			want: "rolecd_abcdefghi_" + label36 + "_" + Hash8("abcdefghi_"+strings.Repeat("z", 40), label36)},
		{name: "label without letters", prefix: "rolecd", resource: "a", label: "._-",
			wantErr: `label "._-" has no letter or digit`},
		{name: "empty prefix", prefix: "", resource: "a", label: "ro", wantErr: "role prefix is empty"},
		{name: "upper-case prefix", prefix: "Hoop", resource: "a", label: "ro",
			wantErr: `invalid role prefix "Hoop": want lower-case letters, digits and "_"`},
		{name: "prefix too long", prefix: strings.Repeat("p", 51), resource: "a", label: "ro",
			wantErr: "is too long: at most 50 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := RoleName(tt.prefix, tt.resource, tt.label)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("RoleName error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("RoleName: %v", err)
			}
			if got != tt.want {
				t.Errorf("RoleName = %q, want %q", got, tt.want)
			}
			if len(got) > MaxNameLen {
				t.Errorf("RoleName = %q is %d bytes, over %d", got, len(got), MaxNameLen)
			}
		})
	}
}

func TestRoleNameBoundaryLength(t *testing.T) {
	for _, prefix := range []string{"hoopdev", "rolecd"} {
		label := strings.Repeat("l", maxLabelSlug(prefix))
		name, err := RoleName(prefix, strings.Repeat("r", 63), label)
		if err != nil {
			t.Fatalf("%s: %v", prefix, err)
		}
		if len(name) != MaxNameLen {
			t.Errorf("%s: len(%q) = %d, want %d", prefix, name, len(name), MaxNameLen)
		}
	}
}

func TestParseScope(t *testing.T) {
	long := strings.Repeat("s", 64)
	tests := []struct {
		in      string
		want    Scope
		wantErr string
	}{
		{in: "analytics", want: Scope{Database: "analytics"}},
		{in: "analytics.public", want: Scope{Database: "analytics", Schema: "public"}},
		{in: "analytics.Mixed Case", want: Scope{Database: "analytics", Schema: "Mixed Case"}},
		{in: strings.Repeat("d", 63) + "." + strings.Repeat("s", 63), want: Scope{Database: strings.Repeat("d", 63), Schema: strings.Repeat("s", 63)}},
		{in: "", wantErr: "empty scope"},
		{in: "a.b.c", wantErr: `invalid scope "a.b.c": more than one dot (want db or db.schema)`},
		{in: ".public", wantErr: `invalid scope ".public": empty database name`},
		{in: "analytics.", wantErr: `invalid scope "analytics.": empty schema name`},
		{in: " analytics", wantErr: `invalid scope " analytics": leading or trailing space`},
		{in: "analytics.public ", wantErr: `invalid scope "analytics.public ": leading or trailing space`},
		{in: "a\x00b", wantErr: `invalid scope "a\x00b": contains a NUL byte`},
		{in: long, wantErr: "database name longer than 63 bytes"},
		{in: "db." + long, wantErr: "schema name longer than 63 bytes"},
	}
	for _, tt := range tests {
		got, err := ParseScope(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseScope(%q) error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseScope(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
		if got.String() != tt.in {
			t.Errorf("ParseScope(%q).String() = %q", tt.in, got.String())
		}
	}
}
