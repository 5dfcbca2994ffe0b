package planner

import (
	"slices"

	"github.com/rolecd/rolecd/planner/spec"
)

// objectKind says what a privilege is about.
type objectKind int

const (
	onDatabase objectKind = iota
	onSchema
	onAllTables
)

// maxTablePrivileges bounds spec.TablePrivileges, so that table privilege
// counts fit in a fixed-size array (see TestTablePrivilegesFit).
const maxTablePrivileges = 8

// databasePrivileges lists the database privileges in rendering order.
func databasePrivileges() [3]string { return [3]string{"CONNECT", "TEMPORARY", "CREATE"} }

// schemaPrivileges lists the schema privileges in rendering order.
func schemaPrivileges() [2]string { return [2]string{"USAGE", "CREATE"} }

// Indexes of the privileges rolecd grants, in the orders above.
const (
	connectIndex = 0 // CONNECT in databasePrivileges
	usageIndex   = 0 // USAGE in schemaPrivileges
)

// index returns the position of privilege p in the kind's rendering order,
// or -1 when p is not a privilege of that kind. Only privileges with an
// index are ever pasted into SQL: anything else coming from a Snapshot is
// refused.
func (k objectKind) index(p string) int {
	switch k {
	case onDatabase:
		l := databasePrivileges()
		return slices.Index(l[:], p)
	case onSchema:
		l := schemaPrivileges()
		return slices.Index(l[:], p)
	default:
		if i := slices.Index(spec.TablePrivileges, p); i < maxTablePrivileges {
			return i
		}
		return -1
	}
}

// clause renders the ON clause for the given, already quoted, objects.
func (k objectKind) clause(objects string) string {
	switch k {
	case onDatabase:
		return "ON DATABASE " + objects
	case onSchema:
		return "ON SCHEMA " + objects
	default:
		return "ON ALL TABLES IN SCHEMA " + objects
	}
}

// acl is a set of database or schema privileges held by one role: bit i
// stands for the kind's i-th privilege.
type acl struct {
	held, grantable uint8
}

func (a *acl) add(i int, grantable bool) {
	a.held |= 1 << i
	if grantable {
		a.grantable |= 1 << i
	}
}

// has reports whether privilege i is held, and whether WITH GRANT OPTION.
func (a acl) has(i int) (held, grantable bool) {
	return a.held&(1<<i) != 0, a.grantable&(1<<i) != 0
}

// count is the number of privileges held.
func (a acl) count() int {
	n := 0
	for h := a.held; h != 0; h &= h - 1 {
		n++
	}
	return n
}

// tableCount says on how many relations of a schema a privilege is held,
// and on how many of them WITH GRANT OPTION.
type tableCount struct {
	tables, grantable int
}

// tableCounts holds one role's table privileges in one schema, indexed
// like spec.TablePrivileges.
type tableCounts [maxTablePrivileges]tableCount
