package planner

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/rolecd/rolecd/planner/catalog"
	"github.com/rolecd/rolecd/planner/spec"
)

// phase orders the statements of one database's list.
type phase int

const (
	phaseCluster        phase = iota // CREATE/ALTER ROLE, COMMENT, settings, membership REVOKEs, membership GRANT
	phaseRevokeDefaults              // ALTER DEFAULT PRIVILEGES ... REVOKE
	phaseRevokeTables                // REVOKE ... ON ALL TABLES / SEQUENCES / ROUTINES IN SCHEMA
	phaseRevokeGrantOption
	phaseRevokeSchemas
	phaseRevokeDatabase
	phaseGrantConnect
	phaseGrantSchemas
	phaseGrantTables   // GRANT ... ON ALL TABLES / SEQUENCES / ROUTINES IN SCHEMA
	phaseGrantDefaults // ALTER DEFAULT PRIVILEGES ... GRANT
	phaseDropOwned     // removal: REASSIGN OWNED, DROP OWNED
	phaseDropRole      // removal: DROP ROLE, last of the maintenance database
	numPhases
)

// sqlBuilder collects statements per database and phase.
type sqlBuilder map[string]*[numPhases][]Statement

func (b sqlBuilder) add(db string, ph phase, stmt Statement) {
	lists, ok := b[db]
	if !ok {
		lists = new([numPhases][]Statement)
		b[db] = lists
	}
	stmt.Phase = int(ph)
	lists[ph] = append(lists[ph], stmt)
}

// statements flattens the builder into each database's ordered
// statements: never nil, no empty list.
func (b sqlBuilder) statements() map[string][]Statement {
	out := make(map[string][]Statement, len(b))
	for db, lists := range b {
		var stmts []Statement
		for _, l := range lists {
			stmts = append(stmts, l...)
		}
		if len(stmts) > 0 {
			out[db] = stmts
		}
	}
	return out
}

// sqlPlan is the sql_plan of structured statements.
func sqlPlan(stmts map[string][]Statement) map[string][]string {
	out := make(map[string][]string, len(stmts))
	for db, l := range stmts {
		out[db] = SQLs(l)
	}
	return out
}

// roleAttribute is one boolean role attribute: its live and desired value.
type roleAttribute struct {
	name       string
	live, want bool
}

func (a roleAttribute) word(on bool) string {
	if on {
		return a.name
	}
	return "NO" + a.name
}

func roleAttributes(l catalog.Role) []roleAttribute {
	return []roleAttribute{
		{"LOGIN", l.Login, true},
		{"SUPERUSER", l.Superuser, false},
		{"CREATEDB", l.CreateDB, false},
		{"CREATEROLE", l.CreateRole, false},
		{"REPLICATION", l.Replication, false},
		{"BYPASSRLS", l.BypassRLS, false},
		{"INHERIT", l.Inherit, true},
	}
}

// desired is what a role must hold directly.
type desired struct {
	// dbs get CONNECT.
	dbs map[string]bool
	// allSchemas are the databases named by a "db" scope: every schema in
	// them is wanted.
	allSchemas map[string]bool
	// schemas are those named by "db.schema" scopes.
	schemas map[*catalog.Schema]bool
	// privs are the table privileges, indexed like spec.TablePrivileges();
	// seqPrivs and routinePrivs those on sequences and routines, indexed
	// like their kind's privileges.
	privs, seqPrivs, routinePrivs [maxTablePrivileges]bool
}

// on returns the privileges wanted on every object of kind k in a scope
// schema.
func (w *desired) on(k objectKind) [maxTablePrivileges]bool {
	switch k {
	case onAllSequences:
		return w.seqPrivs
	case onAllRoutines:
		return w.routinePrivs
	}
	return w.privs
}

// defaults returns the default privileges wanted for what a creator makes
// in a scope schema, as acl bits over defaultPrivileges(objects).
func (w *desired) defaults(objects string) uint8 {
	var privs [maxTablePrivileges]bool
	switch objects {
	case defaultTables:
		privs = w.privs
	case defaultSequences:
		privs = w.seqPrivs
	case defaultFunctions:
		privs = w.routinePrivs
	}
	var bits uint8
	for i, ok := range privs {
		if ok {
			bits |= 1 << i
		}
	}
	return bits
}

// schema reports whether s, in db, is in a declared scope: USAGE on it and
// the declared privileges on its relations are wanted.
func (w *desired) schema(db *catalog.Database, s *catalog.Schema) bool {
	return w.allSchemas[db.Name] || w.schemas[s]
}

