// Package inventory decides which resources of an unreviewed tree rolecd
// may connect to. The trusted inventory is reviewed state: the protected
// branch head (the daemon) or a ref or path the operator names (`rolecd
// plan --trusted-inventory`). A proposed resource whose connection
// (spec.Connection: host, port, database, sslmode, sslrootcert, admin user,
// credential source, allow_cleartext) equals the trusted one's is planned,
// with the trusted connection; a new or changed one is reported and not
// connected until the change is merged. Pure: it compares values.
package inventory

import (
	"slices"
	"strconv"

	"github.com/rolecd/rolecd/planner/spec"
)

// Kind is what happens to a resource of the inventory.
type Kind string

// Kinds of change.
const (
	Added   Kind = "added"
	Changed Kind = "changed"
	Removed Kind = "removed"
)

// Field is one connection setting that differs.
type Field struct {
	Name     string // host, port, database, sslmode, sslrootcert, admin user, credential, allow_cleartext
	Trusted  string
	Proposed string
}

// Change is a resource whose connection is not the trusted one's.
type Change struct {
	Kind     Kind
	Resource string
	// Trusted is the reviewed connection (nil when Added).
	Trusted *spec.Connection
	// Proposed is the unreviewed connection (nil when Removed).
	Proposed *spec.Connection
	// Fields lists what differs (Changed only), in Connection's order.
	Fields []Field
	// Roles are the role names the proposed tree declares for the
	// resource, which are not planned (Added and Changed).
	Roles []string
}

// Diff is the comparison of a proposed inventory with the trusted one.
type Diff struct {
	// Changes are sorted by resource name.
	Changes []Change
	// Connected are the proposed resources planned with their trusted
	// connection, sorted.
	Connected []string
	// NoTrusted is set when there was no trusted inventory at all (the
	// branch has no valid role files yet): every resource is new.
	NoTrusted bool
}

// Empty reports whether the proposed inventory connects exactly like the
// trusted one.
func (d Diff) Empty() bool { return len(d.Changes) == 0 && !d.NoTrusted }

// NotConnected counts the proposed resources that are not connected.
func (d Diff) NotConnected() int {
	n := 0
	for _, c := range d.Changes {
		if c.Kind != Removed {
			n++
		}
	}
	return n
}

// Compare compares the connections of proposed's resources with those of
// trusted (which may be nil: nothing is trusted).
func Compare(trusted, proposed *spec.Tree) Diff {
	var d Diff
	if trusted == nil {
		trusted, d.NoTrusted = &spec.Tree{}, true
	}
	byName := make(map[string]*spec.Resource, len(trusted.Resources))
	for i := range trusted.Resources {
		byName[trusted.Resources[i].Name] = &trusted.Resources[i]
	}
	seen := map[string]bool{}
	for _, p := range proposed.Resources {
		seen[p.Name] = true
		pc := p.Connection()
		t, ok := byName[p.Name]
		if !ok {
			d.Changes = append(d.Changes, Change{Kind: Added, Resource: p.Name, Proposed: &pc, Roles: roleNames(proposed, p.Name)})
			continue
		}
		tc := t.Connection()
		if tc == pc {
			d.Connected = append(d.Connected, p.Name)
			continue
		}
		d.Changes = append(d.Changes, Change{Kind: Changed, Resource: p.Name, Trusted: &tc, Proposed: &pc,
			Fields: fields(tc, pc), Roles: roleNames(proposed, p.Name)})
	}
	for _, t := range trusted.Resources {
		if !seen[t.Name] {
			tc := t.Connection()
			d.Changes = append(d.Changes, Change{Kind: Removed, Resource: t.Name, Trusted: &tc})
		}
	}
	slices.SortFunc(d.Changes, func(a, b Change) int {
		if a.Resource < b.Resource {
			return -1
		}
		if a.Resource > b.Resource {
			return 1
		}
		return 0
	})
	slices.Sort(d.Connected)
	return d
}

// Restrict returns the tree rolecd may plan for proposed, and the diff:
// only the resources whose connection equals trusted's, each carrying
// the trusted resource's connection settings (every field but the
// planning ones proposed may change: object_creators, drop_reassign_to,
// prune), with their proposed roles. Resources new or changed relative to
// trusted are left out, with their roles.
func Restrict(trusted, proposed *spec.Tree) (*spec.Tree, Diff) {
	d := Compare(trusted, proposed)
	out := &spec.Tree{}
	connected := make(map[string]bool, len(d.Connected))
	for _, name := range d.Connected {
		connected[name] = true
	}
	byName := map[string]int{}
	if trusted != nil {
		for i, r := range trusted.Resources {
			byName[r.Name] = i
		}
	}
	for _, p := range proposed.Resources {
		if !connected[p.Name] {
			continue
		}
		t := trusted.Resources[byName[p.Name]]
		// Start from the trusted resource, so a connection setting added
		// to spec.Resource later is trusted by default.
		r := t
		r.ObjectCreators, r.DropReassignTo, r.KeepRemoved = p.ObjectCreators, p.DropReassignTo, p.KeepRemoved
		r.Complete, r.Pos = p.Complete, p.Pos
		out.Resources = append(out.Resources, r)
	}
	out.Roles = make([]spec.Role, 0, len(proposed.Roles))
	for _, role := range proposed.Roles {
		if connected[role.Resource] {
			out.Roles = append(out.Roles, role)
		}
	}
	return out, d
}

func roleNames(t *spec.Tree, resource string) []string {
	var out []string
	for _, r := range t.RolesFor(resource) {
		out = append(out, r.Name)
	}
	return out
}

// fields lists the settings where a and b differ.
func fields(a, b spec.Connection) []Field {
	var out []Field
	add := func(name, x, y string) {
		if x != y {
			out = append(out, Field{Name: name, Trusted: x, Proposed: y})
		}
	}
	add("host", a.Host, b.Host)
	add("port", strconv.Itoa(a.Port), strconv.Itoa(b.Port))
	add("database", a.Database, b.Database)
	add("sslmode", a.SSLMode, b.SSLMode)
	add("sslrootcert", a.SSLRootCert, b.SSLRootCert)
	add("admin user", a.AdminUser, b.AdminUser)
	add("credential", a.Credential, b.Credential)
	add("allow_cleartext", strconv.FormatBool(a.AllowCleartext), strconv.FormatBool(b.AllowCleartext))
	if len(out) == 0 && a != b {
		// A setting this function does not name yet: still a change.
		out = append(out, Field{Name: "connection", Trusted: "reviewed settings", Proposed: "other settings"})
	}
	return out
}
