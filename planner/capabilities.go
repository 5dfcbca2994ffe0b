package planner

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rolecd/rolecd/planner/catalog"
	"github.com/rolecd/rolecd/planner/spec"
)

// adminRights answers what the role rolecd connects as may do, from the
// Snapshot's Admin (inspected with pg_has_role), or, for a Snapshot built
// by hand without it, from the admin's pg_roles row and direct
// memberships.
type adminRights struct {
	name                                                string
	super, createRole, createDB, replication, bypassRLS bool
	rights                                              map[string]catalog.RoleRights
}

func (p *planner) adminRights() adminRights {
	a := p.snap.Admin
	if a.Name != "" {
		return adminRights{name: a.Name, super: a.Superuser, createRole: a.CreateRole, createDB: a.CreateDB,
			replication: a.Replication, bypassRLS: a.BypassRLS, rights: a.Rights}
	}
	name := p.snap.CurrentUser
	live, ok := p.snap.Roles[name]
	if !ok {
		// Nothing known about the admin: assume it may do everything, as
		// rolecd did before it inspected the admin's rights.
		return adminRights{name: name, super: true}
	}
	out := adminRights{name: name, super: live.Superuser, createRole: live.CreateRole, createDB: live.CreateDB,
		replication: live.Replication, bypassRLS: live.BypassRLS,
		rights: map[string]catalog.RoleRights{name: {Usage: true, Set: true}}}
	for _, m := range live.MemberOf {
		r := out.rights[m.Role]
		r.Usage = r.Usage || (m.Inherit && live.Inherit)
		r.Set = r.Set || m.Set
		r.Admin = r.Admin || m.Admin
		out.rights[m.Role] = r
	}
	return out
}

// usage: the admin has the privileges of role (it may grant on the role's
// objects, which PostgreSQL then records as granted by the owner).
func (a adminRights) usage(role string) bool { return a.super || a.rights[role].Usage }

// canSet: the admin may SET ROLE to role (ALTER DEFAULT PRIVILEGES FOR ROLE).
func (a adminRights) canSet(role string) bool { return a.super || a.rights[role].Set }

// holdsAdmin: the admin holds ADMIN OPTION on role.
func (a adminRights) holdsAdmin(role string) bool { return a.super || a.rights[role].Admin }

// grantFix is the statement, run by a superuser or the owner, that lets
// the admin act for owner.
func (a adminRights) grantFix(owner string) string {
	return fmt.Sprintf("GRANT %s TO %s", quoteIdent(owner), quoteIdent(a.name))
}

// quoteIdent quotes an identifier for an error message.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// capabilityErrors returns what a non-superuser admin cannot do of what
// the declared roles need, each error naming the role, what is missing and
// the fix, so that a plan never fails in the middle of an apply for lack
// of a right. A superuser gets none.
//
// PostgreSQL 14 and 15 let a CREATEROLE role create, alter, comment on,
// grant and drop every role that is not a superuser, except that altering
// a role with REPLICATION, and changing SUPERUSER, REPLICATION or
// BYPASSRLS, needs a superuser. PostgreSQL 16 and later need ADMIN OPTION
// on the role (its creator has it), and the admin's own CREATEDB,
// REPLICATION or BYPASSRLS to change those. On every version, granting on
// an object needs the privileges of its owner, and ALTER DEFAULT
// PRIVILEGES FOR ROLE c needs to be able to act as c.
func (p *planner) capabilityErrors(roles []spec.Role) []error {
	a := p.adminRights()
	if a.super {
		return nil
	}
	if !a.createRole {
		return []error{fmt.Errorf("admin %q is neither a superuser nor has CREATEROLE", a.name)}
	}
	var errs []error
	for _, r := range roles {
		if r.Name == "" {
			continue
		}
		for _, err := range p.roleCapabilityErrors(a, r) {
			errs = append(errs, fmt.Errorf("role %q: %w", r.Label, err))
		}
	}
	if !p.keepRemoved && p.reassignTo != a.name && !a.usage(p.reassignTo) {
		if _, exists := p.snap.Roles[p.reassignTo]; exists && p.hasRemovals(roles) {
			errs = append(errs, fmt.Errorf("drop_reassign_to %q: admin %q does not have its privileges, which REASSIGN OWNED ... TO %q needs; fix: %s",
				p.reassignTo, a.name, p.reassignTo, a.grantFix(p.reassignTo)))
		}
	}
	return errs
}

// hasRemovals reports whether some live role of this resource's would be
// planned for removal.
func (p *planner) hasRemovals(declared []spec.Role) bool {
	names := map[string]bool{}
	for _, r := range declared {
		names[r.Name] = true
	}
	for name, live := range p.snap.Roles {
		if _, own := p.ownMarker(live); own && !names[name] {
			return true
		}
	}
	return false
}

