package hub

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/rolecd/rolecd/applier/report"
	"github.com/rolecd/rolecd/planner"
	"github.com/rolecd/rolecd/planner/spec"
	"github.com/rolecd/rolecd/store"
)

// Role states, as the inventory counts them.
const (
	RoleInSync    = "in-sync"
	RolePending   = "pending-review" // an open pull request changes it
	RoleDrifted   = "drifted"        // the live role differs from the branch
	RoleFailed    = "failed"         // its last apply failed or was refused
	RoleUnchecked = "unchecked"      // no drift check has seen its resource yet
)

// Funnel stages of a resource (Hoop's provisioning funnel).
const (
	StageNeedsCredentials = "needs-credentials"
	StageReady            = "ready"
	StageProvisioned      = "provisioned"
)

// sessionRef links a session.
type sessionRef struct {
	SID    string
	Kind   store.Kind
	Status store.Status
	At     time.Time
}

func refOf(s store.Session) *sessionRef {
	return &sessionRef{SID: s.SID, Kind: s.Kind, Status: s.Status, At: s.StartedAt}
}

// health is a resource's last connection result.
type health struct {
	OK     bool
	Known  bool
	Error  string
	At     time.Time
	SID    string
	Source string // health or drift
}

// roleCounts counts a resource's roles by state.
type roleCounts struct {
	InSync, Pending, Drifted, Failed, Unchecked int
}

func (c *roleCounts) add(state string) {
	switch state {
	case RoleInSync:
		c.InSync++
	case RolePending:
		c.Pending++
	case RoleDrifted:
		c.Drifted++
	case RoleFailed:
		c.Failed++
	default:
		c.Unchecked++
	}
}

// resourceRow is one resource of the inventory.
type resourceRow struct {
	Name          string
	Endpoint      string
	AdminUser     string
	ServerVersion string
	Health        health
	Admin         AdminState
	Counts        roleCounts
	Roles         int
	LastApply     *sessionRef
	Stage         string
}

// roleRow is one role of a resource page.
type roleRow struct {
	Label, Name, Type string
	Scopes            []string
	Privileges        []string
	Functions         []string
	SourceRole        string
	State             string
	LastChange        *sessionRef
	// Credential: "stored", "none" (managed role without one), "" for an
	// external role (its password is not rolecd's).
	Credential string
}

// world is what one request knows: the branch head and the store's
// bookkeeping, read once.
type world struct {
	commit  string
	tree    *spec.Tree
	drift   map[string]store.Drift
	pending map[string]bool // "resource/role_name" changed by an open PR
	plans   map[string]*planner.Document
}

// plan is h.planDoc, read once per request.
func (w *world) plan(ctx context.Context, h *Hub, sid string) (*planner.Document, error) {
	if doc, ok := w.plans[sid]; ok {
		return doc, nil
	}
	doc, err := h.planDoc(ctx, sid)
	if err != nil {
		return nil, err
	}
	w.plans[sid] = doc
	return doc, nil
}

func (h *Hub) loadWorld(ctx context.Context) (*world, error) {
	commit, tree, err := h.opts.Inventory.Head(ctx)
	if err != nil {
		return nil, inventoryError{err}
	}
	w := &world{commit: commit, tree: tree, drift: map[string]store.Drift{}, pending: map[string]bool{}, plans: map[string]*planner.Document{}}
	list, err := h.opts.Store.ListDrift(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading drift state: %w", err)
	}
	for _, d := range list {
		w.drift[d.Resource] = d
	}
	open, err := h.opts.Store.ListPullRequests(ctx, store.PROpen)
	if err != nil {
		return nil, fmt.Errorf("reading pull requests: %w", err)
	}
	for _, pr := range open {
		doc, err := w.plan(ctx, h, pr.PlanSID)
		if err != nil || doc == nil {
			continue // not planned yet, or not touching the role files
		}
		for _, rp := range doc.Resources {
			for _, role := range rp.Roles {
				if role.CurrentState.RequiresMigration {
					w.pending[rp.Resource+"/"+role.Config.RoleName] = true
				}
			}
		}
	}
	return w, nil
}

// inventoryError is a branch head whose role files cannot be read.
type inventoryError struct{ err error }

func (e inventoryError) Error() string {
	return "reading the branch head's role files: " + e.err.Error()
}
func (e inventoryError) Unwrap() error { return e.err }

