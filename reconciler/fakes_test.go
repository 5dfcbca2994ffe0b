package reconciler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/rolecd/rolecd/applier/report"
	"github.com/rolecd/rolecd/internal/forge"
	"github.com/rolecd/rolecd/planner"
	"github.com/rolecd/rolecd/planner/spec"
	"github.com/rolecd/rolecd/reporter/github"
	"github.com/rolecd/rolecd/store"
)

// In-memory implementations of the reconciler's own interfaces, for unit
// tests of its logic; the end-to-end tests (test/e2e/daemon_test.go) run
// the real gitsource, GitHub client, planner and applier.

// fakeSource is a repository of commits held in memory.
type fakeSource struct {
	mu       sync.Mutex
	commits  map[string]fstest.MapFS
	branch   string            // branch head
	pulls    map[int]string    // refs/pull/N/head
	refs     map[string]string // other refs, for FetchRef
	touching map[string]bool   // heads that touch the role files
	fetched  time.Time
	fetchErr error
}

func newFakeSource() *fakeSource {
	return &fakeSource{commits: map[string]fstest.MapFS{}, pulls: map[int]string{}, refs: map[string]string{}, touching: map[string]bool{}}
}

// commit adds a commit of role files; touches marks it as changing them.
func (s *fakeSource) commit(sha string, files map[string]string, touches bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := fstest.MapFS{}
	for name, body := range files {
		m[name] = &fstest.MapFile{Data: []byte(body)}
	}
	s.commits[sha] = m
	s.touching[sha] = touches
}

func (s *fakeSource) Fetch(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fetchErr == nil {
		s.fetched = time.Now()
	}
	return s.fetchErr
}

func (s *fakeSource) FetchRef(_ context.Context, ref string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sha, ok := s.refs[ref]
	if !ok {
		return "", fmt.Errorf("no ref %s", ref)
	}
	return sha, nil
}

func (s *fakeSource) BranchHead() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.branch == "" {
		return "", errors.New("not fetched")
	}
	return s.branch, nil
}

func (s *fakeSource) PullHead(n int) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sha, ok := s.pulls[n]
	return sha, ok
}

func (s *fakeSource) LastFetch() (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fetched, s.fetchErr
}

func (s *fakeSource) HasCommit(sha string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.commits[sha]
	return ok
}

func (s *fakeSource) Files(sha string) (fs.FS, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.commits[sha]
	if !ok {
		return nil, fmt.Errorf("commit %s not found", sha)
	}
	return m, nil
}

func (s *fakeSource) Touches(base, head string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.touching[head] && base != head, nil
}

// fakeForge records what the reconciler posts; err makes an operation fail.
type fakeForge struct {
	mu       sync.Mutex
	prs      map[int]forge.PR
	perms    map[string]string
	comments map[string][]string // "pr/key" -> parts, or "pr/new" appended
	statuses []string            // "sha context state: description"
	issues   map[string]string   // key -> "open: title" or "closed"
	err      map[string]error    // operation -> error
	calls    map[string]int
}

func newFakeForge() *fakeForge {
	return &fakeForge{prs: map[int]forge.PR{}, perms: map[string]string{}, comments: map[string][]string{},
		issues: map[string]string{}, err: map[string]error{}, calls: map[string]int{}}
}

func (f *fakeForge) call(op string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[op]++
	return f.err[op]
}

func (f *fakeForge) setErr(op string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err[op] = err
}

func (f *fakeForge) count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