// roleDiff plans one role.
type roleDiff struct {
	*planner
	w       renderer
	sql     sqlBuilder
	role    spec.Role
	live    catalog.Role
	exists  bool
	held    *held
	want    desired
	changes []string
	// emitted counts statements, to tell whether a database got any.
	emitted int
	// dflt caches the role's default ACLs per database.
	dflt map[string]*dbDefaults
}

func (p *planner) planRole(r spec.Role) (RolePlan, error) {
	live, exists := p.snap.Roles[r.Name]
	h := p.grants[r.Name]
	if h == nil {
		h = &held{} // holds nothing: nil maps read as empty
	}
	d := &roleDiff{
		planner: p,
		sql:     sqlBuilder{},
		role:    r,
		live:    live,
		exists:  exists,
		held:    h,
		want:    p.desiredFor(r),
	}
	state := State{
		Exists: exists,
		Adopt:  exists && !strings.HasPrefix(live.Comment, catalog.MarkerPrefix),
	}
	if p.plansCluster() {
		d.roleAndComment(state.Adopt)
		d.memberships()
	}
	for _, db := range p.dbsInPlanOrder() {
		if !p.skips(db) {
			d.database(db)
		}
	}
	if roleType(r) == spec.Managed {
		for _, s := range r.Scopes {
			state.Scopes = append(state.Scopes, d.scopeState(s))
		}
	}
	if d.w.err != nil {
		return RolePlan{}, fmt.Errorf("rendering SQL: %w", d.w.err)
	}
	stmts := d.sql.statements()
	plan := sqlPlan(stmts)
	state.RequiresMigration = len(plan) > 0
	state.Changes = d.changes
	return RolePlan{
		Config:             ConfigOf(r),
		CurrentState:       state,
		SQLPlan:            plan,
		Checksum:           Checksum(p.resource, r.Name, plan),
		PasswordStatements: passwordIndexes(stmts),
		Statements:         stmts,
	}, nil
}

// dbsInPlanOrder lists the databases maintenance database first, then by
// name: the order of OrderedDatabases, used for change lines.
func (p *planner) dbsInPlanOrder() []*catalog.Database {
	out := make([]*catalog.Database, 0, len(p.dbs))
	for _, db := range p.dbs {
		if db.Name == p.maint {
			out = append(out, db)
		}
	}
	for _, db := range p.dbs {
		if db.Name != p.maint {
			out = append(out, db)
		}
	}
	return out
}

// desiredFor computes what r must hold. External roles hold nothing
// directly: their access comes from the source role.
func (p *planner) desiredFor(r spec.Role) desired {
	want := desired{dbs: map[string]bool{}, allSchemas: map[string]bool{}, schemas: map[*catalog.Schema]bool{}}
	if roleType(r) != spec.Managed {
		return want
	}
	for _, priv := range r.Privileges {
		if priv != spec.AllPrivileges {
			if i := onAllTables.index(priv); i >= 0 {
				want.privs[i] = true
			}
			continue
		}
		// ALL is what the server has: MAINTAIN from 17 on.
		for i, tp := range tablePrivileges() {
			if tp != "MAINTAIN" || p.snap.ServerVersionNum >= pg17 {
				want.privs[i] = true
			}
		}
	}
	// Inserting into a serial or identity column takes nextval(): USAGE
	// (and SELECT, for currval) on the scope's sequences.
	if want.privs[onAllTables.index("INSERT")] || want.privs[onAllTables.index("UPDATE")] {
		want.seqPrivs[onAllSequences.index("USAGE")] = true
		want.seqPrivs[onAllSequences.index("SELECT")] = true
	}
	if slices.Contains(r.Functions, spec.ExecutePrivilege) {
		want.routinePrivs[onAllRoutines.index(spec.ExecutePrivilege)] = true
	}
	for _, s := range r.Scopes {
		db, ok := p.snap.Database(s.Database)
		if !ok {
			continue // refused by validate
		}
		want.dbs[db.Name] = true
		if s.Schema == "" {
			want.allSchemas[db.Name] = true
			continue
		}
		if sc, ok := db.Schema(s.Schema); ok {
			want.schemas[sc] = true
		}
	}
	return want
}

