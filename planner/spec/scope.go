package spec

import (
	"fmt"
	"strings"
)

// ParseScope parses a scope as written in role files: "db" or "db.schema".
// Parts are literal, case-sensitive names: at most one dot, no empty part,
// no part longer than 63 bytes, no NUL, no leading or trailing space.
func ParseScope(s string) (Scope, error) {
	switch {
	case s == "":
		return Scope{}, fmt.Errorf("empty scope")
	case strings.TrimSpace(s) != s:
		return Scope{}, fmt.Errorf("invalid scope %s: leading or trailing space", quote(s))
	case strings.IndexByte(s, 0) >= 0:
		return Scope{}, fmt.Errorf("invalid scope %s: contains a NUL byte", quote(s))
	case strings.Count(s, ".") > 1:
		return Scope{}, fmt.Errorf("invalid scope %s: more than one dot (want db or db.schema)", quote(s))
	}
	db, schema, dotted := strings.Cut(s, ".")
	switch {
	case db == "":
		return Scope{}, fmt.Errorf("invalid scope %s: empty database name", quote(s))
	case dotted && schema == "":
		return Scope{}, fmt.Errorf("invalid scope %s: empty schema name", quote(s))
	case len(db) > MaxNameLen:
		return Scope{}, fmt.Errorf("invalid scope %s: database name longer than %d bytes", quote(s), MaxNameLen)
	case len(schema) > MaxNameLen:
		return Scope{}, fmt.Errorf("invalid scope %s: schema name longer than %d bytes", quote(s), MaxNameLen)
	}
	return Scope{Database: db, Schema: schema}, nil
}