// planDoc reads the plan document of a plan or drift session (nil, nil
// when sid is empty).
func (h *Hub) planDoc(ctx context.Context, sid string) (*planner.Document, error) {
	if sid == "" {
		return nil, nil
	}
	s, err := h.opts.Store.GetSession(ctx, sid)
	if err != nil {
		return nil, err
	}
	return decodePlan(s)
}

func decodePlan(s *store.Session) (*planner.Document, error) {
	if len(s.Detail) == 0 {
		return nil, nil
	}
	var doc planner.Document
	if err := json.Unmarshal(s.Detail, &doc); err != nil {
		return nil, fmt.Errorf("decoding the plan of session %s: %w", s.SID, err)
	}
	return &doc, nil
}

// applyOutcome is the part of an apply report (report.Report) the hub
// reads: its roles' outcomes. Leaving the statements out makes a large
// report about twice as fast to decode.
type applyOutcome struct {
	Resources []struct {
		Resource string `json:"resource"`
		Roles    []struct {
			RoleName string `json:"role_name"`
			Status   string `json:"status"`
		} `json:"roles"`
	} `json:"resources"`
}

// lastChanges returns, per role name of resource, the newest apply
// session that changed it (applied, refused or failed), and whether that
// apply failed for it.
func (h *Hub) lastChanges(ctx context.Context, resource string) (map[string]*sessionRef, map[string]bool, *sessionRef, error) {
	list, err := h.opts.Store.ListSessions(ctx, store.Filter{Kind: store.KindApply, Resource: resource, Limit: 200})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("listing applies of %s: %w", resource, err)
	}
	changed, failed := map[string]*sessionRef{}, map[string]bool{}
	var last *sessionRef
	for _, s := range list {
		if last == nil {
			last = refOf(s)
		}
		var out applyOutcome
		if len(s.Detail) == 0 || json.Unmarshal(s.Detail, &out) != nil {
			continue
		}
		for _, rr := range out.Resources {
			if rr.Resource != resource {
				continue
			}
			for _, role := range rr.Roles {
				if role.Status == report.RoleSkipped || changed[role.RoleName] != nil {
					continue
				}
				changed[role.RoleName] = refOf(s)
				failed[role.RoleName] = report.NotApplied(role.Status)
			}
		}
	}
	return changed, failed, last, nil
}

// healthOf is the newer of the last health session and the last drift
// check of a resource, with the server version seen.
func (h *Hub) healthOf(ctx context.Context, w *world, resource string) (health, string, error) {
	var out health
	version := ""
	list, err := h.opts.Store.ListSessions(ctx, store.Filter{Kind: store.KindHealth, Resource: resource, Limit: 1})
	if err != nil {
		return out, "", fmt.Errorf("reading health of %s: %w", resource, err)
	}
	if len(list) == 1 {
		s := list[0]
		out = health{Known: true, OK: s.Status == store.StatusOK, Error: s.Error, At: s.StartedAt, SID: s.SID, Source: "health check"}
		var d struct {
			ServerVersion string `json:"server_version"`
		}
		if json.Unmarshal(s.Detail, &d) == nil {
			version = d.ServerVersion
		}
	}
	if d, ok := w.drift[resource]; ok && d.SID != "" {
		doc, err := w.plan(ctx, h, d.SID)
		if err != nil && !notFound(err) {
			return out, "", err
		}
		if doc != nil {
			for _, rp := range doc.Resources {
				if rp.Resource != resource {
					continue
				}
				if rp.ServerVersion != "" && (version == "" || !d.CheckedAt.Before(out.At)) {
					version = rp.ServerVersion
				}
				if !out.Known || d.CheckedAt.After(out.At) {
					out = health{Known: true, OK: rp.Error == "", Error: rp.Error, At: d.CheckedAt, SID: d.SID, Source: "drift check"}
				}
			}
		}
	}
	return out, version, nil
}