func (f *fakeForge) ListOpenPRs(_ context.Context, base string) ([]forge.PR, error) {
	if err := f.call("list"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []forge.PR
	for _, pr := range f.prs {
		if pr.State == "open" && pr.BaseRef == base {
			out = append(out, pr)
		}
	}
	return out, nil
}

func (f *fakeForge) GetPR(_ context.Context, n int) (forge.PR, error) {
	if err := f.call("get_pr"); err != nil {
		return forge.PR{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	pr, ok := f.prs[n]
	if !ok {
		return forge.PR{}, fmt.Errorf("no pull request #%d", n)
	}
	return pr, nil
}

func (f *fakeForge) PRFiles(context.Context, int) ([]string, error) {
	return []string{"roles/roles.yaml"}, f.call("files")
}

func (f *fakeForge) UpsertComment(_ context.Context, pr int, key string, parts []string) error {
	if err := f.call("upsert_comment"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.comments[fmt.Sprintf("%d/%s", pr, key)] = parts
	return nil
}

func (f *fakeForge) Comment(_ context.Context, pr int, body string) error {
	if err := f.call("comment"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	k := fmt.Sprintf("%d/new", pr)
	f.comments[k] = append(f.comments[k], body)
	return nil
}

func (f *fakeForge) SetStatus(_ context.Context, sha, ctx, state, desc, _ string) error {
	if err := f.call("status"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.statuses = append(f.statuses, fmt.Sprintf("%s %s %s: %s", sha, ctx, state, desc))
	return nil
}

func (f *fakeForge) Permission(_ context.Context, user string) (string, error) {
	if err := f.call("permission"); err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if p, ok := f.perms[user]; ok {
		return p, nil
	}
	return "none", nil
}

func (f *fakeForge) UpsertIssue(_ context.Context, key, title, _ string) (int, error) {
	if err := f.call("upsert_issue"); err != nil {
		return 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.issues[key] = "open: " + title
	return 1, nil
}

func (f *fakeForge) CloseIssue(_ context.Context, key, _ string) error {
	if err := f.call("close_issue"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.issues[key]; ok {
		f.issues[key] = "closed"
	}
	return nil
}

// fakeDB is a "cluster" for the fake planner and applier: the privileges
// each role has, and out-of-band extras that make a plan differ.
type fakeDB struct {
	mu      sync.Mutex
	live    map[string]string // role name -> privileges applied
	extra   map[string]string // role name -> out-of-band change
	store   *testStore
	applies int
	block   chan struct{} // when set, Apply waits on it (or ctx)
	down    bool          // planning fails for every resource
	// onPlan, when set, runs at the start of every Plan (long work, a
	// takeover in the middle of it).
	onPlan func(ctx context.Context)
	// connected lists "resource host:port credential" per planned resource.
	connected []string
}

func (db *fakeDB) Plan(ctx context.Context, tree *spec.Tree, src planner.Source, sid string) (*planner.Document, error) {
	if db.onPlan != nil {
		db.onPlan(ctx)
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	doc := &planner.Document{Version: planner.DocumentVersion, SID: sid, Source: src}
	for _, res := range tree.Resources {
		c := res.Connection()
		db.connected = append(db.connected, res.Name+" "+fmt.Sprintf("%s:%d", c.Host, c.Port)+" "+c.Credential)
		rp := planner.ResourcePlan{Resource: res.Name, MaintenanceDatabase: res.Database, Roles: []planner.RolePlan{}}
		if db.down {
			rp.Error = "connection refused"
			doc.Resources = append(doc.Resources, rp)
			continue
		}
		for _, role := range tree.RolesFor(res.Name) {
			want := strings.Join(role.Privileges, ",")
			rolePlan := planner.RolePlan{Config: planner.ConfigOf(role)}
			if db.live[role.Name] != want || db.extra[role.Name] != "" {
				rolePlan.CurrentState.RequiresMigration = true
				rolePlan.SQLPlan = map[string][]string{"postgres": {"-- grant " + want + db.extra[role.Name]}}
			}
			rolePlan.Checksum = planner.Checksum(res.Name, role.Name, rolePlan.SQLPlan)
			rp.Roles = append(rp.Roles, rolePlan)
		}
		doc.Resources = append(doc.Resources, rp)
	}
	return doc, nil
}

func (db *fakeDB) Apply(ctx context.Context, _ *spec.Tree, doc *planner.Document, sid, actor string) (*report.Report, error) {
	sess := &store.Session{SID: sid, Kind: store.KindApply, Status: store.StatusRunning, Actor: actor, PlanSID: doc.SID,
		PullRequest: doc.Source.PullRequest, Commit: doc.Source.Commit}
	if err := db.store.CreateSession(ctx, sess); err != nil {
		return nil, err
	}
	rep := &report.Report{SID: sid, PlanSID: doc.SID}
	if db.block != nil {
		select {
		case <-db.block:
		case <-ctx.Done():
			rep.Resources = []report.Resource{{Resource: "db1", Error: "taking the apply lock: " + ctx.Err().Error(), Roles: []report.Role{}}}
			detail, _ := json.Marshal(rep)
			_ = db.store.FinishSession(context.WithoutCancel(ctx), sid, rep.Status(), detail, "interrupted", time.Time{})
			return rep, nil
		}
	}
	db.mu.Lock()
	db.applies++
	for _, rp := range doc.Resources {
		rr := report.Resource{Resource: rp.Resource, Roles: []report.Role{}}
		for _, role := range rp.Roles {
			out := report.Role{RoleName: role.Config.RoleName, Label: role.Config.Label, Status: report.RoleSkipped}
			if role.CurrentState.RequiresMigration {
				out.Status = report.RoleApplied
				db.live[role.Config.RoleName] = strings.Join(role.Config.Privileges, ",")
				delete(db.extra, role.Config.RoleName)
			}
			rr.Roles = append(rr.Roles, out)
		}
		rep.Resources = append(rep.Resources, rr)
	}
	db.mu.Unlock()
	detail, _ := json.Marshal(rep)
	return rep, db.store.FinishSession(ctx, sid, rep.Status(), detail, "", time.Time{})
}

// testStore is a real SQLite store with its bookkeeping.
type testStore struct {
	store.Store
	store.Bookkeeping
}

func openTestStore(t *testing.T, path string) *testStore {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "rolecd.db")
	}
	st, err := store.Open(t.Context(), "sqlite://"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	bk, ok := store.AsBookkeeping(st)
	if !ok {
		t.Fatal("no bookkeeping")
	}
	return &testStore{st, bk}
}

// testRepo is the repository the harness's reconciler watches.
const testRepo = "acme/db-roles"

// harness is a reconciler over fakes.
type harness struct {
	t      *testing.T
	r      *Reconciler
	src    *fakeSource
	forge  *fakeForge
	db     *fakeDB
	store  *testStore
	now    time.Time
	nowMu  sync.Mutex
	secret []byte
}

const resourcesYAML = "resources:\n  - name: db1\n    host: 127.0.0.1\n    port: 5432\n    admin:\n      user: postgres\n"

func rolesFile(privileges string) map[string]string {
	return map[string]string{
		"resources.yaml": resourcesYAML,
		"roles.yaml":     "roles:\n  - resource: db1\n    role: ro\n    scopes: [app]\n    privileges: [" + privileges + "]\n",
	}
}

func newHarness(t *testing.T, mod func(*Options)) *harness {
	t.Helper()
	h := &harness{t: t, src: newFakeSource(), forge: newFakeForge(), store: openTestStore(t, ""),
		now: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), secret: []byte("s3cret")}
	h.db = &fakeDB{live: map[string]string{}, extra: map[string]string{}, store: h.store}
	h.src.commit("base", map[string]string{"resources.yaml": resourcesYAML}, false)
	h.src.branch = "base"
	h.r = h.newReconciler(mod)
	return h
}

func (h *harness) newReconciler(mod func(*Options)) *Reconciler {
	opts := Options{
		Source: h.src, Forge: h.forge, Store: h.store, Planner: h.db, Applier: h.db,
		Webhooks: github.Webhooks{Secret: h.secret}, Repository: testRepo, Holder: "test", Now: h.clock,
	}
	if mod != nil {
		mod(&opts)
	}
	r, err := New(opts)
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

func (h *harness) clock() time.Time {
	h.nowMu.Lock()
	defer h.nowMu.Unlock()
	return h.now
}

func (h *harness) advance(d time.Duration) {
	h.nowMu.Lock()
	defer h.nowMu.Unlock()
	h.now = h.now.Add(d)
}

// openPR adds a pull request whose head declares ro with privileges.
func (h *harness) openPR(n int, head, privileges string) {
	h.src.commit(head, rolesFile(privileges), true)
	h.src.mu.Lock()
	h.src.pulls[n] = head
	h.src.mu.Unlock()
	h.forge.mu.Lock()
	h.forge.prs[n] = forge.PR{Number: n, State: "open", BaseRef: "main", HeadRef: fmt.Sprintf("pr-%d", n), HeadSHA: head}
	h.forge.mu.Unlock()
}

// merge merges pull request n as commit sha (the head's files).
func (h *harness) merge(n int, sha string) {
	h.forge.mu.Lock()
	pr := h.forge.prs[n]
	pr.State, pr.Merged, pr.MergeCommitSHA = "closed", true, sha
	h.forge.prs[n] = pr
	h.forge.mu.Unlock()
	h.src.mu.Lock()
	h.src.commits[sha] = maps.Clone(h.src.commits[pr.HeadSHA])
	h.src.branch = sha
	h.src.mu.Unlock()
}

func (h *harness) drain() {
	h.t.Helper()
	if err := h.r.Drain(h.t.Context()); err != nil {
		h.t.Fatalf("Drain: %v", err)
	}
}

func (h *harness) pr(n int) store.PullRequest {
	h.t.Helper()
	rec, err := h.store.GetPullRequest(h.t.Context(), n)
	if err != nil {
		h.t.Fatal(err)
	}
	return rec
}

// ancestrySource adds an ancestor test to the fake source.
type ancestrySource struct {
	*fakeSource
	ancestors map[string]bool // "a..b": a is an ancestor of b
}

func (s ancestrySource) IsAncestor(a, b string) (bool, error) { return s.ancestors[a+".."+b], nil }
