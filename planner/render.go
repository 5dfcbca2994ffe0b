package planner

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
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

// createRole renders CREATE ROLE with the desired attributes and the
// password placeholder.
func (w *renderer) createRole(role string) string {
	return "CREATE ROLE " + w.ident(role) + " WITH " + strings.Join(desiredAttributes(), " ") +
		" PASSWORD " + PasswordPlaceholder
}

// alterRole renders ALTER ROLE with the given attribute clauses, and the
// password placeholder when rotate is set.
func (w *renderer) alterRole(role string, attrs []string, rotate bool) string {
	if rotate {
		attrs = append(slices.Clip(attrs), "PASSWORD "+PasswordPlaceholder)
	}
	return "ALTER ROLE " + w.ident(role) + " WITH " + strings.Join(attrs, " ")
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
func (w *renderer) grant(kind objectKind, privs, objects []string, role string) string {
	return "GRANT " + w.privilegeList(kind, privs) + " " + kind.clause(w.identList(objects)) +
		" TO " + w.ident(role)
}

// revoke renders REVOKE privs ON <kind> objects FROM role.
func (w *renderer) revoke(kind objectKind, privs, objects []string, role string) string {
	return "REVOKE " + w.privilegeList(kind, privs) + " " + kind.clause(w.identList(objects)) +
		" FROM " + w.ident(role)
}

// revokeGrantOption renders REVOKE GRANT OPTION FOR privs ON <kind> objects
// FROM role: the privileges stay, the right to pass them on goes.
func (w *renderer) revokeGrantOption(kind objectKind, privs, objects []string, role string) string {
	return "REVOKE GRANT OPTION FOR " + w.privilegeList(kind, privs) + " " +
		kind.clause(w.identList(objects)) + " FROM " + w.ident(role)
}
