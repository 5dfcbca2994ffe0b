package planner

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/rolecd/rolecd/planner/catalog"
	"github.com/rolecd/rolecd/planner/spec"
)

// renderer builds SQL statements. Every identifier goes through ident and
// every literal through literal. It records the first problem (a NUL byte,
// an empty identifier, an unknown privilege keyword) instead of returning
// it from each call, so that statement builders stay readable: check err
// once after rendering and discard the statements when it is set.
type renderer struct {
	err error
}

func (w *renderer) fail(err error) {
	if w.err == nil {
		w.err = err
	}
}

// ident quotes one identifier with pgx's Identifier.Sanitize. pgx silently
// drops NUL bytes, which would address a different object, so a NUL is an
// error here; so is the empty name, which PostgreSQL rejects.
func (w *renderer) ident(name string) string {
	switch {
	case name == "":
		w.fail(errors.New("empty identifier"))
		return `""`
	case strings.IndexByte(name, 0) >= 0:
		w.fail(fmt.Errorf("identifier %q contains a NUL byte", name))
		return `""`
	}
	return pgx.Identifier{name}.Sanitize()
}

// identList quotes names and joins them with ", ".
func (w *renderer) identList(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = w.ident(n)
	}
	return strings.Join(quoted, ", ")
}

// literal quotes a string constant: single quotes are doubled, and a text
// holding a backslash is written as an E'...' string with the backslashes
// doubled, so the result does not depend on standard_conforming_strings.
func (w *renderer) literal(s string) string {
	if strings.IndexByte(s, 0) >= 0 {
		w.fail(errors.New("string literal contains a NUL byte"))
		return "''"
	}
	q := strings.ReplaceAll(s, "'", "''")
	if strings.Contains(q, `\`) {
		return "E'" + strings.ReplaceAll(q, `\`, `\\`) + "'"
	}
	return "'" + q + "'"
}

// privilegeList checks privilege keywords against the allow-list of the
// object kind and joins them with ", ".
func (w *renderer) privilegeList(kind objectKind, privs []string) string {
	if len(privs) == 0 {
		w.fail(errors.New("no privilege to render"))
	}
	for _, p := range privs {
		if kind.index(p) < 0 {
			w.fail(fmt.Errorf("unknown privilege %q", p))
			return ""
		}
	}
	return strings.Join(privs, ", ")
}

// createRole renders CREATE ROLE with the desired attributes, the
// connection limit, the password expiry when there is one, and the
// password placeholder (always last).
func (w *renderer) createRole(role string, connLimit int, validUntil string) Statement {
	var attrs []string
	for _, a := range roleAttributes(catalog.Role{}) {
		attrs = append(attrs, a.word(a.want))
	}
	attrs = append(attrs, fmt.Sprintf("CONNECTION LIMIT %d", connLimit))
	if validUntil != "" {
		attrs = append(attrs, "VALID UNTIL "+w.literal(validUntil))
	}
	return withPassword(role, "CREATE ROLE "+w.ident(role)+" WITH "+strings.Join(attrs, " ")+" PASSWORD ", "")
}

// alterRole renders ALTER ROLE with the given attribute clauses, and the
// password placeholder when rotate is set.
func (w *renderer) alterRole(role string, attrs []string, rotate bool) Statement {
	if rotate {
		head := "ALTER ROLE " + w.ident(role) + " WITH " + strings.Join(append(slices.Clip(attrs), "PASSWORD "), " ")
		return withPassword(role, head, "")
	}
	return plainStatement(role, "ALTER ROLE "+w.ident(role)+" WITH "+strings.Join(attrs, " "))
}

// commentOnRole renders COMMENT ON ROLE.
func (w *renderer) commentOnRole(role, comment string) string {
	return "COMMENT ON ROLE " + w.ident(role) + " IS " + w.literal(comment)
}

// revokeMembership renders REVOKE [ADMIN OPTION FOR] group FROM role, with
// GRANTED BY when the server tracks grantors (PostgreSQL 16 and later) and
// the grantor is known.
func (w *renderer) revokeMembership(group, role, grantor string, adminOnly, grantedBy bool) string {
	var b strings.Builder
	b.WriteString("REVOKE ")
	if adminOnly {
		b.WriteString("ADMIN OPTION FOR ")
	}
	b.WriteString(w.ident(group) + " FROM " + w.ident(role))
	if grantedBy && grantor != "" {
		b.WriteString(" GRANTED BY " + w.ident(grantor))
	}
	return b.String()
}

// grantMembership renders GRANT group TO role; from PostgreSQL 16 on with
// the INHERIT and SET options spelled out.
func (w *renderer) grantMembership(group, role string, options bool) string {
	s := "GRANT " + w.ident(group) + " TO " + w.ident(role)
	if options {
		s += " WITH INHERIT TRUE, SET TRUE"
	}
	return s
}

// grant renders GRANT privs ON <kind> objects TO role.
func (w *renderer) grant(kind objectKind, privs, objects []string, role string) Statement {
	return w.grantee("GRANT "+w.privilegeList(kind, privs)+" "+kind.clause(w.identList(objects))+" TO ", role, "").
		rewrites(kind, objects)
}

// revoke renders REVOKE privs ON <kind> objects FROM role.
func (w *renderer) revoke(kind objectKind, privs, objects []string, role string) Statement {
	return w.grantee("REVOKE "+w.privilegeList(kind, privs)+" "+kind.clause(w.identList(objects))+" FROM ", role, "").
		rewrites(kind, objects)
}

// revokeGrantOption renders REVOKE GRANT OPTION FOR privs ON <kind> objects
// FROM role: the privileges stay, the right to pass them on goes.
func (w *renderer) revokeGrantOption(kind objectKind, privs, objects []string, role string) Statement {
	return w.grantee("REVOKE GRANT OPTION FOR "+w.privilegeList(kind, privs)+" "+
		kind.clause(w.identList(objects))+" FROM ", role, "").rewrites(kind, objects)
}

// alterDefaultPrivileges renders ALTER DEFAULT PRIVILEGES FOR ROLE creators
// [IN SCHEMA schemas] GRANT/REVOKE privs ON objects TO/FROM role. No schemas
// means database-wide.
func (w *renderer) alterDefaultPrivileges(action defaultAction, creators, schemas, privs []string, objects, role string) Statement {
	allowed := defaultPrivileges(objects)
	if allowed == nil {
		w.fail(fmt.Errorf("unknown default privilege object kind %q", objects))
		return Statement{}
	}
	if len(privs) == 0 || len(creators) == 0 {
		w.fail(errors.New("no privilege or creator to render"))
	}
	for _, p := range privs {
		if !slices.Contains(allowed, p) {
			w.fail(fmt.Errorf("unknown privilege %q on %s", p, objects))
			return Statement{}
		}
	}
	var b strings.Builder
	b.WriteString("ALTER DEFAULT PRIVILEGES FOR ROLE " + w.identList(creators))
	if len(schemas) > 0 {
		b.WriteString(" IN SCHEMA " + w.identList(schemas))
	}
	list := strings.Join(privs, ", ")
	switch action {
	case defaultGrant:
		b.WriteString(" GRANT " + list + " ON " + objects + " TO ")
	case defaultRevokeGrantOption:
		b.WriteString(" REVOKE GRANT OPTION FOR " + list + " ON " + objects + " FROM ")
	default:
		b.WriteString(" REVOKE " + list + " ON " + objects + " FROM ")
	}
	st := w.grantee(b.String(), role, "")
	// One pg_default_acl row per creator, schema and kind of object.
	scopes := schemas
	if len(scopes) == 0 {
		scopes = []string{""} // database-wide
	}
	for _, c := range creators {
		for _, sc := range scopes {
			st.objects = append(st.objects, "defaults\x00"+c+"\x00"+sc+"\x00"+objects)
		}
	}
	return st
}

// settingName renders a setting name: an allow-listed name as is (they are
// plain lower-case words), any other one (a setting to reset, read from
// the catalog) quoted part by part.
func (w *renderer) settingName(name string) string {
	if slices.Contains(spec.RoleOptions(), name) {
		return name
	}
	parts := strings.Split(name, ".")
	for i, p := range parts {
		parts[i] = w.ident(p)
	}
	return strings.Join(parts, ".")
}

// setRole renders ALTER ROLE role SET name = value: search_path as a list
// of literals, one per schema (a single literal would name one schema
// called "a, b"), anything else as one literal.
func (w *renderer) setRole(role, name, value string) string {
	rendered := w.literal(value)
	if name == "search_path" {
		schemas, err := spec.ParseSearchPath(value)
		if err != nil {
			w.fail(fmt.Errorf("search_path %q: %w", value, err))
			return ""
		}
		lits := make([]string, len(schemas))
		for i, s := range schemas {
			lits[i] = w.literal(s)
		}
		rendered = strings.Join(lits, ", ")
	}
	return "ALTER ROLE " + w.ident(role) + " SET " + w.settingName(name) + " = " + rendered
}

// resetRole renders ALTER ROLE role RESET name.
func (w *renderer) resetRole(role, name string) string {
	return "ALTER ROLE " + w.ident(role) + " RESET " + w.settingName(name)
}

// terminateSessions renders the query that ends every session of role.
func (w *renderer) terminateSessions(role string) string {
	return "SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity WHERE usename = " + w.literal(role)
}

// reassignOwned renders REASSIGN OWNED BY role TO target.
func (w *renderer) reassignOwned(role, target string) string {
	return "REASSIGN OWNED BY " + w.ident(role) + " TO " + w.ident(target)
}

// dropOwned renders DROP OWNED BY role.
func (w *renderer) dropOwned(role string) string {
	return "DROP OWNED BY " + w.ident(role)
}

// dropRole renders DROP ROLE role.
func (w *renderer) dropRole(role string) string {
	return dropRolePrefix + w.ident(role)
}
