package hub

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rolecd/rolecd/planner"
	"github.com/rolecd/rolecd/planner/spec"
	"github.com/rolecd/rolecd/reporter/audit"
	"github.com/rolecd/rolecd/store"
)

// inventoryData is the inventory page.
type inventoryData struct {
	Commit    string
	Funnel    funnel
	Resources []resourceRow
	Query     string
	Stage     string
	Sort      string
}

func (h *Hub) inventory(w http.ResponseWriter, r *http.Request, id *identity) ([]string, bool) {
	q := r.URL.Query()
	data := inventoryData{Query: q.Get("q"), Stage: q.Get("stage"), Sort: q.Get("sort")}
	if !validParam(data.Query) || !slices.Contains([]string{"", StageNeedsCredentials, StageReady, StageProvisioned}, data.Stage) ||
		!slices.Contains([]string{"", "name", "attention", "apply"}, data.Sort) {
		h.fail(w, r, http.StatusBadRequest, "unknown filter: q is a name fragment, stage one of needs-credentials, ready, provisioned, sort one of name, attention, apply")
		return nil, false
	}
	wd, err := h.loadWorld(r.Context())
	if err != nil {
		h.storeFailed(w, r, "reading the inventory", err)
		return nil, false
	}
	data.Commit = wd.commit
	var all []resourceRow
	for _, res := range wd.tree.Resources {
		row, _, err := h.resourceRow(r.Context(), wd, res)
		if err != nil {
			h.storeFailed(w, r, "reading the inventory", err)
			return nil, false
		}
		all = append(all, row)
	}
	data.Funnel = funnelOf(all)
	for _, row := range all {
		if data.Query != "" && !strings.Contains(strings.ToLower(row.Name), strings.ToLower(data.Query)) {
			continue
		}
		if data.Stage != "" && row.Stage != data.Stage {
			continue
		}
		data.Resources = append(data.Resources, row)
	}
	sortRows(data.Resources, data.Sort)
	h.render(w, r, http.StatusOK, "inventory", id, data)
	return nil, true
}

// resourceData is a resource page.
type resourceData struct {
	Commit  string
	Row     resourceRow
	Roles   []roleRow
	Drift   *store.Drift
	Drifted []driftRole
	CanAct  bool
	Queued  bool
}

func (h *Hub) resource(w http.ResponseWriter, r *http.Request, id *identity) ([]string, bool) {
	name := r.PathValue("name")
	wd, res, ok := h.findResource(w, r, name)
	if !ok {
		return nil, false
	}
	row, roles, err := h.resourceRow(r.Context(), wd, res)
	if err != nil {
		h.storeFailed(w, r, "reading the resource", err)
		return nil, false
	}
	data := resourceData{Commit: wd.commit, Row: row, Roles: roles, CanAct: id.CanAct(), Queued: r.URL.Query().Get("checked") == "1"}
	if d, ok := wd.drift[name]; ok {
		data.Drift = &d
		if len(d.Roles) > 0 {
			doc, err := wd.plan(r.Context(), h, d.SID)
			if err != nil && !notFound(err) {
				h.storeFailed(w, r, "reading the drift session", err)
				return nil, false
			}
			data.Drifted = driftedRoles(doc, name, d.Roles)
		}
	}
	h.render(w, r, http.StatusOK, "resource", id, data)
	return []string{name}, true
}

// findResource looks a resource of the branch head up, or answers 404.
func (h *Hub) findResource(w http.ResponseWriter, r *http.Request, name string) (*world, spec.Resource, bool) {
	if name == "" || len(name) > maxPathPart || !printable(name) {
		h.fail(w, r, http.StatusNotFound, "no such resource")
		return nil, spec.Resource{}, false
	}
	wd, err := h.loadWorld(r.Context())
	if err != nil {
		h.storeFailed(w, r, "reading the inventory", err)
		return nil, spec.Resource{}, false
	}
	res, ok := wd.tree.Resource(name)
	if !ok {
		h.fail(w, r, http.StatusNotFound, "no such resource on the branch")
		return nil, spec.Resource{}, false
	}
	return wd, res, true
}