// scopeSchemas returns the schemas a scope covers: all user schemas of the
// database, or the one it names.
func scopeSchemas(db *catalog.Database, s spec.Scope) []*catalog.Schema {
	if s.Schema == "" {
		return schemaPointers(db.Schemas)
	}
	if sc, ok := db.Schema(s.Schema); ok {
		return []*catalog.Schema{sc}
	}
	return nil
}

// add files a rendered statement under a database and phase.
func (d *roleDiff) add(db string, ph phase, stmt Statement) {
	d.sql.add(db, ph, stmt)
	d.emitted++
}

// roleAndComment creates the role, or reverts its attribute drift, sets
// the ownership marker and reconciles the role's settings.
func (d *roleDiff) roleAndComment(adopt bool) {
	name, marker := d.role.Name, Marker(d.role)
	if !d.exists {
		d.add(d.maint, phaseCluster, d.w.createRole(name, d.role.Limit(), d.role.ValidUntil))
		d.add(d.maint, phaseCluster, plainStatement(name, d.w.commentOnRole(name, marker)))
		d.changes = append(d.changes, "create role")
		d.settings()
		return
	}
	var set []string
	for _, a := range roleAttributes(d.live) {
		if a.live != a.want {
			set = append(set, a.word(a.want))
			d.changes = append(d.changes, "revert "+a.word(a.live))
		}
	}
	if limit := d.role.Limit(); d.live.ConnLimit != limit {
		set = append(set, fmt.Sprintf("CONNECTION LIMIT %d", limit))
		if limit == -1 {
			d.changes = append(d.changes, fmt.Sprintf("revert CONNECTION LIMIT %d", d.live.ConnLimit))
		} else {
			d.changes = append(d.changes, fmt.Sprintf("set CONNECTION LIMIT %d (was %d)", limit, d.live.ConnLimit))
		}
	}
	if want := d.role.ValidUntil; d.live.ValidUntil != want {
		switch {
		case want == "":
			set = append(set, "VALID UNTIL "+d.w.literal("infinity"))
			d.changes = append(d.changes, fmt.Sprintf("revert VALID UNTIL %s: the password does not expire", d.live.ValidUntil))
		case d.live.ValidUntil == "":
			set = append(set, "VALID UNTIL "+d.w.literal(want))
			d.changes = append(d.changes, "set VALID UNTIL "+want)
		default:
			set = append(set, "VALID UNTIL "+d.w.literal(want))
			d.changes = append(d.changes, fmt.Sprintf("set VALID UNTIL %s (was %s)", want, d.live.ValidUntil))
		}
	}
	reason, reset := d.resets[name]
	switch {
	case d.role.RotatePassword:
		d.changes = append(d.changes, "rotate password")
	case reset:
		d.changes = append(d.changes, "reset password: "+reason)
	}
	if password := d.role.RotatePassword || reset; len(set) > 0 || password {
		d.add(d.maint, phaseCluster, d.w.alterRole(name, set, password))
	}
	if d.live.Comment != marker {
		d.add(d.maint, phaseCluster, plainStatement(name, d.w.commentOnRole(name, marker)))
		if adopt {
			d.changes = append(d.changes, "adopt existing role without rolecd marker")
		} else {
			d.changes = append(d.changes, "update rolecd marker")
		}
	}
	d.settings()
}

// memberships makes a managed role a member of nothing and an external role
// a member of exactly its source role, with INHERIT and SET and without
// ADMIN. On PostgreSQL 16 and later one role can be granted several times
// (once per grantor): each grant is revoked GRANTED BY its grantor, and the
// source role needs one grant with INHERIT and SET; weaker extra grants of
// the source role add nothing and are left alone.
func (d *roleDiff) memberships() {
	source := ""
	if roleType(d.role) == spec.External {
		source = d.role.SourceRole
	}
	ms := slices.Clone(d.live.MemberOf)
	slices.SortStableFunc(ms, func(a, b catalog.Membership) int {
		return cmpStrings(a.Role, b.Role, a.Grantor, b.Grantor)
	})
	var revokes []string
	member, usable := false, false
	for _, m := range ms {
		if m.Role != source {
			revokes = append(revokes, d.w.revokeMembership(m.Role, d.role.Name, m.Grantor, false, d.grantedBy()))
			d.changes = append(d.changes, "revoke membership in "+d.membershipName(m))
			continue
		}
		member = true
		if m.Admin {
			revokes = append(revokes, d.w.revokeMembership(m.Role, d.role.Name, m.Grantor, true, d.grantedBy()))
			d.changes = append(d.changes, "revoke ADMIN OPTION on membership in "+d.membershipName(m))
		}
		if m.Inherit && m.Set {
			usable = true
		}
	}
	for _, s := range revokes {
		d.add(d.maint, phaseCluster, plainStatement(d.role.Name, s))
	}
	if source == "" || usable {
		return
	}
	d.add(d.maint, phaseCluster, plainStatement(d.role.Name, d.w.grantMembership(source, d.role.Name, d.grantedBy())))
	if member {
		d.changes = append(d.changes, fmt.Sprintf("set INHERIT TRUE, SET TRUE on membership in %q", source))
	} else {
		d.changes = append(d.changes, fmt.Sprintf("grant membership in %q", source))
	}
}

