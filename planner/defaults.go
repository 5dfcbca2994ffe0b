package planner

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/rolecd/rolecd/planner/catalog"
)

// defaultKey identifies one default ACL a role can be named in: what
// creator makes of one object kind, in one schema or database-wide.
type defaultKey struct {
	db      string
	schema  *catalog.Schema // nil: database-wide (no IN SCHEMA)
	creator string
	objects string
}

// databaseOwner owns the public schema from PostgreSQL 15 on: it stands
// for the database's owner, who is the one creating objects there.
const databaseOwner = "pg_database_owner"

// creators returns the roles whose new objects in schema s get default
// privileges for the role: the schema's owner, the owners of its
// relations and routines, and the resource's object_creators, sorted.
// Predefined pg_* roles and the role itself are left out. An owner that is
// a rolecd role of this resource stands for the drop_reassign_to role
// (unless the resource keeps removed roles): whatever it owns goes there
// when it is removed, so the plan that removes it already covers what the
// new owner will create, and the next plan is the same.
func (d *roleDiff) creators(db *catalog.Database, s *catalog.Schema) []string {
	set := map[string]bool{}
	add := func(name string) {
		if name != "" && name != d.role.Name && !strings.HasPrefix(name, "pg_") {
			set[name] = true
		}
	}
	owner := func(name string) {
		if r, ok := d.snap.Roles[name]; ok && !d.keepRemoved {
			if _, own := d.ownMarker(r); own {
				if _, ok := d.snap.Roles[d.reassignTo]; ok {
					add(d.reassignTo)
				}
				return
			}
		}
		add(name)
	}
	if s.Owner == databaseOwner {
		owner(db.Owner)
	} else {
		owner(s.Owner)
	}
	for _, c := range s.Creators {
		owner(c)
	}
	for _, c := range d.objectCreators {
		add(c)
	}
	out := make([]string, 0, len(set))
	for c := range set {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// defaultEntry is one default ACL of the role: what it holds and what it
// should hold.
type defaultEntry struct {
	key  defaultKey
	want uint8
	held acl
}

// dbDefaults are the role's default ACLs in one database, wanted or held,
// in rendering order (database-wide first, then by schema, creator and
// object kind), with the range of each schema's entries.
type dbDefaults struct {
	entries  []defaultEntry
	bySchema map[*catalog.Schema][2]int
}

// defaultEntries returns the role's default ACLs in database db, computed
// once per database.
func (d *roleDiff) defaultEntries(db *catalog.Database) *dbDefaults {
	if dd, ok := d.dflt[db.Name]; ok {
		return dd
	}
	var entries []defaultEntry
	creators := map[*catalog.Schema][]string{}
	for _, s := range sortedSchemas(db.Schemas) {
		if !d.want.schema(db, s) {
			continue
		}
		cs := d.creators(db, s)
		creators[s] = cs
		for _, c := range cs {
			for _, objects := range []string{defaultTables, defaultSequences, defaultFunctions} {
				if bits := d.want.defaults(objects); bits != 0 {
					k := defaultKey{db: db.Name, schema: s, creator: c, objects: objects}
					entries = append(entries, defaultEntry{key: k, want: bits, held: d.held.defaults[k]})
				}
			}
		}
	}
	for k, a := range d.held.defaults {
		if k.db != db.Name {
			continue
		}
		if cs, ok := creators[k.schema]; ok && k.schema != nil && d.want.defaults(k.objects) != 0 && slices.Contains(cs, k.creator) {
			continue // wanted: already listed
		}
		entries = append(entries, defaultEntry{key: k, held: a})
	}
	order := func(objects string) int { return slices.Index(defaultObjects(), objects) }
	slices.SortFunc(entries, func(a, b defaultEntry) int {
		return cmp.Or(cmpSchema(a.key.schema, b.key.schema), strings.Compare(a.key.creator, b.key.creator),
			cmp.Compare(order(a.key.objects), order(b.key.objects)))
	})
	dd := &dbDefaults{entries: entries, bySchema: make(map[*catalog.Schema][2]int, len(creators)+1)}
	for i := 0; i < len(entries); {
		j := i + 1
		for j < len(entries) && entries[j].key.schema == entries[i].key.schema {
			j++
		}
		dd.bySchema[entries[i].key.schema] = [2]int{i, j}
		i = j
	}
	if d.dflt == nil {
		d.dflt = map[string]*dbDefaults{}
	}
	d.dflt[db.Name] = dd
	return dd
}

// cmpSchema orders database-wide (nil) first, then schemas by name.
func cmpSchema(a, b *catalog.Schema) int {
	switch {
	case a == b:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	return strings.Compare(a.Name, b.Name)
}

// What an ALTER DEFAULT PRIVILEGES statement does.
type defaultAction int

const (
	defaultRevoke defaultAction = iota
	defaultRevokeGrantOption
	defaultGrant
)

// defaultGroup is one ALTER DEFAULT PRIVILEGES statement: the same change
// for several creators and schemas.
type defaultGroup struct {
	action   defaultAction
	objects  string
	bits     uint8
	wanted   bool // the schemas are in scope (for the change line's reason)
	creators []string
	schemas  []*catalog.Schema // nil entry: database-wide
}

// defaults diffs the role's default privileges in an inspected database:
// what the creators of each scope schema make grants the role the declared
// privileges (tables), USAGE and SELECT (sequences, with INSERT or UPDATE)
// and EXECUTE (functions, with functions: [EXECUTE]); every other default
// privilege naming the role is revoked. Statements cover as many creators
// and schemas as share exactly the same change.
func (d *roleDiff) defaults(db *catalog.Database) []note {
	// First the creators that need the same change in one schema, then
	// the schemas that need it from the same creators.
	type perSchema struct {
		action   defaultAction
		objects  string
		bits     uint8
		creators []string
	}
	type groupKey struct {
		action         defaultAction
		objects        string
		bits           uint8
		global, wanted bool
		creators       string
	}
	var groups []*defaultGroup
	byGroup := map[groupKey]*defaultGroup{}
	entries := d.defaultEntries(db).entries
	var rows []perSchema
	for i := 0; i < len(entries); {
		schema := entries[i].key.schema
		rows = rows[:0]
		addRow := func(e defaultEntry, action defaultAction, bits uint8) {
			if bits == 0 {
				return
			}
			for k := range rows {
				if r := &rows[k]; r.action == action && r.objects == e.key.objects && r.bits == bits {
					r.creators = append(r.creators, e.key.creator)
					return
				}
			}
			rows = append(rows, perSchema{action: action, objects: e.key.objects, bits: bits, creators: []string{e.key.creator}})
		}
		for ; i < len(entries) && entries[i].key.schema == schema; i++ {
			e := entries[i]
			addRow(e, defaultRevoke, e.held.held&^e.want)
			addRow(e, defaultRevokeGrantOption, e.want&e.held.held&e.held.grantable)
			addRow(e, defaultGrant, e.want&^e.held.held)
		}
		wanted := schema != nil && d.want.schema(db, schema)
		for _, r := range rows {
			k := groupKey{r.action, r.objects, r.bits, schema == nil, wanted, strings.Join(r.creators, "\x00")}
			g, ok := byGroup[k]
			if !ok {
				g = &defaultGroup{action: r.action, objects: r.objects, bits: r.bits, wanted: wanted, creators: r.creators}
				byGroup[k] = g
				groups = append(groups, g)
			}
			g.schemas = append(g.schemas, schema)
		}
	}
	slices.SortStableFunc(groups, func(a, b *defaultGroup) int { return cmp.Compare(a.action, b.action) })

	var notes []note
	for _, g := range groups {
		privs := names(g.bits, defaultPrivileges(g.objects))
		var schemas, where []string
		for _, s := range g.schemas {
			if s == nil {
				where = append(where, "database "+db.Name)
				continue
			}
			schemas = append(schemas, s.Name)
			where = append(where, db.Name+"."+s.Name)
		}
		line := fmt.Sprintf("%s on future %s in %s created by %s", strings.Join(privs, ", "), lower(g.objects),
			strings.Join(where, ", "), strings.Join(quoteAll(g.creators), ", "))
		ph := phaseRevokeDefaults
		switch g.action {
		case defaultGrant:
			ph = phaseGrantDefaults
			line = "grant " + line
		case defaultRevokeGrantOption:
			line = "revoke grant option for " + line
		default:
			line = "revoke " + line
			if g.wanted {
				line += ": not declared"
			} else {
				line += ": outside declared scopes"
			}
		}
		d.add(db.Name, ph, d.w.alterDefaultPrivileges(g.action, g.creators, schemas, privs, g.objects, d.role.Name))
		notes = append(notes, note{ph, onDefaultPrivileges, line})
	}
	return notes
}

// defaultsState reports whether the role holds any default privilege in
// scope schema s, and whether they are exactly the wanted ones.
func (d *roleDiff) defaultsState(db *catalog.Database, s *catalog.Schema) (held, inSync bool) {
	inSync = true
	dd := d.defaultEntries(db)
	r, ok := dd.bySchema[s]
	if !ok {
		return false, true
	}
	for _, e := range dd.entries[r[0]:r[1]] {
		held = held || e.held.held != 0
		inSync = inSync && e.held.held == e.want && e.held.grantable == 0
	}
	return held, inSync
}

func quoteAll(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = strconv.Quote(n)
	}
	return out
}