// driftedRoles picks the drifted roles of resource from a drift plan.
func driftedRoles(doc *planner.Document, resource string, names []string) []driftRole {
	if doc == nil {
		return nil
	}
	var out []driftRole
	for _, rp := range doc.Resources {
		if rp.Resource != resource {
			continue
		}
		for _, role := range rp.Roles {
			if !role.CurrentState.RequiresMigration || !slices.Contains(names, role.Config.RoleName) {
				continue
			}
			out = append(out, driftRole{
				Name: role.Config.RoleName, Label: role.Config.Label, Changes: role.CurrentState.Changes,
				SQL: sqlOf(role.SQLPlan, rp.MaintenanceDatabase),
			})
		}
	}
	return out
}

// checkNow serves POST /hub/resources/{name}/check.
func (h *Hub) checkNow(w http.ResponseWriter, r *http.Request, id *identity) {
	name := r.PathValue("name")
	if !id.CanAct() {
		h.record(w, r, id, store.KindAction, store.StatusRefused, "check now: needs write permission", []string{name})
		h.fail(w, r, http.StatusForbidden, "checking now needs write permission on the repository; you have "+id.Perm)
		return
	}
	if _, _, ok := h.findResource(w, r, name); !ok {
		return
	}
	if h.opts.Checker == nil {
		h.fail(w, r, http.StatusServiceUnavailable, "this hub cannot queue drift checks")
		return
	}
	if !h.audit(w, r, id, "check now", []string{name}) {
		return
	}
	h.opts.Checker.CheckNow(name)
	http.Redirect(w, r, Prefix+"resources/"+url.PathEscape(name)+"?checked=1", http.StatusSeeOther)
}

// prRow is one pull request.
type prRow struct {
	store.PullRequest
	URL        string
	Label      string
	Class      string
	PlanStatus store.Status // of the plan shown (the merged tree's when there is one)
	Summary    []resourceSummary
}

// resourceSummary is what a plan does to one resource.
type resourceSummary struct {
	Resource   string
	Changes    int
	InSync     int
	Statements int
	Error      string
}

func summarize(doc *planner.Document) []resourceSummary {
	if doc == nil {
		return nil
	}
	var out []resourceSummary
	for _, rp := range doc.Resources {
		sum := rp.Summary()
		out = append(out, resourceSummary{Resource: rp.Resource, Error: rp.Error,
			Changes: sum.Changes, InSync: sum.InSync, Statements: sum.Statements})
	}
	return out
}

// prLabel says in words where a pull request is.
func prLabel(s store.PRState) (label, class string) {
	switch s {
	case store.PROpen:
		return "open: planned", "info"
	case store.PRMergedPending:
		return "merged: applying", "info"
	case store.PRApplied:
		return "merged: applied", "ok"
	case store.PRWaitingApproval:
		return "merged: plan went stale, waiting for /rolecd apply", "warn"
	case store.PRRefused:
		return "merged: refused", "bad"
	case store.PRClosed:
		return "closed", "muted"
	}
	return string(s), "muted"
}

type pullsData struct {
	Open, Merged, Closed []prRow
}

func (h *Hub) pulls(w http.ResponseWriter, r *http.Request, id *identity) ([]string, bool) {
	list, err := h.opts.Store.ListPullRequests(r.Context())
	if err != nil {
		h.storeFailed(w, r, "reading pull requests", err)
		return nil, false
	}
	var data pullsData
	for i := len(list) - 1; i >= 0; i-- { // newest first
		pr := list[i]
		row := prRow{PullRequest: pr}
		row.Label, row.Class = prLabel(pr.State)
		if h.opts.RepoURL != "" {
			row.URL = h.opts.RepoURL + "/pull/" + strconv.Itoa(pr.Number)
		}
		sid := pr.PlanSID
		if pr.MergePlanSID != "" {
			sid = pr.MergePlanSID
		}
		if sid != "" {
			s, err := h.opts.Store.GetSession(r.Context(), sid)
			switch {
			case err == nil:
				row.PlanStatus = s.Status
				if doc, err := decodePlan(s); err == nil {
					row.Summary = summarize(doc)
				}
			case !notFound(err):
				h.storeFailed(w, r, "reading a plan", err)
				return nil, false
			}
		}
		switch pr.State {
		case store.PROpen:
			data.Open = append(data.Open, row)
		case store.PRClosed:
			data.Closed = append(data.Closed, row)
		default:
			data.Merged = append(data.Merged, row)
		}
	}
	h.render(w, r, http.StatusOK, "pulls", id, data)
	return nil, true
}

