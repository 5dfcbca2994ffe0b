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
	// over is set when the list had more than maxListItems entries; only
	// those were kept.
	over bool
}

// maxListItems bounds the entries of one list field (scopes, privileges,
// functions, object_creators): a cell of "a;a;a;..." must not become
// millions of values.
const maxListItems = 1000

// given reports whether the list was written with at least one entry.
func (l listValue) given() bool { return l.bad || len(l.items) > 0 }

// splitList splits a ";"-separated cell into trimmed, non-empty entries,
// all at pos.
func splitList(s string, pos Pos) listValue {
	l := listValue{pos: pos}
	for part := range strings.SplitSeq(s, ";") {
		if part = strings.TrimSpace(part); part != "" {
			if len(l.items) == maxListItems {
				l.over = true
				break
			}
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
	// allowSources is allow_source_roles.
	allowSources listValue
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
	// maxDecls bounds roles and resources (Limits.MaxRoles; 0: no bound);
	// full is set once either went over it, and nothing more is decoded.
	maxDecls int
	full     bool
	// dropped counts the problems past maxCollected, not kept.
	dropped int
	// values estimates the values decoded so far (see budget).
	values int
}

// valuesPerRole sets the budget of values of a tree: valuesPerRole times
// Limits.MaxRoles. A role written out in YAML block style takes about 15
// values, in flow style or CSV about 10; each costs about 200 bytes of
// memory once decoded (a yaml.Node, then a value), whatever its size in
// the file. The budget (with the defaults, 500,000 values, about 100 MB)
// is what keeps files of "a,a,a,..." from costing 100 times their size.
const valuesPerRole = 25

// budget adds the values data may decode to, over-estimated by counting
// the bytes of seps of which at least one precedes every value, to the
// tree's count. Once over the budget it reports the file and returns
// false: the file is not decoded.
func (d *decoded) budget(name string, data []byte, seps string) bool {
	limit := d.maxDecls * valuesPerRole
	if limit <= 0 {
		return true
	}
	var isSep [256]bool
	for i := 0; i < len(seps); i++ {
		isSep[seps[i]] = true
	}
	n := 1
	for _, c := range data {
		if isSep[c] {
			n++
		}
	}
	d.values += n
	if d.values <= limit {
		return true
	}
	d.full = true
	d.errorf(Pos{File: name}, "the role files hold about %d values up to this one, over the limit of %d (%d per role of limits.max_roles in rolecd.yaml); not read",
		d.values, limit, valuesPerRole)
	return false
}

// maxCollected bounds the decoding problems kept: a file of a million bad
// entries must not cost a million messages.
const maxCollected = 2 * maxReported

// addRole records a role declaration; it reports false, having reported the
// limit once, when the tree already holds maxDecls roles.
func (d *decoded) addRole(r rawRole) bool {
	if d.full {
		return false
	}
	if d.maxDecls > 0 && len(d.roles) >= d.maxDecls {
		d.full = true
		d.errorf(r.pos, "more than %d roles in the role files (limits.max_roles in rolecd.yaml): the rest is not read", d.maxDecls)
		return false
	}
	d.roles = append(d.roles, r)
	return true
}

// addResource records a resource declaration, like addRole.
func (d *decoded) addResource(r rawResource) bool {
	if d.full {
		return false
	}
	if d.maxDecls > 0 && len(d.resources) >= d.maxDecls {
		d.full = true
		d.errorf(r.pos, "more than %d resources in the role files (limits.max_roles in rolecd.yaml): the rest is not read", d.maxDecls)
		return false
	}
	d.resources = append(d.resources, r)
	return true
}

func (d *decoded) errorf(pos Pos, format string, args ...any) {
	if len(d.errs) >= maxCollected {
		d.dropped++
		return
	}
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
