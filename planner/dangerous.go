package planner

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rolecd/rolecd/planner/catalog"
	"github.com/rolecd/rolecd/planner/spec"
)

// dangerousAttributes names the attributes of r that make membership in it
// dangerous: SET ROLE to it gives them to the member.
func dangerousAttributes(r catalog.Role) []string {
	var out []string
	if r.Superuser {
		out = append(out, "SUPERUSER")
	}
	if r.Replication {
		out = append(out, "REPLICATION")
	}
	if r.BypassRLS {
		out = append(out, "BYPASSRLS")
	}
	return out
}

// dangerousSource explains why granting source would be dangerous on this
// cluster, or returns "" when it is not: source itself, or a role source is
// a member of, directly or through other roles, has SUPERUSER, REPLICATION
// or BYPASSRLS, or is one of spec.DangerousPredefinedRoles. Every
// membership is followed, whatever its INHERIT, SET and ADMIN options: one
// that grants neither today can be changed by whoever holds ADMIN, and
// PostgreSQL before 16 lets every member SET ROLE. The roles are searched
// breadth first in name order, so the nearest (and then first by name)
// reason is the one given.
func dangerousSource(snap *catalog.Snapshot, source string) string {
	type step struct {
		name string
		via  []string // the roles between source and name
	}
	seen := map[string]bool{source: true}
	queue := []step{{name: source}}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		r, ok := snap.Roles[cur.name]
		if !ok {
			continue
		}
		var why string
		if attrs := dangerousAttributes(r); len(attrs) > 0 {
			why = "has " + strings.Join(attrs, ", ")
		} else if what, ok := spec.DangerousPredefinedRoles()[cur.name]; ok {
			// A direct grant is refused when the files are read already;
			// this also catches one through another role, and a plan
			// input that did not come from role files.
			why = "lets its members " + what
		}
		if why != "" {
			if cur.name == source {
				return fmt.Sprintf("source role %q %s", source, why)
			}
			chain := ""
			if len(cur.via) > 0 {
				chain = fmt.Sprintf(" (through %s)", strings.Join(quoteAll(cur.via), ", "))
			}
			return fmt.Sprintf("source role %q is a member of %q%s, which %s: its members can SET ROLE to it", source, cur.name, chain, why)
		}
		parents := slices.Clone(r.MemberOf)
		slices.SortFunc(parents, func(a, b catalog.Membership) int { return strings.Compare(a.Role, b.Role) })
		for _, m := range parents {
			if seen[m.Role] {
				continue
			}
			seen[m.Role] = true
			via := slices.Clone(cur.via)
			if cur.name != source {
				via = append(via, cur.name)
			}
			queue = append(queue, step{name: m.Role, via: via})
		}
	}
	return ""
}