// Session filter values.
var (
	sessionKinds = []store.Kind{store.KindPlan, store.KindApply, store.KindDrift, store.KindHealth,
		store.KindCredential, store.KindAudit, store.KindView, store.KindAction}
	sessionStatuses = []store.Status{store.StatusRunning, store.StatusNoChanges, store.StatusChanges,
		store.StatusApplied, store.StatusRefused, store.StatusFailed, store.StatusOK, store.StatusInterrupted}
)

// sessionsData is the audit trail page.
type sessionsData struct {
	Kinds    []store.Kind
	Statuses []store.Status
	F        sessionFilter
	Sessions []store.Session
	// Older links the next page: the same filter, until the oldest shown.
	Older string
}

// sessionFilter is the query of the sessions page, as given.
type sessionFilter struct {
	Kind, Resource, Role, Status, Actor, Since, Until string
	Limit                                             int
}

// parseSessionFilter validates the sessions page's query.
func parseSessionFilter(q url.Values) (sessionFilter, store.Filter, error) {
	f := sessionFilter{Kind: q.Get("kind"), Resource: q.Get("resource"), Role: q.Get("role"), Status: q.Get("status"),
		Actor: q.Get("actor"), Since: q.Get("since"), Until: q.Get("until"), Limit: 50}
	for _, v := range []string{f.Kind, f.Resource, f.Role, f.Status, f.Actor, f.Since, f.Until, q.Get("limit")} {
		if !validParam(v) {
			return f, store.Filter{}, fmt.Errorf("a filter value is longer than %d bytes or not printable", maxParam)
		}
	}
	sf := store.Filter{Kind: store.Kind(f.Kind), Resource: f.Resource, Role: f.Role, Status: store.Status(f.Status), Actor: f.Actor}
	if f.Kind != "" && !slices.Contains(sessionKinds, sf.Kind) {
		return f, sf, fmt.Errorf("kind: want one of %v", sessionKinds)
	}
	if f.Kind == "" {
		sf.ExcludeKinds = []store.Kind{store.KindView}
	}
	if f.Status != "" && !slices.Contains(sessionStatuses, sf.Status) {
		return f, sf, fmt.Errorf("status: want one of %v", sessionStatuses)
	}
	var err error
	if sf.Since, err = parseDate(f.Since, false); err != nil {
		return f, sf, fmt.Errorf("since: %w", err)
	}
	if sf.Until, err = parseDate(f.Until, true); err != nil {
		return f, sf, fmt.Errorf("until: %w", err)
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 500 {
			return f, sf, fmt.Errorf("limit: want a number from 1 to 500")
		}
		f.Limit = n
	}
	sf.Limit = f.Limit + 1 // one more tells whether there are more
	return f, sf, nil
}

// parseDate reads YYYY-MM-DD (UTC; an until date includes its day) or an
// RFC 3339 time.
func parseDate(s string, endOfDay bool) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		if endOfDay {
			t = t.AddDate(0, 0, 1)
		}
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("want a date (2006-01-02) or an RFC 3339 time")
	}
	return t, nil
}

