package planner

import (
	"slices"
	"strings"

	"github.com/rolecd/rolecd/planner/spec"
)

// objectKind says what a privilege is about.
type objectKind int

const (
	onDatabase objectKind = iota
	onSchema
	onAllTables
	onAllSequences
	onAllRoutines
	// onDefaultPrivileges only orders change lines: default privileges
	// are diffed by defaults.go.
	onDefaultPrivileges
)

// maxTablePrivileges bounds spec.TablePrivileges, so that table privilege
// counts fit in a fixed-size array (see TestTablePrivilegesFit).
const maxTablePrivileges = 8

// databasePrivileges lists the database privileges in rendering order.
func databasePrivileges() [3]string { return [3]string{"CONNECT", "TEMPORARY", "CREATE"} }

// schemaPrivileges lists the schema privileges in rendering order.
func schemaPrivileges() [2]string { return [2]string{"USAGE", "CREATE"} }

// sequencePrivileges lists the sequence privileges in rendering order.
func sequencePrivileges() []string { return []string{"USAGE", "SELECT", "UPDATE"} }

// routinePrivileges lists the function and procedure privileges.
func routinePrivileges() []string { return []string{spec.ExecutePrivilege} }

// tablePrivileges lists the table privileges in rendering order.
func tablePrivileges() []string {
	all := spec.TablePrivileges()
	return all[:min(len(all), maxTablePrivileges)]
}

// Indexes of the privileges rolecd grants, in the orders above.
const (
	connectIndex = 0 // CONNECT in databasePrivileges
	usageIndex   = 0 // USAGE in schemaPrivileges
)

// privileges lists the kind's privileges in rendering order.
func (k objectKind) privileges() []string {
	switch k {
	case onDatabase:
		l := databasePrivileges()
		return l[:]
	case onSchema:
		l := schemaPrivileges()
		return l[:]
	case onAllSequences:
		return sequencePrivileges()
	case onAllRoutines:
		return routinePrivileges()
	default:
		return tablePrivileges()
	}
}

// index returns the position of privilege p in the kind's rendering order,
// or -1 when p is not a privilege of that kind. Only privileges with an
// index are ever pasted into SQL: anything else coming from a Snapshot is
// refused.
func (k objectKind) index(p string) int {
	return slices.Index(k.privileges(), p)
}

// clause renders the ON clause for the given, already quoted, objects.
func (k objectKind) clause(objects string) string {
	switch k {
	case onDatabase:
		return "ON DATABASE " + objects
	case onSchema:
		return "ON SCHEMA " + objects
	case onAllSequences:
		return "ON ALL SEQUENCES IN SCHEMA " + objects
	case onAllRoutines:
		// ROUTINES: functions, aggregates and procedures alike.
		return "ON ALL ROUTINES IN SCHEMA " + objects
	default:
		return "ON ALL TABLES IN SCHEMA " + objects
	}
}

// noun names the kind's objects in change lines.
func (k objectKind) noun() string {
	switch k {
	case onAllSequences:
		return "sequence(s)"
	case onAllRoutines:
		return "routine(s)"
	default:
		return "table(s)"
	}
}

// rank orders change lines within a phase like the statements: from the
// narrowest object to the widest.
func (k objectKind) rank() int {
	switch k {
	case onAllTables:
		return 0
	case onAllSequences:
		return 1
	case onAllRoutines:
		return 2
	case onSchema:
		return 4
	case onDatabase:
		return 5
	}
	return 3 // onDefaultPrivileges
}

// Object kinds of ALTER DEFAULT PRIVILEGES.
const (
	defaultTables    = "TABLES"
	defaultSequences = "SEQUENCES"
	defaultFunctions = "FUNCTIONS"
)

// defaultObjects lists the object kinds of ALTER DEFAULT PRIVILEGES in
// rendering order. rolecd grants on the first three; the others are only
// ever revoked.
func defaultObjects() []string {
	return []string{defaultTables, defaultSequences, defaultFunctions, "TYPES", "SCHEMAS", "LARGE OBJECTS"}
}

// defaultPrivileges lists the privileges default privileges on objects can
// grant, in rendering order; nil for an unknown kind.
func defaultPrivileges(objects string) []string {
	switch objects {
	case defaultTables:
		return tablePrivileges()
	case defaultSequences:
		return sequencePrivileges()
	case defaultFunctions:
		return routinePrivileges()
	case "TYPES":
		return []string{"USAGE"}
	case "SCHEMAS":
		return []string{"USAGE", "CREATE"}
	case "LARGE OBJECTS":
		return []string{"SELECT", "UPDATE"}
	}
	return nil
}

// acl is a set of privileges held by one role on one object (or, for
// default privileges, one creator and object kind): bit i stands for the
// kind's i-th privilege.
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

// names lists the privileges of bits in the order of privs.
func names(bits uint8, privs []string) []string {
	var out []string
	for i, p := range privs {
		if bits&(1<<i) != 0 {
			out = append(out, p)
		}
	}
	return out
}

// tableCount says on how many objects of a schema a privilege is held,
// and on how many of them WITH GRANT OPTION.
type tableCount struct {
	tables, grantable int
}

// tableCounts holds one role's privileges on one kind of object in one
// schema, indexed like the kind's privileges.
type tableCounts [maxTablePrivileges]tableCount

// lower renders an ALTER DEFAULT PRIVILEGES object kind for change lines.
func lower(objects string) string { return strings.ToLower(objects) }
