package planner

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/rolecd/rolecd/planner/catalog"
	"github.com/rolecd/rolecd/planner/spec"
)

func TestRendererQuoting(t *testing.T) {
	tests := []struct {
		name    string
		render  func(w *renderer) string
		want    string
		wantErr bool
	}{
		{name: "plain identifier", render: func(w *renderer) string { return w.ident("app") }, want: `"app"`},
		{name: "upper case kept", render: func(w *renderer) string { return w.ident("App") }, want: `"App"`},
		{name: "double quote doubled", render: func(w *renderer) string { return w.ident(`a"b`) }, want: `"a""b"`},
		{name: "dot stays inside", render: func(w *renderer) string { return w.ident("a.b") }, want: `"a.b"`},
		{name: "single quote untouched", render: func(w *renderer) string { return w.ident("it's") }, want: `"it's"`},
		{name: "NUL in identifier", render: func(w *renderer) string { return w.ident("a\x00b") }, wantErr: true},
		{name: "empty identifier", render: func(w *renderer) string { return w.ident("") }, wantErr: true},
		{name: "plain literal", render: func(w *renderer) string { return w.literal("abc") }, want: `'abc'`},
		{name: "quote in literal", render: func(w *renderer) string { return w.literal("it's") }, want: `'it''s'`},
		{name: "backslash literal", render: func(w *renderer) string { return w.literal(`a\b`) }, want: `E'a\\b'`},
		{name: "backslash and quote", render: func(w *renderer) string { return w.literal(`\'`) }, want: `E'\\'''`},
		{name: "NUL in literal", render: func(w *renderer) string { return w.literal("a\x00") }, wantErr: true},
		{
			name:   "grant on schemas",
			render: func(w *renderer) string { return w.grant(onSchema, []string{"USAGE"}, []string{"a", `b"c`}, "r").SQL },
			want:   `GRANT USAGE ON SCHEMA "a", "b""c" TO "r"`,
		},
		{
			name: "revoke grant option on tables",
			render: func(w *renderer) string {
				return w.revokeGrantOption(onAllTables, []string{"SELECT", "INSERT"}, []string{"s"}, "r").SQL
			},
			want: `REVOKE GRANT OPTION FOR SELECT, INSERT ON ALL TABLES IN SCHEMA "s" FROM "r"`,
		},
		{
			name:    "privilege not valid for the object",
			render:  func(w *renderer) string { return w.grant(onDatabase, []string{"SELECT"}, []string{"d"}, "r").SQL },
			wantErr: true,
		},
		{
			name: "injected privilege",
			render: func(w *renderer) string {
				return w.revoke(onAllTables, []string{"SELECT ON x; --"}, []string{"s"}, "r").SQL
			},
			wantErr: true,
		},
		{
			name:   "revoke membership granted by",
			render: func(w *renderer) string { return w.revokeMembership("x", "r", "g", true, true) },
			want:   `REVOKE ADMIN OPTION FOR "x" FROM "r" GRANTED BY "g"`,
		},
		{
			name:   "revoke membership before 16",
			render: func(w *renderer) string { return w.revokeMembership("x", "r", "g", false, false) },
			want:   `REVOKE "x" FROM "r"`,
		},
		{
			name:   "alter role with rotation only",
			render: func(w *renderer) string { return w.alterRole("r", nil, true).SQL },
			want:   `ALTER ROLE "r" WITH PASSWORD '<redacted>'`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &renderer{}
			got := tt.render(w)
			if tt.wantErr {
				if w.err == nil {
					t.Errorf("no error; rendered %s", got)
				}
				return
			}
			if w.err != nil || got != tt.want {
				t.Errorf("got %s (%v), want %s", got, w.err, tt.want)
			}
		})
	}
}

// token is one lexeme of a rendered statement.
type token struct {
	kind byte // 'i' quoted identifier, 'l' string literal, 'b' bare text
	text string
}

// lexSQL splits a statement into quoted identifiers (un-quoted), string
// literals (un-escaped) and the bare text between them. It fails on an
// unterminated quote, the way PostgreSQL's lexer would.
func lexSQL(stmt string) ([]token, error) {
	var out []token
	var bare strings.Builder
	flush := func() {
		if bare.Len() > 0 {
			out = append(out, token{'b', bare.String()})
			bare.Reset()
		}
	}
	for i := 0; i < len(stmt); {
		c := stmt[i]
		escape := c == 'E' && i+1 < len(stmt) && stmt[i+1] == '\'' && (i == 0 || stmt[i-1] == ' ')
		if c != '"' && c != '\'' && !escape {
			bare.WriteByte(c)
			i++
			continue
		}
		flush()
		if escape {
			i++
		}
		quote := stmt[i]
		var val strings.Builder
		i++
		for {
			if i >= len(stmt) {
				return nil, fmt.Errorf("unterminated %c in %q", quote, stmt)
			}
			switch {
			case escape && stmt[i] == '\\' && i+1 < len(stmt):
				val.WriteByte(stmt[i+1])
				i += 2
				continue
			case stmt[i] == quote && i+1 < len(stmt) && stmt[i+1] == quote:
				val.WriteByte(quote)
				i += 2
				continue
			case stmt[i] == quote:
				i++
			default:
				val.WriteByte(stmt[i])
				i++
				continue
			}
			break
		}
		kind := byte('l')
		if quote == '"' {
			kind = 'i'
		}
		out = append(out, token{kind, val.String()})
	}
	flush()
	return out, nil
}

