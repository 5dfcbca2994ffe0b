package planner

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/rolecd/rolecd/planner/catalog"
	"github.com/rolecd/rolecd/planner/spec"
)

// Server versions (server_version_num) where behaviour changes.
const (
	// pg16 tracks the grantor of role memberships (REVOKE ... GRANTED BY)
	// and has the INHERIT and SET membership options.
	pg16 = 160000
	// pg17 has the MAINTAIN table privilege.
	pg17 = 170000
)

// defaultMaintenanceDB is the maintenance database when a resource names none.
const defaultMaintenanceDB = "postgres"

// Input is what PlanResource needs to plan one resource.
type Input struct {
	Resource spec.Resource
	// Roles are the resource's declared roles, validated, Name computed.
	Roles []spec.Role
	// Snapshot is the live state of the resource's cluster.
	Snapshot *catalog.Snapshot
	// PasswordResets names existing roles whose password must be set anew,
	// with the reason (e.g. no stored password, or the live verifier does
	// not match the stored one). The caller, which holds the credentials,
	// decides; the planner only renders it.
	PasswordResets map[string]string
	// Only, when set, plans just the role of that name: its plan when
	// Roles declares it, else, when the live role carries rolecd's marker
	// for this resource, its removal (whether or not the resource is
	// Complete). Apply uses it to re-plan one role of a reviewed plan.
	Only string
	// Remove names roles to plan for removal (when the live role carries
	// rolecd's marker for this resource and Roles does not declare it),
	// whether or not the resource is Complete. With Remove set, a Complete
	// resource plans the removal of these roles only: apply re-plans the
	// roles of a reviewed plan, never more.
	Remove []string
	// Database, when set, plans only the statements that run in that
	// database (the cluster-level ones too when it is the maintenance
	// database); only that database need be Inspected in Snapshot, the
	// others only listed. Apply re-plans one database at a time, inside the
	// transaction that runs its statements.
	Database string
}

// PlanResource computes the plan of every declared role of one resource
// against the Snapshot of its cluster, roles in Label order. It is pure and
// deterministic: the same input always gives the same plan and checksums.
//
// When the resource is Complete (its roles are all in Roles), roles that
// carry rolecd's marker for this resource and are not declared follow, by
// name, each planned for removal (see removal.go).
//
// It refuses to plan (the ResourcePlan then carries the error and no roles)
// when the declaration cannot be reconciled with the cluster: a scope naming
// a missing database or schema, or a database that is a template or does
// not accept connections; MAINTAIN on a server older than 17; an external
// role whose source role does not exist or is the role rolecd connects as,
// or that is, or is a member (directly or not) of, a SUPERUSER, REPLICATION
// or BYPASSRLS role or a predefined role reaching the server's files and
// programs, unless the resource lists it in allow_source_roles; a declared role named like the role rolecd connects
// as or like its own source role; an object creator or drop_reassign_to
// role that does not exist; an admin that is neither a superuser nor has
// CREATEROLE, or lacks a right the plan needs (see capabilityErrors). All
// problems are reported at once, each naming the role, scope, database or
// schema at fault.
func PlanResource(in Input) (ResourcePlan, error) {
	rp := ResourcePlan{
		Resource:            in.Resource.Name,
		MaintenanceDatabase: cmp.Or(in.Resource.Database, defaultMaintenanceDB),
		Roles:               []RolePlan{},
	}
	fail := func(err error) (ResourcePlan, error) {
		rp.Roles = []RolePlan{}
		rp.Error = err.Error()
		return rp, err
	}
	if in.Snapshot == nil {
		return fail(errors.New("no catalog snapshot"))
	}
	snap := in.Snapshot
	rp.ServerVersion = snap.ServerVersion

	roles := slices.Clone(in.Roles)
	slices.SortStableFunc(roles, func(a, b spec.Role) int { return cmp.Compare(a.Label, b.Label) })

	p := newPlanner(in.Resource, snap)
	p.resets = in.PasswordResets
	p.only = in.Database
	errs := p.validate(roles)
	names := make(map[string]bool, len(roles))
	for _, r := range roles {
		names[r.Name] = true
	}
	grants, err := indexGrants(snap, names)
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fail(errors.Join(errs...))
	}
	p.grants = grants

	for _, r := range roles {
		if in.Only != "" && r.Name != in.Only {
			continue
		}
		plan, err := p.planRole(r)
		if err != nil {
			errs = append(errs, fmt.Errorf("role %q: %w", r.Label, err))
			continue
		}
		rp.Roles = append(rp.Roles, plan)
	}
	switch {
	case len(in.Remove) > 0:
		for _, name := range in.Remove {
			if names[name] || (in.Only != "" && name != in.Only) {
				continue
			}
			removals, err := p.removals(roles, name)
			if err != nil {
				errs = append(errs, err)
			}
			rp.Roles = append(rp.Roles, removals...)
		}
	case in.Resource.Complete || (in.Only != "" && !names[in.Only]):
		removals, err := p.removals(roles, in.Only)
		if err != nil {
			errs = append(errs, err)
		}
		rp.Roles = append(rp.Roles, removals...)
	}
	if len(errs) > 0 {
		return fail(errors.Join(errs...))
	}
	rp.Notes = p.notes()
	return rp, nil
}