// membershipName names a membership in change lines: the role, and from
// PostgreSQL 16 on, where one role can be granted once per grantor, who
// granted it.
func (d *roleDiff) membershipName(m catalog.Membership) string {
	if d.grantedBy() && m.Grantor != "" {
		return fmt.Sprintf("%q granted by %q", m.Role, m.Grantor)
	}
	return strconv.Quote(m.Role)
}

func cmpStrings(a1, b1, a2, b2 string) int {
	if c := strings.Compare(a1, b1); c != 0 {
		return c
	}
	return strings.Compare(a2, b2)
}

// note is a change line waiting to be ordered like the statements: by
// phase, then by object kind.
type note struct {
	ph   phase
	kind objectKind
	line string
}

// database diffs the direct privileges of the role in one database: on the
// database itself, and, when it was inspected, on its schemas and their
// table-like relations. Everything held and not desired is revoked, in
// every database of the cluster, declared or not.
//
// Table privileges are granted and revoked schema-wide (ON ALL TABLES IN
// SCHEMA): per-table statements would only be needed where ON ALL TABLES
// over-grants, and with schema-wide scopes it never does.
func (d *roleDiff) database(db *catalog.Database) {
	inScope := d.want.dbs[db.Name]
	reason := "outside declared scopes"
	if roleType(d.role) != spec.Managed {
		reason = "external roles hold no direct privileges"
	}
	// When rolecd cannot connect to db, only its ACL is known: ON DATABASE
	// statements work from any database of the cluster.
	target := d.targetOf(db)
	before := d.emitted
	var notes []note
	if db.Inspected {
		notes = d.defaults(db)
		notes = append(notes, d.schemas(db)...)
	}
	notef := func(ph phase, format string, args ...any) {
		notes = append(notes, note{ph, onDatabase, fmt.Sprintf(format, args...)})
	}
	role := d.role.Name

	// The database itself, after its schemas: within a phase, statements
	// and change lines go from the narrowest object to the widest.
	acl := d.held.db[db.Name]
	var revoke []string
	for i, p := range databasePrivileges() {
		ok, grantable := acl.has(i)
		switch {
		case !ok:
		case i == connectIndex && inScope:
			if grantable {
				d.add(target, phaseRevokeGrantOption, d.w.revokeGrantOption(onDatabase, []string{p}, []string{db.Name}, role))
				notef(phaseRevokeGrantOption, "revoke grant option for CONNECT on database %s", db.Name)
			}
		default:
			revoke = append(revoke, p)
		}
	}
	if len(revoke) > 0 {
		d.add(target, phaseRevokeDatabase, d.w.revoke(onDatabase, revoke, []string{db.Name}, role))
		notef(phaseRevokeDatabase, "revoke %s on database %s: not declared", strings.Join(revoke, ", "), db.Name)
	}
	if connect, _ := acl.has(connectIndex); inScope && !connect {
		d.add(target, phaseGrantConnect, d.w.grant(onDatabase, []string{"CONNECT"}, []string{db.Name}, role))
		notef(phaseGrantConnect, "grant CONNECT on database %s", db.Name)
	}

	switch {
	case d.emitted == before:
	case !inScope:
		// One line instead of the detail: nothing of this database is wanted.
		d.changes = append(d.changes, fmt.Sprintf("revoke all privileges in db %s: %s", db.Name, reason))
	default:
		slices.SortStableFunc(notes, func(a, b note) int {
			if a.ph != b.ph {
				return int(a.ph - b.ph)
			}
			return a.kind.rank() - b.kind.rank() // objects, then schemas, then the database
		})
		for _, n := range notes {
			d.changes = append(d.changes, n.line)
		}
	}
}

// schemaObjects are the kinds of schema objects rolecd grants schema-wide
// (ON ALL ... IN SCHEMA), in rendering order.
func schemaObjects() []objectKind { return []objectKind{onAllTables, onAllSequences, onAllRoutines} }