func (h *Hub) sessions(w http.ResponseWriter, r *http.Request, id *identity) ([]string, bool) {
	f, sf, err := parseSessionFilter(r.URL.Query())
	if err != nil {
		h.fail(w, r, http.StatusBadRequest, err.Error())
		return nil, false
	}
	list, err := h.opts.Store.ListSessions(r.Context(), sf)
	if err != nil {
		h.storeFailed(w, r, "listing sessions", err)
		return nil, false
	}
	data := sessionsData{Kinds: sessionKinds, Statuses: sessionStatuses, F: f}
	if len(list) > f.Limit {
		list = list[:f.Limit]
		q := r.URL.Query()
		q.Set("until", list[len(list)-1].StartedAt.UTC().Format(time.RFC3339Nano))
		data.Older = Prefix + "sessions?" + q.Encode()
	}
	data.Sessions = list
	var res []string
	if f.Resource != "" {
		res = []string{f.Resource}
	}
	h.render(w, r, http.StatusOK, "sessions", id, data)
	return res, true
}

// sidPattern is what a session id may look like.
var sidPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,200}$`)

// sessionData is one session's page.
type sessionData struct {
	S          *store.Session
	Plan       *planner.Document
	Statements []statementGroup
	Detail     string // pretty JSON of a non-plan detail
	PlanOf     string // the plan session Plan comes from, when not S itself
	Duration   time.Duration
}

// statementGroup is the statements of one resource's database.
type statementGroup struct {
	Resource, Database string
	Statements         []store.Statement
}

func groupStatements(list []store.Statement) []statementGroup {
	var out []statementGroup
	for _, st := range list {
		if n := len(out); n > 0 && out[n-1].Resource == st.Resource && out[n-1].Database == st.Database {
			out[n-1].Statements = append(out[n-1].Statements, st)
			continue
		}
		out = append(out, statementGroup{Resource: st.Resource, Database: st.Database, Statements: []store.Statement{st}})
	}
	return out
}

func (h *Hub) session(w http.ResponseWriter, r *http.Request, id *identity) ([]string, bool) {
	sid := r.PathValue("sid")
	download := false
	if base, ok := strings.CutSuffix(sid, ".json"); ok {
		sid, download = base, true
	}
	if !sidPattern.MatchString(sid) {
		h.fail(w, r, http.StatusNotFound, "no such session")
		return nil, false
	}
	s, err := h.opts.Store.GetSession(r.Context(), sid)
	switch {
	case notFound(err):
		h.fail(w, r, http.StatusNotFound, "no such session")
		return nil, false
	case err != nil:
		h.storeFailed(w, r, "reading the session", err)
		return nil, false
	}
	if download {
		rec, err := audit.Record(*s)
		if err != nil {
			h.fail(w, r, http.StatusInternalServerError, "this session's record cannot be encoded")
			return nil, false
		}
		var pretty bytes.Buffer
		if json.Indent(&pretty, rec, "", "  ") != nil {
			pretty.Reset()
			pretty.Write(rec)
		}
		pretty.WriteByte('\n')
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Disposition", `attachment; filename="rolecd-session-`+sid+`.json"`)
		_, _ = w.Write(pretty.Bytes())
		return s.Resources, true
	}
	data := sessionData{S: s, Statements: groupStatements(s.Statements)}
	if !s.FinishedAt.IsZero() {
		data.Duration = s.FinishedAt.Sub(s.StartedAt)
	}
	switch {
	case s.Kind == store.KindPlan || s.Kind == store.KindDrift:
		if doc, err := decodePlan(s); err == nil {
			data.Plan = doc
		}
	case s.PlanSID != "":
		// An apply: the config and current_state are its plan's.
		doc, err := h.planDoc(r.Context(), s.PlanSID)
		if err != nil && !notFound(err) {
			h.storeFailed(w, r, "reading the applied plan", err)
			return nil, false
		}
		if doc != nil {
			data.Plan, data.PlanOf = doc, s.PlanSID
		}
	}
	if (data.Plan == nil || data.PlanOf != "") && len(s.Detail) > 0 {
		var pretty bytes.Buffer
		if json.Indent(&pretty, s.Detail, "", "  ") == nil {
			data.Detail = pretty.String()
		}
	}
	h.render(w, r, http.StatusOK, "session", id, data)
	return s.Resources, true
}