func (p *planner) roleCapabilityErrors(a adminRights, r spec.Role) []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	live, exists := p.snap.Roles[r.Name]
	if exists {
		switch {
		case live.Superuser:
			add("existing role %q is a superuser: only a superuser may alter it, and admin %q is not one", r.Name, a.name)
		case !p.grantedBy():
			if live.Replication {
				add("existing role %q has REPLICATION: before PostgreSQL 16 only a superuser may alter such a role, and admin %q is not one", r.Name, a.name)
			}
			if live.BypassRLS {
				add("existing role %q has BYPASSRLS: before PostgreSQL 16 only a superuser may revert it, and admin %q is not one", r.Name, a.name)
			}
		default:
			if !a.holdsAdmin(r.Name) {
				by := "a role that holds it WITH ADMIN OPTION (such as its creator)"
				if holders := p.adminHolders(r.Name); len(holders) > 0 {
					by = "one that holds it WITH ADMIN OPTION: " + strings.Join(holders, ", ")
				}
				add("admin %q lacks ADMIN OPTION on existing role %q (created by another role): from PostgreSQL 16 on a CREATEROLE admin may alter, comment on, grant and drop only roles it holds ADMIN OPTION on; fix: GRANT %s TO %s WITH ADMIN OPTION, run by a superuser or by %s",
					a.name, r.Name, quoteIdent(r.Name), quoteIdent(a.name), by)
			}
			for _, attr := range []struct {
				name      string
				live, own bool
			}{{"CREATEDB", live.CreateDB, a.createDB}, {"REPLICATION", live.Replication, a.replication}, {"BYPASSRLS", live.BypassRLS, a.bypassRLS}} {
				if attr.live && !attr.own {
					add("existing role %q has %s: reverting it needs the admin to have %s itself, and admin %q has not", r.Name, attr.name, attr.name, a.name)
				}
			}
		}
	}
	errs = append(errs, p.membershipCapabilityErrors(a, r, live, exists)...)
	if roleType(r) == spec.Managed {
		errs = append(errs, p.objectCapabilityErrors(a, r)...)
	}
	return errs
}

// membershipCapabilityErrors: the source role an external role must be
// granted, and the memberships it must lose. Before PostgreSQL 16
// CREATEROLE grants and revokes any role that is not a superuser (a
// superuser source is refused by validate); from 16 on it needs ADMIN
// OPTION on the role, and revoking a grant made by another role needs
// that role's privileges.
func (p *planner) membershipCapabilityErrors(a adminRights, r spec.Role, live catalog.Role, exists bool) []error {
	if !p.grantedBy() {
		return nil
	}
	var errs []error
	source := ""
	if roleType(r) == spec.External {
		source = r.SourceRole
	}
	usable := false
	for _, m := range live.MemberOf {
		if exists && m.Role == source && m.Inherit && m.Set {
			usable = true
		}
	}
	if src, ok := p.snap.Roles[source]; source != "" && ok && !src.Superuser && !usable && !a.holdsAdmin(source) {
		errs = append(errs, fmt.Errorf("admin %q lacks ADMIN OPTION on source role %q, which granting it needs from PostgreSQL 16 on; fix: GRANT %s TO %s WITH ADMIN OPTION, run by a superuser",
			a.name, source, quoteIdent(source), quoteIdent(a.name)))
	}
	if !exists {
		return errs
	}
	for _, m := range live.MemberOf {
		if m.Role == source && !m.Admin {
			continue
		}
		if m.Grantor != "" && m.Grantor != a.name && !a.usage(m.Grantor) {
			errs = append(errs, fmt.Errorf("revoking its membership in %q granted by %q needs the privileges of %q, which admin %q does not have; fix: %s, or revoke it as %q",
				m.Role, m.Grantor, m.Grantor, a.name, a.grantFix(m.Grantor), m.Grantor))
		}
	}
	return errs
}