// objectCount is the number of objects of kind k in s.
func objectCount(s *catalog.Schema, k objectKind) int {
	switch k {
	case onAllSequences:
		return s.Sequences
	case onAllRoutines:
		return s.Routines
	}
	return s.Tables
}

// schemas diffs schema privileges and the privileges on the schemas'
// tables, sequences and routines in an inspected database and returns the
// change lines.
func (d *roleDiff) schemas(db *catalog.Database) []note {
	var (
		notes                                    []note
		grantUsage, revokeSchema, schemaGrantOpt schemaGroups
		grantObjs, revokeObjs, objGrantOpt       [onAllRoutines + 1]schemaGroups
	)
	noteCounts := func(ph phase, kind objectKind, verb string, counts []privCount, where, suffix string) {
		for _, g := range groupCounts(counts) {
			notes = append(notes, note{ph, kind, fmt.Sprintf("%s %s on %d %s in %s%s",
				verb, strings.Join(g.privs, ", "), g.n, kind.noun(), where, suffix)})
		}
	}
	for _, s := range sortedSchemas(db.Schemas) {
		wanted := d.want.schema(db, s)
		where := db.Name + "." + s.Name
		reason := ": outside declared scopes"
		if wanted {
			reason = ": not declared"
		}

		var grant, revoke, grantOpt []string
		acl := d.held.schema[s]
		for i, p := range schemaPrivileges() {
			ok, grantable := acl.has(i)
			want := wanted && i == usageIndex
			switch {
			case want && !ok:
				grant = append(grant, p)
			case want && grantable:
				grantOpt = append(grantOpt, p)
			case !want && ok:
				revoke = append(revoke, p)
			}
		}
		grantUsage.add(s.Name, grant)
		revokeSchema.add(s.Name, revoke)
		schemaGrantOpt.add(s.Name, grantOpt)
		if len(grant) > 0 {
			notes = append(notes, note{phaseGrantSchemas, onSchema, "grant USAGE on schema " + where})
		}
		if len(revoke) > 0 {
			notes = append(notes, note{phaseRevokeSchemas, onSchema, "revoke " + strings.Join(revoke, ", ") + " on schema " + where + reason})
		}
		if len(grantOpt) > 0 {
			notes = append(notes, note{phaseRevokeGrantOption, onSchema, "revoke grant option for USAGE on schema " + where})
		}

		for _, kind := range schemaObjects() {
			var tGrant, tRevoke, tGrantOpt []string
			var cGrant, cRevoke, cGrantOpt []privCount
			wantPrivs := d.want.on(kind)
			objects := objectCount(s, kind)
			for i, h := range d.held.counts(kind, s) {
				want := wanted && wantPrivs[i]
				if !want && h.tables == 0 {
					continue
				}
				p := kind.privileges()[i]
				switch {
				case want && h.tables < objects:
					tGrant = append(tGrant, p)
					cGrant = append(cGrant, privCount{p, objects - h.tables})
				case !want && h.tables > 0:
					tRevoke = append(tRevoke, p)
					cRevoke = append(cRevoke, privCount{p, h.tables})
				}
				if want && h.grantable > 0 {
					tGrantOpt = append(tGrantOpt, p)
					cGrantOpt = append(cGrantOpt, privCount{p, h.grantable})
				}
			}
			grantObjs[kind].add(s.Name, tGrant)
			revokeObjs[kind].add(s.Name, tRevoke)
			objGrantOpt[kind].add(s.Name, tGrantOpt)
			noteCounts(phaseGrantTables, kind, "grant", cGrant, where, "")
			noteCounts(phaseRevokeTables, kind, "revoke", cRevoke, where, reason)
			noteCounts(phaseRevokeGrantOption, kind, "revoke grant option for", cGrantOpt, where, "")
		}
	}

	emit := func(ph phase, groups schemaGroups, render func(objectKind, []string, []string, string) Statement, kind objectKind) {
		for _, g := range groups.list {
			d.add(db.Name, ph, render(kind, g.privs, g.schemas, d.role.Name))
		}
	}
	for _, kind := range schemaObjects() {
		emit(phaseRevokeTables, revokeObjs[kind], d.w.revoke, kind)
	}
	for _, kind := range schemaObjects() {
		emit(phaseRevokeGrantOption, objGrantOpt[kind], d.w.revokeGrantOption, kind)
	}
	emit(phaseRevokeGrantOption, schemaGrantOpt, d.w.revokeGrantOption, onSchema)
	emit(phaseRevokeSchemas, revokeSchema, d.w.revoke, onSchema)
	emit(phaseGrantSchemas, grantUsage, d.w.grant, onSchema)
	for _, kind := range schemaObjects() {
		emit(phaseGrantTables, grantObjs[kind], d.w.grant, kind)
	}
	return notes
}