func TestLexSQL(t *testing.T) {
	toks, err := lexSQL(`COMMENT ON ROLE "a""b" IS E'x\\y''z'`)
	if err != nil {
		t.Fatal(err)
	}
	want := []token{{'b', "COMMENT ON ROLE "}, {'i', `a"b`}, {'b', " IS "}, {'l', `x\y'z`}}
	if !slices.Equal(toks, want) {
		t.Errorf("lexSQL = %q, want %q", toks, want)
	}
	if _, err := lexSQL(`GRANT "a TO "b"`); err == nil {
		t.Error("an odd number of quotes must not lex")
	}
}

// FuzzRender sends arbitrary names through the planner and checks that every
// statement lexes back into exactly the names it was given: outside quotes
// only keywords, every quoted identifier one of the input names, every
// string literal the marker or the password placeholder. NUL bytes and empty
// names must be refused, never rendered.
func FuzzRender(f *testing.F) {
	f.Add("rolecd_a_ro_1", "ro", "analytics", "app", "public", "pg_monitor", "alice")
	f.Add(`we"ird`, "l.a-b", "r.e-s", "My DB", `s"; DROP TABLE x; --`, "Src Role", `g"`)
	f.Add("Upper", "x", "y", "it's", `a\b`, "dot.ted", "E'")
	f.Add("a\x00b", "x", "y", "db", "s", "src", "g")
	f.Add("", "x", "y", "db", "s", "src", "g")
	f.Add("r", `lab"el\`, `re's`, `"`, `""`, `'`, `\`)
	f.Fuzz(func(t *testing.T, role, label, resource, db, sch, source, grantor string) {
		r := spec.Role{Resource: resource, Type: spec.Managed, Label: label, Name: role,
			Scopes: []spec.Scope{{Database: db, Schema: sch}}, Privileges: []string{"SELECT"}}
		x := spec.Role{Resource: resource, Type: spec.External, Label: label + "x", Name: role + "x", SourceRole: source}
		s := snapshot(v16, inspected(db, schema(sch, 3), schema("public", 1)))
		withRole(s, catalog.Role{Name: source, Inherit: true, ConnLimit: -1})
		withRole(s, catalog.Role{Name: role, Comment: "by hand", MemberOf: []catalog.Membership{{Role: "old", Grantor: grantor}}})
		if d, ok := s.Database(db); ok && d.Inspected {
			if sc, ok := d.Schema("public"); ok {
				sc.ACL = append(sc.ACL, catalog.Grant{Grantee: role, Privilege: "CREATE"})
				sc.TableGrants = append(sc.TableGrants, catalog.ObjectGrant{Grantee: role, Privilege: "DELETE", Objects: 1})
			}
			d.ACL = append(d.ACL, catalog.Grant{Grantee: x.Name, Privilege: "TEMPORARY"})
		}
		rp, err := PlanResource(Input{Resource: spec.Resource{Name: resource, Database: "postgres"}, Roles: []spec.Role{r, x}, Snapshot: s})

		names := []string{role, x.Name, db, sch, source, grantor, "old", "public", "postgres"}
		// An empty grantor is legal: GRANTED BY is then left out.
		if slices.ContainsFunc(names, func(n string) bool { return n == "" && n != grantor || strings.Contains(n, "\x00") }) {
			if err == nil {
				t.Fatalf("empty name or NUL byte accepted: %q", names)
			}
			return
		}
		distinct := slices.Clone(names[:6])
		slices.Sort(distinct)
		if len(slices.Compact(distinct)) < 6 || db == "postgres" || sch == "public" || slices.Contains([]string{role, x.Name, source}, "postgres") ||
			slices.Contains([]string{role, x.Name}, "old") || source == "old" {
			return // collisions make the input invalid or change its meaning
		}
		if err != nil {
			t.Fatalf("PlanResource: %v", err)
		}
		markers := []string{Marker(r), Marker(x), Redacted}
		for _, p := range rp.Roles {
			if p.Checksum != Checksum(resource, p.Config.RoleName, p.SQLPlan) {
				t.Errorf("checksum mismatch for %q", p.Config.RoleName)
			}
			for _, stmts := range p.SQLPlan {
				for _, stmt := range stmts {
					checkStatement(t, stmt, names, markers)
				}
			}
		}
	})
}

func checkStatement(t *testing.T, stmt string, names, literals []string) {
	t.Helper()
	if strings.Contains(stmt, "\x00") {
		t.Fatalf("NUL byte in %q", stmt)
	}
	toks, err := lexSQL(stmt)
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range toks {
		switch tok.kind {
		case 'i':
			if !slices.Contains(names, tok.text) {
				t.Errorf("identifier %q in %q is none of %q", tok.text, stmt, names)
			}
		case 'l':
			if !slices.Contains(literals, tok.text) {
				t.Errorf("literal %q in %q is none of %q", tok.text, stmt, literals)
			}
		default:
			if i := strings.IndexFunc(tok.text, func(c rune) bool {
				return !(c >= 'A' && c <= 'Z' || c == ' ' || c == ',' || c == '-' || c == '1')
			}); i >= 0 {
				t.Errorf("unexpected %q outside quotes in %q", tok.text[i:], stmt)
			}
		}
	}
}
