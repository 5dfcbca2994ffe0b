package planner

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/rolecd/rolecd/planner/catalog"
	"github.com/rolecd/rolecd/planner/spec"
)

// ownMarker returns the marker of a role rolecd created for this resource,
// or false for any other role: no marker, a marker that does not parse, or
// one naming another resource.
func (p *planner) ownMarker(r catalog.Role) (markerDoc, bool) {
	body, ok := strings.CutPrefix(r.Comment, catalog.MarkerPrefix)
	if !ok {
		return markerDoc{}, false
	}
	var m markerDoc
	if err := json.Unmarshal([]byte(body), &m); err != nil || m.Resource != p.resource || m.Label == "" {
		return markerDoc{}, false
	}
	return m, true
}

// removals plans the roles rolecd created for this resource that roles
// does not declare (only that one role when only is set), by name. Never
// planned for removal: a role without the marker, a predefined pg_* role,
// the admin role, the role rolecd connects as, the drop_reassign_to role,
// and the source role of a declared role.
//
// A removal disables the login and ends the role's sessions, then in
// every database rolecd can connect to (the maintenance database first)
// reassigns what it owns to drop_reassign_to (default: the admin) and
// drops what remains (its privileges and default privileges), and last
// drops the role; ApplySteps runs that DROP ROLE after every database.
// Its SQL depends only on the role, the databases and the resource's
// settings, never on what the role holds, so the plan re-computed before
// each transaction of the apply is the reviewed one until the role is
// gone. With prune: false the role is kept: only its login is disabled
// (and its sessions ended), once.
func (p *planner) removals(declared []spec.Role, only string) ([]RolePlan, error) {
	keep := map[string]bool{p.admin: true, p.snap.CurrentUser: true, p.reassignTo: true}
	for _, r := range declared {
		keep[r.Name] = true
		if r.SourceRole != "" {
			keep[r.SourceRole] = true
		}
	}
	var out []RolePlan
	for _, name := range slices.Sorted(maps.Keys(p.snap.Roles)) {
		if (only != "" && name != only) || keep[name] || strings.HasPrefix(name, "pg_") {
			continue
		}
		live := p.snap.Roles[name]
		m, ok := p.ownMarker(live)
		if !ok {
			continue
		}
		if p.keepRemoved && !live.Login {
			continue // kept and already disabled: nothing to do
		}
		if !p.keepRemoved {
			if _, ok := p.snap.Roles[p.reassignTo]; !ok {
				return nil, fmt.Errorf("drop_reassign_to role %q does not exist (needed to remove %q)", p.reassignTo, name)
			}
		}
		if err := p.removalError(name); err != nil {
			return nil, fmt.Errorf("removing %q: %w", name, err)
		}
		plan, err := p.planRemoval(name, m)
		if err != nil {
			return nil, fmt.Errorf("removing %q: %w", name, err)
		}
		out = append(out, plan)
	}
	return out, nil
}

func (p *planner) planRemoval(name string, m markerDoc) (RolePlan, error) {
	var w renderer
	b := sqlBuilder{}
	state := State{Exists: true, Remove: true, Keep: p.keepRemoved, RequiresMigration: true}
	if p.plansCluster() {
		if grant := p.removalGrant(&w, name); grant != "" {
			b.add(p.maint, phaseCluster, plainStatement(name, grant))
		}
		b.add(p.maint, phaseCluster, w.alterRole(name, []string{"NOLOGIN"}, false))
		b.add(p.maint, phaseCluster, plainStatement(name, w.terminateSessions(name)))
	}
	if p.keepRemoved {
		state.Changes = []string{
			"no longer declared: keep the role (prune: false)",
			"disable LOGIN and terminate its sessions",
		}
	} else {
		var dbs []string
		for _, db := range p.dbsInPlanOrder() {
			if !db.Inspected || p.skips(db) {
				continue
			}
			b.add(db.Name, phaseDropOwned, plainStatement(name, w.reassignOwned(name, p.reassignTo)))
			b.add(db.Name, phaseDropOwned, plainStatement(name, w.dropOwned(name)))
			dbs = append(dbs, db.Name)
		}
		if p.plansCluster() {
			b.add(p.maint, phaseDropRole, plainStatement(name, w.dropRole(name)))
		}
		state.Changes = []string{
			"no longer declared: DROP ROLE",
			"disable LOGIN and terminate its sessions",
			fmt.Sprintf("reassign what it owns to %q, then drop its privileges, in databases %s", p.reassignTo, strings.Join(dbs, ", ")),
			"drop role, last, after every database",
		}
	}
	if w.err != nil {
		return RolePlan{}, fmt.Errorf("rendering SQL: %w", w.err)
	}
	stmts := b.statements()
	plan := sqlPlan(stmts)
	return RolePlan{
		Config:       Config{Type: cmpType(m.Type), Label: m.Label, RoleName: name},
		CurrentState: state,
		SQLPlan:      plan,
		Checksum:     Checksum(p.resource, name, plan),
		Statements:   stmts,
	}, nil
}

// cmpType is a marker's type, managed when empty.
func cmpType(t string) string {
	if t == "" {
		return string(spec.Managed)
	}
	return t
}