// sortedSchemas returns pointers to schemas, sorted by name (the Snapshot
// contract, which is not relied upon).
func sortedSchemas(s []catalog.Schema) []*catalog.Schema {
	out := schemaPointers(s)
	slices.SortStableFunc(out, func(a, b *catalog.Schema) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func schemaPointers(s []catalog.Schema) []*catalog.Schema {
	out := make([]*catalog.Schema, len(s))
	for i := range s {
		out[i] = &s[i]
	}
	return out
}

// counts returns the role's privilege counts on the objects of kind k in
// schema s.
func (h *held) counts(k objectKind, s *catalog.Schema) tableCounts {
	m := h.tables
	switch k {
	case onAllSequences:
		m = h.seqs
	case onAllRoutines:
		m = h.routines
	}
	if tc := m[s]; tc != nil {
		return *tc
	}
	return tableCounts{}
}

// schemaGroups gathers the schemas that need exactly the same privilege set,
// so that one statement covers them all. Schemas are added in name order:
// each group's schemas are sorted, and groups are ordered by their first
// schema.
type schemaGroups struct {
	list  []*schemaGroup
	byKey map[string]*schemaGroup
}

type schemaGroup struct {
	privs, schemas []string
}

func (g *schemaGroups) add(schema string, privs []string) {
	if len(privs) == 0 {
		return
	}
	key := strings.Join(privs, ",")
	grp, ok := g.byKey[key]
	if !ok {
		if g.byKey == nil {
			g.byKey = map[string]*schemaGroup{}
		}
		grp = &schemaGroup{privs: privs}
		g.byKey[key] = grp
		g.list = append(g.list, grp)
	}
	grp.schemas = append(grp.schemas, schema)
}

// privCount is a privilege and the number of relations a change touches.
type privCount struct {
	priv string
	n    int
}

type countGroup struct {
	privs []string
	n     int
}

// groupCounts merges privileges touching the same number of relations, for
// one change line each, in order of their first privilege.
func groupCounts(cs []privCount) []countGroup {
	var out []countGroup
	for _, c := range cs {
		i := slices.IndexFunc(out, func(g countGroup) bool { return g.n == c.n })
		if i < 0 {
			out = append(out, countGroup{n: c.n})
			i = len(out) - 1
		}
		out[i].privs = append(out[i].privs, c.priv)
	}
	return out
}

// scopeState reports one declared scope: its relation count and whether the
// role holds what the scope grants (CONNECT, USAGE on each schema, the
// declared privileges on every relation) and nothing more in it.
func (d *roleDiff) scopeState(s spec.Scope) ScopeState {
	st := ScopeState{Scope: s.String(), Status: StatusUnprovisioned}
	db, ok := d.snap.Database(s.Database)
	if !ok {
		return st
	}
	schemas := scopeSchemas(db, s)
	for _, sc := range schemas {
		st.Tables += sc.Tables
	}
	if !d.exists {
		return st
	}
	dbACL := d.held.db[db.Name]
	holds, connectGrantable := dbACL.has(connectIndex)
	inSync := holds && !connectGrantable && dbACL.count() == 1
	for _, sc := range schemas {
		sACL := d.held.schema[sc]
		usage, usageGrantable := sACL.has(usageIndex)
		holds = holds || usage
		inSync = inSync && usage && !usageGrantable && sACL.count() == 1
		for _, kind := range schemaObjects() {
			wantPrivs := d.want.on(kind)
			for i, h := range d.held.counts(kind, sc) {
				if wantPrivs[i] {
					holds = holds || h.tables > 0
					inSync = inSync && h.tables >= objectCount(sc, kind) && h.grantable == 0
				} else {
					inSync = inSync && h.tables == 0
				}
			}
		}
		defaultsHeld, defaultsInSync := d.defaultsState(db, sc)
		holds = holds || defaultsHeld
		inSync = inSync && defaultsInSync
	}
	switch {
	case !holds:
	case inSync:
		st.Status = StatusInSync
	default:
		st.Status = StatusOutOfSync
	}
	return st
}