// planner holds what is shared by the roles of one resource.
type planner struct {
	resource string
	maint    string
	// admin is the resource's admin user; objectCreators, reassignTo and
	// keepRemoved its object_creators, drop_reassign_to and prune: false.
	admin          string
	objectCreators []string
	reassignTo     string
	keepRemoved    bool
	// allowSources holds the resource's allow_source_roles.
	allowSources spec.Resource
	snap         *catalog.Snapshot
	// dbs are the snapshot's databases sorted by name.
	dbs    []*catalog.Database
	grants map[string]*held
	resets map[string]string
	// only is Input.Database: plan just the statements of that database.
	only string
}

// targetOf is the database where the ON DATABASE statements of db run: db
// itself when rolecd works inside it, else the maintenance database. When
// planning one database, the others are not inspected but still count as
// places rolecd works in when they accept connections.
func (p *planner) targetOf(db *catalog.Database) string {
	if db.Inspected || (p.only != "" && db.AllowConn && !db.IsTemplate) {
		return db.Name
	}
	return p.maint
}

// skips reports whether db's statements are left out: another database is
// being planned alone.
func (p *planner) skips(db *catalog.Database) bool {
	return p.only != "" && p.targetOf(db) != p.only
}

// plansCluster reports whether the cluster-level statements are planned.
func (p *planner) plansCluster() bool { return p.only == "" || p.only == p.maint }

func newPlanner(res spec.Resource, snap *catalog.Snapshot) *planner {
	p := &planner{resource: res.Name, maint: cmp.Or(res.Database, defaultMaintenanceDB), snap: snap,
		admin: res.Admin.User, objectCreators: res.ObjectCreators, keepRemoved: res.KeepRemoved,
		allowSources: spec.Resource{AllowSourceRoles: res.AllowSourceRoles},
		reassignTo:   cmp.Or(res.DropReassignTo, res.Admin.User, snap.CurrentUser)}
	for i := range snap.Databases {
		p.dbs = append(p.dbs, &snap.Databases[i])
	}
	slices.SortStableFunc(p.dbs, func(a, b *catalog.Database) int { return cmp.Compare(a.Name, b.Name) })
	return p
}

// grantedBy reports whether the server tracks membership grantors.
func (p *planner) grantedBy() bool { return p.snap.ServerVersionNum >= pg16 }

// serverVersion names the server in error messages.
func (p *planner) serverVersion() string {
	if p.snap.ServerVersion != "" {
		return p.snap.ServerVersion
	}
	return strconv.Itoa(p.snap.ServerVersionNum)
}

