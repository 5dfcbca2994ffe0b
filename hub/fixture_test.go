package hub_test

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rolecd/rolecd/hub"
	"github.com/rolecd/rolecd/planner"
	"github.com/rolecd/rolecd/planner/spec"
	"github.com/rolecd/rolecd/store"
)

// t0 is the fixture's "now".
var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// testKey is the fixture's cookie key (32 bytes).
var testKey = []byte("0123456789abcdef0123456789abcdef")

// hubStore is the SQLite store seen as sessions and bookkeeping.
type hubStore struct {
	store.Store
	store.Bookkeeping
}

// checks records the resources "check now" was asked for.
type checks struct {
	mu   sync.Mutex
	list []string
}

func (c *checks) CheckNow(resource string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.list = append(c.list, resource)
}

func (c *checks) got() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.list...)
}

// fixture is a hub over a real SQLite store holding fixed sessions, pull
// requests and drift, and the role files of testdata/roles.
type fixture struct {
	t      testing.TB
	store  hubStore
	tree   *spec.Tree
	checks *checks
	hub    *hub.Hub
	h      http.Handler
}

func loadTree(t testing.TB) *spec.Tree {
	t.Helper()
	tree, err := spec.Load(os.DirFS("testdata/roles"), spec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

func roleName(t testing.TB, resource, label string) string {
	t.Helper()
	n, err := spec.RoleName(spec.DefaultPrefix, resource, label)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func openStore(t testing.TB) hubStore {
	t.Helper()
	st, err := store.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "rolecd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	bk, ok := store.AsBookkeeping(st)
	if !ok {
		t.Fatal("no bookkeeping")
	}
	return hubStore{st, bk}
}

// probe is the fixture's credential probe: env variables are set, the
// reporting password file is missing, the store has what it has.
func probe(st hubStore) hub.CredentialProbe {
	return func(ctx context.Context, resource string, c spec.Connection) hub.AdminState {
		kind, arg := c.CredentialSource()
		s := hub.AdminState{Source: kind, Name: arg, Available: true}
		switch kind {
		case spec.CredentialFile:
			s.Available, s.Problem = false, "the file does not exist"
		case spec.CredentialStore:
			if _, err := st.GetAdmin(ctx, resource); err != nil {
				s.Available, s.Problem = false, "no admin credential in the store"
			}
		}
		return s
	}
}

func newFixture(t testing.TB, mod func(*hub.Options)) *fixture {
	t.Helper()
	f := &fixture{t: t, store: openStore(t), tree: loadTree(t), checks: &checks{}}
	f.seed()
	opts := hub.Options{
		Store: f.store, Inventory: hub.StaticInventory{Commit: "4f2a9c0d1e2b3a4c5d6e7f8091a2b3c4d5e6f708", Tree: f.tree},
		Checker: f.checks, Probe: probe(f.store),
		Proxy: &hub.ProxyAuth{Header: "X-Forwarded-User", From: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, Permission: "write"},
		Key:   testKey, RepoURL: "https://github.com/acme/db-roles",
		Now: func() time.Time { return t0 },
	}
	if mod != nil {
		mod(&opts)
	}
	h, err := hub.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	f.hub, f.h = h, h.Handler()
	return f
}

// do serves one request as user ("" = anonymous) from 127.0.0.1.
func (f *fixture) do(method, target, user string, body io.Reader) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, body)
	req.RemoteAddr = "127.0.0.1:40000"
	if user != "" {
		req.Header.Set("X-Forwarded-User", user)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	return rec
}

func (f *fixture) create(s store.Session) {
	f.t.Helper()
	if err := f.store.CreateSession(context.Background(), &s); err != nil {
		f.t.Fatal(err)
	}
}

func mustJSON(t testing.TB, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rolePlan is a planned role of the fixture.
func rolePlan(name, label string, change bool, sql map[string][]string) planner.RolePlan {
	rp := planner.RolePlan{
		Config:       planner.Config{Type: "managed", Label: label, RoleName: name, Privileges: []string{"SELECT"}},
		CurrentState: planner.State{Exists: true, RequiresMigration: change},
		SQLPlan:      map[string][]string{}, Checksum: strings.Repeat("c", 8) + name[len(name)-8:],
	}
	if change {
		rp.SQLPlan = sql
		rp.CurrentState.Changes = []string{"revoke INSERT outside declared privileges on billing.public"}
	}
	return rp
}

// seed stores the fixture's world.
func (f *fixture) seed() {
	t, ctx := f.t, context.Background()
	ro, rw, bi := roleName(t, "analytics", "ro"), roleName(t, "analytics", "rw"), roleName(t, "analytics", "bi")
	app, auditor := roleName(t, "billing", "app"), roleName(t, "billing", "auditor")
	fix := map[string][]string{"billing": {`REVOKE INSERT ON TABLE public.invoices FROM "` + app + `"`}}

	f.create(store.Session{SID: "health-analytics", Kind: store.KindHealth, Status: store.StatusOK, Actor: "ops@laptop",
		Resources: []string{"analytics"}, Detail: mustJSON(t, map[string]string{"resource": "analytics", "status": "ok", "server_version": "17.2"}),
		StartedAt: t0.Add(-3 * time.Hour), FinishedAt: t0.Add(-3 * time.Hour)})

	drift := &planner.Document{Version: 1, SID: "drift-1", CreatedAt: t0.Add(-10 * time.Minute), Source: planner.Source{Commit: "4f2a9c0d1e2b"},
		Resources: []planner.ResourcePlan{
			{Resource: "analytics", MaintenanceDatabase: "postgres", ServerVersion: "17.2", Roles: []planner.RolePlan{
				rolePlan(ro, "ro", false, nil), rolePlan(rw, "rw", false, nil), rolePlan(bi, "bi", false, nil)}},
			{Resource: "billing", MaintenanceDatabase: "postgres", ServerVersion: "16.6", Roles: []planner.RolePlan{
				rolePlan(app, "app", true, fix), rolePlan(auditor, "auditor", false, nil)}},
		}}
	f.create(store.Session{SID: "drift-1", Kind: store.KindDrift, Status: store.StatusChanges, Actor: "daemon", Commit: "4f2a9c0d1e2b",
		Resources: []string{"analytics", "billing"}, Roles: []string{ro, rw, bi, app, auditor}, Checksum: drift.Digest(),
		Detail: mustJSON(t, drift), StartedAt: t0.Add(-10 * time.Minute), FinishedAt: t0.Add(-10 * time.Minute)})
	for _, d := range []store.Drift{
		{Resource: "analytics", Commit: "4f2a9c0d1e2b", SID: "drift-1", CheckedAt: t0.Add(-10 * time.Minute)},
		{Resource: "billing", Roles: []string{app}, Digest: "d1", Commit: "4f2a9c0d1e2b", SID: "drift-1", Since: t0.Add(-10 * time.Minute), CheckedAt: t0.Add(-10 * time.Minute)},
	} {
		if err := f.store.PutDrift(ctx, d); err != nil {
			t.Fatal(err)
		}
	}

	report := func(res string, roles map[string]string) map[string]any {
		var rs []map[string]string
		for _, name := range slices.Sorted(maps.Keys(roles)) {
			rs = append(rs, map[string]string{"role_name": name, "status": roles[name]})
		}
		return map[string]any{"resource": res, "roles": rs}
	}
	f.create(store.Session{SID: "apply-1", Kind: store.KindApply, Status: store.StatusApplied, Actor: "daemon", Commit: "aa11bb22cc33",
		PullRequest: 4, PlanSID: "plan-4", Checksum: "9e8d7c6b5a49", Resources: []string{"analytics", "billing"}, Roles: []string{ro, rw, bi, app, auditor},
		Detail: mustJSON(t, map[string]any{"sid": "apply-1", "plan_sid": "plan-4", "resources": []any{
			report("analytics", map[string]string{ro: "applied"}), report("billing", map[string]string{app: "applied", auditor: "applied"})}}),
		StartedAt: t0.Add(-24 * time.Hour), FinishedAt: t0.Add(-24*time.Hour + 840*time.Millisecond),
		Statements: []store.Statement{
			{Resource: "analytics", Role: ro, Database: "postgres", SQL: `CREATE ROLE "` + ro + `" LOGIN PASSWORD '<redacted>'`, Outcome: "ok", Duration: 4200 * time.Microsecond, At: t0.Add(-24 * time.Hour)},
			{Resource: "analytics", Role: ro, Database: "analytics", SQL: `GRANT SELECT ON ALL TABLES IN SCHEMA "public" TO "` + ro + `"`, Outcome: "ok", Duration: 1500 * time.Microsecond, At: t0.Add(-24 * time.Hour)},
			{Resource: "billing", Role: app, Database: "billing", SQL: `GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA "public" TO "` + app + `"`, Outcome: "ok", Duration: 2 * time.Millisecond, At: t0.Add(-24 * time.Hour)},
		}})
	f.create(store.Session{SID: "apply-2", Kind: store.KindApply, Status: store.StatusFailed, Actor: "daemon", Commit: "bb22cc33dd44",
		Resources: []string{"billing"}, Roles: []string{app, auditor}, Error: "0 applied, 1 skipped, 0 refused, 1 failed",
		Detail:    mustJSON(t, map[string]any{"sid": "apply-2", "resources": []any{report("billing", map[string]string{app: "skipped", auditor: "failed"})}}),
		StartedAt: t0.Add(-2 * time.Hour), FinishedAt: t0.Add(-2*time.Hour + time.Second),
		Statements: []store.Statement{
			{Resource: "billing", Role: auditor, Database: "billing", SQL: `GRANT SELECT ON ALL TABLES IN SCHEMA "audit" TO "` + auditor + `"`, Outcome: "failed",
				Error: `ERROR: permission denied for schema audit (SQLSTATE 42501)`, Duration: 900 * time.Microsecond, At: t0.Add(-2 * time.Hour)},
		}})
	f.create(store.Session{SID: "apply-3", Kind: store.KindApply, Status: store.StatusRunning, Actor: "ops@laptop", Commit: "cc33dd44ee55",
		Resources: []string{"analytics"}, Roles: []string{rw}, StartedAt: t0.Add(-time.Hour),
		Statements: []store.Statement{{Resource: "analytics", Role: rw, Database: "postgres", SQL: `ALTER ROLE "` + rw + `" CONNECTION LIMIT 5`, Outcome: "ok", Duration: time.Millisecond, At: t0.Add(-time.Hour)}}})

	f.create(store.Session{SID: "apply-4", Kind: store.KindApply, Status: store.StatusInterrupted, Actor: "ops@laptop", Commit: "dd44ee55ff66",
		Resources: []string{"billing"}, Roles: []string{app}, StartedAt: t0.Add(-90 * time.Minute), FinishedAt: t0.Add(-89 * time.Minute),
		Error:      "interrupted: the process running it stopped (killed or crashed) before it finished; its statements show how far it got",
		Statements: []store.Statement{{Resource: "billing", Role: app, Database: "billing", SQL: `GRANT UPDATE ON ALL TABLES IN SCHEMA "public" TO "` + app + `"`, Outcome: "rolled-back", Duration: 3 * time.Millisecond, At: t0.Add(-90 * time.Minute)}}})

	plan7 := &planner.Document{Version: 1, SID: "plan-7", Source: planner.Source{Commit: "7777aaaa", PullRequest: 7}, Resources: []planner.ResourcePlan{
		{Resource: "analytics", MaintenanceDatabase: "postgres", Roles: []planner.RolePlan{rolePlan(rw, "rw", true, map[string][]string{"analytics": {`GRANT TRUNCATE ON ALL TABLES IN SCHEMA "reporting" TO "` + rw + `"`}})}}}}
	plan5 := &planner.Document{Version: 1, SID: "plan-5-merged", Source: planner.Source{Commit: "5555bbbb", PullRequest: 5}, Resources: []planner.ResourcePlan{
		{Resource: "billing", Error: "dial tcp billing.db.internal:5432: connect: connection refused"}}}
	for _, doc := range []*planner.Document{plan7, plan5} {
		f.create(store.Session{SID: doc.SID, Kind: store.KindPlan, Status: store.StatusChanges, Actor: "daemon", Commit: doc.Source.Commit,
			PullRequest: doc.Source.PullRequest, Checksum: doc.Digest(), Detail: mustJSON(t, doc), StartedAt: t0.Add(-30 * time.Minute), FinishedAt: t0.Add(-30 * time.Minute)})
	}
	for _, pr := range []store.PullRequest{
		{Number: 4, State: store.PRApplied, HeadSHA: "44aa44aa44aa44", PlannedSHA: "44aa44aa44aa44", PlanSID: "plan-4", Digest: "4d4d4d4d4d4d4d4d", MergeSHA: "aa11bb22cc33", ApplySID: "apply-1", UpdatedAt: t0.Add(-24 * time.Hour)},
		{Number: 5, State: store.PRWaitingApproval, HeadSHA: "55bb55bb55bb55", PlanSID: "plan-5", Digest: "5d5d5d5d5d5d5d5d5d", MergeSHA: "5555bbbb", MergePlanSID: "plan-5-merged", MergeDigest: "e5e5e5e5e5e5e5e5e5", UpdatedAt: t0.Add(-30 * time.Minute)},
		{Number: 7, State: store.PROpen, HeadSHA: "7777aaaa7777aaaa", PlannedSHA: "7777aaaa7777aaaa", PlanSID: "plan-7", Digest: plan7.Digest(), UpdatedAt: t0.Add(-30 * time.Minute)},
	} {
		if err := f.store.PutPullRequest(ctx, &pr, store.Fence{}); err != nil {
			t.Fatal(err)
		}
	}
	v, err := f.store.PutPendingCredential(ctx, store.Credential{RoleName: ro, Resource: "analytics", Ciphertext: []byte("sealed"), CreatedAt: t0.Add(-24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.store.ActivateCredential(ctx, ro, v); err != nil {
		t.Fatal(err)
	}
	if err := f.store.PutAdmin(ctx, store.AdminCredential{Resource: "billing", User: "postgres", Ciphertext: []byte("sealed-admin"), UpdatedAt: t0}); err != nil {
		t.Fatal(err)
	}
}

// newFixtureOn is another hub on f's store whose proxy users have perm.
func newFixtureOn(t *testing.T, f *fixture, perm string) *fixture {
	t.Helper()
	h, err := hub.New(hub.Options{
		Store: f.store, Inventory: hub.StaticInventory{Commit: "4f2a9c0d1e2b3a4c5d6e7f8091a2b3c4d5e6f708", Tree: f.tree},
		Checker: f.checks, Probe: probe(f.store),
		Proxy: &hub.ProxyAuth{Header: "X-Forwarded-User", From: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, Permission: perm},
		Key:   testKey, RepoURL: "https://github.com/acme/db-roles", Now: func() time.Time { return t0 },
	})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, store: f.store, tree: f.tree, checks: f.checks, hub: h, h: h.Handler()}
}

func newRequest(method, target, user string) *http.Request {
	req := httptest.NewRequest(method, target, nil)
	req.RemoteAddr = "127.0.0.1:40000"
	if user != "" {
		req.Header.Set("X-Forwarded-User", user)
	}
	return req
}

func postRequest(target, user, form string) *http.Request {
	req := httptest.NewRequest("POST", target, strings.NewReader(form))
	req.RemoteAddr = "127.0.0.1:40000"
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.Header.Set("X-Forwarded-User", user)
	}
	return req
}

func serve(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

var (
	checkForm  = regexp.MustCompile(`action="/hub/resources/[^"]+/check">\s*<input type="hidden" name="csrf" value="([^"]+)"`)
	logoutForm = regexp.MustCompile(`action="/hub/logout">[\s\S]*?name="csrf" value="([^"]+)"`)
)

// csrfOf is the CSRF token of a page's check-now form ("" without one).
func csrfOf(t *testing.T, body string) string {
	t.Helper()
	m := checkForm.FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// layoutCSRF is the CSRF token of the sign-out form every page has.
func layoutCSRF(t *testing.T, body string) string {
	t.Helper()
	m := logoutForm.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no sign-out form in:\n%s", body)
	}
	return html.UnescapeString(m[1])
}
