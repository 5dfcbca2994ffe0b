package spec

import (
	"fmt"
	"strconv"
	"strings"
)

// value is one field as read from a file, with where it was written.
type value struct {
	s   string
	pos Pos
	set bool // present and not null
	bad bool // present but unusable; the problem is already reported
}

// usable reports whether v holds a value worth validating.
func (v value) usable() bool { return v.set && !v.bad }

// listValue is a list field (scopes, privileges) as read from a file.
type listValue struct {
	items []value
	pos   Pos
	bad   bool // present but unusable; the problem is already reported
}

// given reports whether the list was written with at least one entry.
func (l listValue) given() bool { return l.bad || len(l.items) > 0 }

// splitList splits a ";"-separated cell into trimmed, non-empty entries,
// all at pos.
func splitList(s string, pos Pos) listValue {
	l := listValue{pos: pos}
	for part := range strings.SplitSeq(s, ";") {
		if part = strings.TrimSpace(part); part != "" {
			l.items = append(l.items, value{s: part, pos: pos, set: true})
		}
	}
	return l
}

// rawAdmin is a resource's admin block before validation.
type rawAdmin struct {
	pos          Pos
	set          bool
	user         value
	passwordEnv  value
	passwordFile value
	// passwordCommand names a configured command.
	passwordCommand value
	// allowCleartext is allow_cleartext.
	allowCleartext value
}

// rawResource is a resource declaration before validation.
type rawResource struct {
	pos      Pos
	name     value
	host     value
	port     value
	database value
	sslmode  value
	// sslrootcert is the CA bundle path.
	sslrootcert value
	admin       rawAdmin
	creators    listValue // object_creators
	reassign    value     // drop_reassign_to
	prune       value
}

// rawRole is a role declaration (YAML roles/items or a CSV row) before
// validation.
type rawRole struct {
	pos        Pos
	format     format // which file format declared it
	resource   value
	typ        value
	label      value
	sourceRole value
	rotate     value
	scopes     listValue
	privileges listValue
	functions  listValue
	connLimit  value // connection_limit
	validUntil value // valid_until
	maxAge     value // password_max_age
	options    rawOptions
}

// rawOption is one entry of a role's options: mapping.
type rawOption struct {
	name, value value
}

// rawOptions is a role's options: mapping as read from a file.
type rawOptions struct {
	items []rawOption
	pos   Pos
	bad   bool // present but unusable; the problem is already reported
}

// decoded is what the files hold, before validation.
type decoded struct {
	resources []rawResource
	roles     []rawRole
	errs      Errors
}

func (d *decoded) errorf(pos Pos, format string, args ...any) {
	d.errs = append(d.errs, Error{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

// maxQuoted is how much of a user-supplied value a message shows.
const maxQuoted = 64

// quote renders a user-supplied value for a message: Go-quoted (so control
// characters are visible) and cut when long.
func quote(s string) string {
	if len(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:maxQuoted]) + "..."
}