// validate returns every reason the roles cannot be planned on this cluster.
func (p *planner) validate(roles []spec.Role) []error {
	var errs []error
	if d, ok := p.snap.Database(p.maint); !ok {
		errs = append(errs, fmt.Errorf("maintenance database %q does not exist", p.maint))
	} else if err := connectable(d); err != nil && p.plansCluster() {
		errs = append(errs, fmt.Errorf("maintenance database %q %w", p.maint, err))
	}
	for _, c := range p.objectCreators {
		if _, ok := p.snap.Roles[c]; !ok {
			errs = append(errs, fmt.Errorf("object creator %q does not exist", c))
		}
	}
	byName := make(map[string]string, len(roles))
	for _, r := range roles {
		for _, err := range p.validateRole(r) {
			errs = append(errs, fmt.Errorf("role %q: %w", r.Label, err))
		}
		if r.Name == "" {
			continue
		}
		if other, dup := byName[r.Name]; dup {
			errs = append(errs, fmt.Errorf("role %q: role name %q is also the name of role %q", r.Label, r.Name, other))
		}
		byName[r.Name] = r.Label
	}
	return append(errs, p.capabilityErrors(roles)...)
}

func (p *planner) validateRole(r spec.Role) []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if r.Resource != p.resource {
		add("declared for resource %q, not %q", r.Resource, p.resource)
	}
	switch {
	case r.Name == "":
		add("no role name")
	case r.Name == p.snap.CurrentUser:
		add("role name %q is the role rolecd connects as", r.Name)
	}
	switch roleType(r) {
	case spec.Managed:
		for _, priv := range r.Privileges {
			switch {
			case priv == spec.AllPrivileges:
			case !slices.Contains(spec.TablePrivileges(), priv):
				add("unknown privilege %q", priv)
			case priv == "MAINTAIN" && p.snap.ServerVersionNum < pg17:
				add("privilege MAINTAIN needs PostgreSQL 17 or later, the server is %s", p.serverVersion())
			}
		}
		for _, s := range r.Scopes {
			if err := p.validateScope(s); err != nil {
				add("scope %q: %w", s.String(), err)
			}
		}
	case spec.External:
		_, exists := p.snap.Roles[r.SourceRole]
		switch {
		case r.SourceRole == "":
			add("external role without a source role")
		case r.SourceRole == r.Name:
			add("role name %q is its own source role", r.Name)
		case !exists:
			add("source role %q does not exist", r.SourceRole)
		case r.SourceRole == p.snap.CurrentUser:
			add("source role %q is the role rolecd connects as", r.SourceRole)
		case !p.allowSources.AllowsSourceRole(r.SourceRole):
			// Membership would allow SET ROLE to a superuser, a
			// replication or an RLS-bypassing role.
			if why := dangerousSource(p.snap, r.SourceRole); why != "" {
				add("%s; to grant it anyway, list %q in allow_source_roles of resource %q", why, r.SourceRole, p.resource)
			}
		}
	default:
		add("unknown role type %q", r.Type)
	}
	return errs
}

func (p *planner) validateScope(s spec.Scope) error {
	d, ok := p.snap.Database(s.Database)
	if !ok {
		return fmt.Errorf("database %q does not exist", s.Database)
	}
	if p.only != "" && s.Database != p.only {
		return nil // checked when its own database is planned
	}
	if err := connectable(d); err != nil {
		return fmt.Errorf("database %q %w", s.Database, err)
	}
	if s.Schema != "" {
		if _, ok := d.Schema(s.Schema); !ok {
			return fmt.Errorf("schema %q does not exist in database %q", s.Schema, s.Database)
		}
	}
	return nil
}

// connectable says why rolecd cannot work inside d, or nil. The error text
// follows the database's name.
func connectable(d *catalog.Database) error {
	switch {
	case d.IsTemplate:
		return errors.New("is a template")
	case !d.AllowConn:
		return errors.New("does not accept connections")
	case !d.Inspected:
		return errors.New("was not inspected")
	}
	return nil
}

// held is what one role directly holds, indexed for the diff. Absent
// entries (and nil maps) mean "nothing held". Schemas are keyed by their
// address in the Snapshot, which the planner never copies.
type held struct {
	db       map[string]acl // by database name
	schema   map[*catalog.Schema]acl
	tables   map[*catalog.Schema]*tableCounts
	seqs     map[*catalog.Schema]*tableCounts
	routines map[*catalog.Schema]*tableCounts
	defaults map[defaultKey]acl
}