// objectCapabilityErrors: GRANT and REVOKE on a database, schema, table,
// sequence or routine act with the owner's rights, which the admin has
// when it is a member of the owner (PostgreSQL then records the owner as
// the grantor); without them PostgreSQL grants nothing, with a warning.
// ALTER DEFAULT PRIVILEGES FOR ROLE c needs the admin to be able to act
// as c. Both are checked for every scope of the role, one error per
// owner or creator.
func (p *planner) objectCapabilityErrors(a adminRights, r spec.Role) []error {
	owners := map[string][]string{}   // owner -> what it owns that the role needs
	creators := map[string][]string{} // creator -> schemas whose default privileges need it
	note := func(m map[string][]string, role, what string) {
		if role == "" || role == r.Name || strings.HasPrefix(role, "pg_") || a.name == role {
			return
		}
		if !slices.Contains(m[role], what) {
			m[role] = append(m[role], what)
		}
	}
	d := &roleDiff{planner: p, role: r}
	wantsDefaults := len(r.Privileges) > 0 || slices.Contains(r.Functions, spec.ExecutePrivilege)
	for _, s := range r.Scopes {
		db, ok := p.snap.Database(s.Database)
		if !ok || !db.Inspected {
			continue // refused by validate
		}
		if !a.usage(db.Owner) {
			note(owners, db.Owner, fmt.Sprintf("database %s", quoteIdent(db.Name)))
		}
		for _, sc := range scopeSchemas(db, s) {
			where := quoteIdent(db.Name) + "." + quoteIdent(sc.Name)
			schemaOwner := sc.Owner
			if schemaOwner == databaseOwner {
				schemaOwner = db.Owner
			}
			if !a.usage(schemaOwner) {
				note(owners, schemaOwner, "schema "+where)
			}
			for _, c := range sc.Creators {
				if c = p.futureOwner(c); !a.usage(c) {
					note(owners, c, "objects in schema "+where)
				}
			}
			if !wantsDefaults {
				continue
			}
			for _, c := range d.creators(db, sc) {
				if !a.canSet(c) {
					note(creators, c, where)
				}
			}
		}
	}
	var errs []error
	for _, owner := range sortedKeys(owners) {
		errs = append(errs, fmt.Errorf("%s owned by %q: admin %q does not have the privileges of %q, so PostgreSQL would grant nothing there; fix: %s",
			strings.Join(owners[owner], ", "), owner, a.name, owner, p.actAsFix(a, owner)))
	}
	for _, c := range sortedKeys(creators) {
		errs = append(errs, fmt.Errorf("default privileges FOR ROLE %q in schema %s: admin %q cannot act as %q (SET ROLE), which ALTER DEFAULT PRIVILEGES FOR ROLE needs; fix: %s",
			c, strings.Join(creators[c], ", "), a.name, c, p.actAsFix(a, c)))
	}
	return errs
}

// actAsFix is how the admin comes to act for role: membership, unless
// role is a superuser (such as a managed service's own), which no admin
// of the service may be granted.
func (p *planner) actAsFix(a adminRights, role string) string {
	if r, ok := p.snap.Roles[role]; ok && r.Superuser {
		return fmt.Sprintf("%q is a superuser, which a non-superuser admin cannot act for: declare scopes (db.schema) that leave its objects out, or have a superuser give them to another owner", role)
	}
	return a.grantFix(role)
}

// futureOwner is who will own what owner owns once this plan is applied:
// a rolecd role of this resource stands for the drop_reassign_to role, as
// in creators.
func (p *planner) futureOwner(owner string) string {
	if r, ok := p.snap.Roles[owner]; ok && !p.keepRemoved {
		if _, own := p.ownMarker(r); own {
			if _, ok := p.snap.Roles[p.reassignTo]; ok {
				return p.reassignTo
			}
		}
	}
	return owner
}

func sortedKeys(m map[string][]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// removalGrant is the statement that gives a non-superuser admin the
// privileges of a role it removes, which ending its sessions, REASSIGN
// OWNED and DROP OWNED need: GRANT role TO admin (a CREATEROLE role may
// grant any role that is not a superuser before PostgreSQL 16, one it
// holds ADMIN OPTION on from 16 on). "" for a superuser, or when the
// admin cannot grant it (removalError says why). It depends only on what
// the apply does not change, so every re-plan of the removal is the same.
func (p *planner) removalGrant(w *renderer, role string) string {
	a := p.adminRights()
	if a.super || (p.grantedBy() && !a.holdsAdmin(role)) {
		return ""
	}
	return w.grantMembership(role, a.name, p.grantedBy())
}

// removalError says why a non-superuser admin cannot remove role, or nil.
func (p *planner) removalError(role string) error {
	a := p.adminRights()
	if a.super || !p.grantedBy() || a.holdsAdmin(role) {
		return nil
	}
	return fmt.Errorf("admin %q has neither the privileges of %q nor ADMIN OPTION on it, which removing it needs (ending its sessions, REASSIGN OWNED, DROP OWNED, DROP ROLE); fix: GRANT %s TO %s WITH ADMIN OPTION, run by a superuser or by its creator",
		a.name, role, quoteIdent(role), quoteIdent(a.name))
}

// notes say what a plan by this admin does not check: a non-superuser
// cannot read pg_authid, so a password changed outside rolecd is not seen.
func (p *planner) notes() []string {
	a := p.adminRights()
	if a.super {
		return nil
	}
	return []string{fmt.Sprintf("password drift is not checked: admin %q is not a superuser and cannot read pg_authid, so a password changed outside rolecd is not seen; password_max_age on a role rotates its password on a schedule instead", a.name)}
}

// adminHolders lists, quoted and sorted, the roles of the snapshot that
// hold ADMIN OPTION on role directly (its creator, from PostgreSQL 16 on).
func (p *planner) adminHolders(role string) []string {
	var out []string
	for name, r := range p.snap.Roles {
		for _, m := range r.MemberOf {
			if m.Role == role && m.Admin {
				out = append(out, quoteIdent(name))
				break
			}
		}
	}
	slices.Sort(out)
	return out
}