// resourceRow builds the inventory row of res, and its roles.
func (h *Hub) resourceRow(ctx context.Context, w *world, res spec.Resource) (resourceRow, []roleRow, error) {
	conn := res.Connection()
	row := resourceRow{Name: res.Name, Endpoint: conn.Endpoint(), AdminUser: conn.AdminUser}
	row.Admin = h.adminState(ctx, res.Name, conn)
	hl, version, err := h.healthOf(ctx, w, res.Name)
	if err != nil {
		return row, nil, err
	}
	row.Health, row.ServerVersion = hl, version
	changed, failed, last, err := h.lastChanges(ctx, res.Name)
	if err != nil {
		return row, nil, err
	}
	row.LastApply = last
	d, checked := w.drift[res.Name]
	var roles []roleRow
	for _, role := range w.tree.RolesFor(res.Name) {
		rr := roleRow{
			Label: role.Label, Name: role.Name, Type: string(role.Type), Privileges: role.Privileges,
			Functions: role.Functions, SourceRole: role.SourceRole, LastChange: changed[role.Name],
		}
		for _, s := range role.Scopes {
			rr.Scopes = append(rr.Scopes, s.String())
		}
		switch {
		case failed[role.Name]:
			rr.State = RoleFailed
		case checked && slices.Contains(d.Roles, role.Name):
			rr.State = RoleDrifted
		case w.pending[res.Name+"/"+role.Name]:
			rr.State = RolePending
		case checked:
			rr.State = RoleInSync
		default:
			rr.State = RoleUnchecked
		}
		if role.Type == spec.Managed {
			creds, err := h.opts.Store.Credentials(ctx, role.Name)
			switch {
			case err == nil && len(creds) > 0:
				rr.Credential = "stored"
			case err == nil || notFound(err):
				rr.Credential = "none"
			default:
				return row, nil, fmt.Errorf("reading credentials of %s: %w", role.Name, err)
			}
		}
		row.Counts.add(rr.State)
		roles = append(roles, rr)
	}
	row.Roles = len(roles)
	switch {
	case !row.Admin.Available:
		row.Stage = StageNeedsCredentials
	case row.Roles > 0 && row.Counts.InSync == row.Roles:
		row.Stage = StageProvisioned
	default:
		row.Stage = StageReady
	}
	return row, roles, nil
}

// adminState describes the admin credential's source and availability.
func (h *Hub) adminState(ctx context.Context, resource string, c spec.Connection) AdminState {
	if h.opts.Probe != nil {
		return h.opts.Probe(ctx, resource, c)
	}
	kind, arg := c.CredentialSource()
	st := AdminState{Source: kind, Name: arg}
	if kind == spec.CredentialStore {
		_, err := h.opts.Store.GetAdmin(ctx, resource)
		st.Available = err == nil
		if err != nil {
			st.Problem = "no admin credential in the store"
		}
		return st
	}
	st.Available, st.Problem = true, ""
	return st
}

// funnel counts resources by stage.
type funnel struct {
	Total, NeedsCredentials, Ready, Provisioned int
}

func funnelOf(rows []resourceRow) funnel {
	f := funnel{Total: len(rows)}
	for _, r := range rows {
		switch r.Stage {
		case StageNeedsCredentials:
			f.NeedsCredentials++
		case StageProvisioned:
			f.Provisioned++
		default:
			f.Ready++
		}
	}
	return f
}

// sortRows orders the inventory: by name, by drifted or failed roles
// first, or by the newest apply.
func sortRows(rows []resourceRow, by string) {
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		switch by {
		case "attention":
			x, y := a.Counts.Drifted+a.Counts.Failed, b.Counts.Drifted+b.Counts.Failed
			if x != y {
				return x > y
			}
		case "apply":
			ta, tb := time.Time{}, time.Time{}
			if a.LastApply != nil {
				ta = a.LastApply.At
			}
			if b.LastApply != nil {
				tb = b.LastApply.At
			}
			if !ta.Equal(tb) {
				return ta.After(tb)
			}
		}
		return a.Name < b.Name
	})
}

// driftRole is one drifted role with what would fix it.
type driftRole struct {
	Name    string
	Label   string
	Changes []string
	SQL     []dbSQL
}

// dbSQL is the statements of one database, in apply order.
type dbSQL struct {
	Database   string
	Statements []string
}

// sqlOf orders a role's SQL plan: the maintenance database first, then
// the others by name (the apply order).
func sqlOf(plan map[string][]string, maintenance string) []dbSQL {
	var out []dbSQL
	if st, ok := plan[maintenance]; ok && len(st) > 0 {
		out = append(out, dbSQL{Database: maintenance, Statements: st})
	}
	var names []string
	for db := range plan {
		if db != maintenance {
			names = append(names, db)
		}
	}
	sort.Strings(names)
	for _, db := range names {
		if len(plan[db]) > 0 {
			out = append(out, dbSQL{Database: db, Statements: plan[db]})
		}
	}
	return out
}

// joinOr renders a list, or a dash when empty.
func joinOr(list []string) string {
	if len(list) == 0 {
		return "—"
	}
	return strings.Join(list, ", ")
}