// indexGrants collects, in one pass over the snapshot, the direct grants
// and default privileges of the named roles. A privilege keyword rolecd
// does not know is an error: it is never pasted into SQL, and ignoring it
// would leave it in place.
func indexGrants(snap *catalog.Snapshot, names map[string]bool) (map[string]*held, error) {
	out := make(map[string]*held, len(names))
	get := func(name string) *held {
		h, ok := out[name]
		if !ok {
			h = &held{db: map[string]acl{}, schema: map[*catalog.Schema]acl{}, tables: map[*catalog.Schema]*tableCounts{},
				seqs: map[*catalog.Schema]*tableCounts{}, routines: map[*catalog.Schema]*tableCounts{}, defaults: map[defaultKey]acl{}}
			out[name] = h
		}
		return h
	}
	var errs []error
	unknown := func(db, schema, priv, grantee string) {
		where := fmt.Sprintf("database %q", db)
		if schema != "" {
			where += fmt.Sprintf(": schema %q", schema)
		}
		errs = append(errs, fmt.Errorf("%s: unknown privilege %q held by %q", where, priv, grantee))
	}
	objects := func(db string, s *catalog.Schema, kind objectKind, grants []catalog.ObjectGrant, pick func(*held) map[*catalog.Schema]*tableCounts) {
		for _, g := range grants {
			if !names[g.Grantee] {
				continue
			}
			idx := kind.index(g.Privilege)
			if idx < 0 {
				unknown(db, s.Name, g.Privilege, g.Grantee)
				continue
			}
			m := pick(get(g.Grantee))
			tc := m[s]
			if tc == nil {
				tc = new(tableCounts)
				m[s] = tc
			}
			tc[idx] = tableCount{tables: g.Objects, grantable: g.Grantable}
		}
	}
	defaults := func(db string, s *catalog.Schema, grants []catalog.DefaultGrant) {
		for _, g := range grants {
			if !names[g.Grantee] {
				continue
			}
			idx := slices.Index(defaultPrivileges(g.Objects), g.Privilege)
			if idx < 0 {
				where := ""
				if s != nil {
					where = s.Name
				}
				unknown(db, where, g.Privilege+" on "+g.Objects, g.Grantee)
				continue
			}
			h := get(g.Grantee)
			k := defaultKey{db: db, schema: s, creator: g.Creator, objects: g.Objects}
			a := h.defaults[k]
			a.add(idx, g.Grantable)
			h.defaults[k] = a
		}
	}
	for i := range snap.Databases {
		d := &snap.Databases[i]
		for _, g := range d.ACL {
			if !names[g.Grantee] {
				continue
			}
			idx := onDatabase.index(g.Privilege)
			if idx < 0 {
				unknown(d.Name, "", g.Privilege, g.Grantee)
				continue
			}
			h := get(g.Grantee)
			a := h.db[d.Name]
			a.add(idx, g.Grantable)
			h.db[d.Name] = a
		}
		if !d.Inspected {
			continue
		}
		defaults(d.Name, nil, d.DefaultGrants)
		for j := range d.Schemas {
			s := &d.Schemas[j]
			for _, g := range s.ACL {
				if !names[g.Grantee] {
					continue
				}
				idx := onSchema.index(g.Privilege)
				if idx < 0 {
					unknown(d.Name, s.Name, g.Privilege, g.Grantee)
					continue
				}
				h := get(g.Grantee)
				a := h.schema[s]
				a.add(idx, g.Grantable)
				h.schema[s] = a
			}
			objects(d.Name, s, onAllTables, s.TableGrants, func(h *held) map[*catalog.Schema]*tableCounts { return h.tables })
			objects(d.Name, s, onAllSequences, s.SequenceGrants, func(h *held) map[*catalog.Schema]*tableCounts { return h.seqs })
			objects(d.Name, s, onAllRoutines, s.RoutineGrants, func(h *held) map[*catalog.Schema]*tableCounts { return h.routines })
			defaults(d.Name, s, s.DefaultGrants)
		}
	}
	return out, errors.Join(errs...)
}
