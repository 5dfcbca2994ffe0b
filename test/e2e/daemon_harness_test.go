package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/rolecd/rolecd/gitsource"
	"github.com/rolecd/rolecd/gitsource/gittest"
	"github.com/rolecd/rolecd/internal/bearer"
	"github.com/rolecd/rolecd/internal/cluster"
	"github.com/rolecd/rolecd/internal/credentials"
	"github.com/rolecd/rolecd/planner"
	"github.com/rolecd/rolecd/planner/spec"
	"github.com/rolecd/rolecd/reconciler"
	"github.com/rolecd/rolecd/reporter/github"
	"github.com/rolecd/rolecd/store"
	"github.com/rolecd/rolecd/test/githubtest"
	"github.com/rolecd/rolecd/test/pgtest"
)

// The daemon tests run the real reconciler with a real gitsource on a local
// bare repository (gittest commits with go-git), a real reporter/github
// client against the in-process GitHub (githubtest), the real cluster planning and
// applier on a throwaway PostgreSQL cluster, and a SQLite store. Time is
// driven by triggers (TriggerPoll, TriggerDrift, Drain) and a settable
// clock, never by sleeping.

// testClock is a settable clock for the outbox's retry schedule.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// syncBuffer collects the daemon's JSON log lines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// daemonStore is the store seen as sessions and bookkeeping.
type daemonStore struct {
	store.Store
	store.Bookkeeping
}

const (
	resourceName = "db1"
	roleFilesDir = "roles"
	ghToken      = "ghp_0123456789abcdefTESTTOKEN"
	apiToken     = "api-token-for-tests-0123456789"
)

// daemonEnv is one test's world: a cluster with database "app", a bare
// repository whose main branch declares the cluster, GitHub, a store file.
type daemonEnv struct {
	t         *testing.T
	cluster   *pgtest.Cluster
	remote    *gittest.Remote
	gh        *githubtest.Server
	storePath string
	// storeURL is the daemons' store: the SQLite file storePath unless
	// usePostgresStore was called.
	storeURL string
	cipher   *credentials.Cipher
	secret   []byte
	clock    *testClock
	logs     *syncBuffer
	base     string // main's first commit
}

func newDaemonEnv(t *testing.T) *daemonEnv {
	t.Helper()
	c := pgtest.Start(t)
	c.CreateDatabase(t, "app")
	c.Exec(t, "app", "CREATE TABLE public.orders (id int)", "CREATE TABLE public.customers (id int)")
	remote := gittest.New(t)
	base := remote.Commit("main", "declare db1",
		gittest.File(roleFilesDir+"/resources.yaml", resourceYAML(resourceName, c)),
		gittest.File("README.md", "# database roles\n"))
	gh := githubtest.New(t, "acme", "db-roles")
	gh.RequireToken(ghToken)
	secret := []byte("webhook-secret-for-tests")
	gh.SetWebhookSecret(secret)
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	cipher, err := credentials.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	e := &daemonEnv{
		t: t, cluster: c, remote: remote, gh: gh, storePath: filepath.Join(t.TempDir(), "rolecd.db"),
		cipher: cipher, secret: secret, clock: &testClock{t: time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)},
		logs: &syncBuffer{}, base: base,
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("daemon logs:\n%s", e.logs.String())
		}
		if strings.Contains(e.logs.String(), ghToken) || strings.Contains(e.logs.String(), string(secret)) {
			t.Errorf("a secret appears in the daemon logs")
		}
	})
	return e
}

// usePostgresStore makes the daemons share a PostgreSQL store: database
// "rolecd" on the env's cluster, as replicas in production share one.
func (e *daemonEnv) usePostgresStore() {
	e.t.Helper()
	e.cluster.CreateDatabase(e.t, "rolecd")
	u := url.URL{Scheme: "postgres", User: url.UserPassword(e.cluster.User, e.cluster.Password),
		Host: net.JoinHostPort(e.cluster.Host, strconv.Itoa(e.cluster.Port)), Path: "/rolecd", RawQuery: "sslmode=disable"}
	e.storeURL = u.String()
}

// daemon is one running reconciler and its HTTP server.
type daemon struct {
	*reconciler.Reconciler
	env   *daemonEnv
	store daemonStore
	live  *reconciler.Live
	src   *gitsource.Source
	url   string // the webhook listener
	// apiURL is the API listener, which wants apiToken.
	apiURL string
}

// apiGet GETs path from the API listener with the token and wants code.
func (d *daemon) apiGet(path string, code int) string {
	d.env.t.Helper()
	req, err := http.NewRequest(http.MethodGet, d.apiURL+path, nil)
	if err != nil {
		d.env.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+apiToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.env.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		d.env.t.Fatal(err)
	}
	if resp.StatusCode != code {
		d.env.t.Fatalf("GET %s: %d, want %d: %s", path, resp.StatusCode, code, b)
	}
	return string(b)
}

// newDaemon starts a reconciler on the env's store (a new store handle and
// a new clone each time: a restarted daemon). mod adjusts its options.
func (e *daemonEnv) newDaemon(mod func(*reconciler.Options)) *daemon {
	t := e.t
	t.Helper()
	ctx := context.Background()
	storeURL := e.storeURL
	if storeURL == "" {
		storeURL = "sqlite://" + e.storePath
	}
	st, err := store.Open(ctx, storeURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	bk, ok := store.AsBookkeeping(st)
	if !ok {
		t.Fatal("the store does not implement store.Bookkeeping")
	}
	src, err := gitsource.Open(ctx, gitsource.Config{
		URL: e.remote.URL(), Branch: "main", Path: roleFilesDir, CacheDir: t.TempDir(), Timeout: 20 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	log := zerolog.New(e.logs).With().Timestamp().Logger()
	client, err := github.New(github.Config{
		APIURL: e.gh.URL, Owner: "acme", Repo: "db-roles", Token: ghToken, MaxAttempts: 3, Log: log,
		Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() },
	})
	if err != nil {
		t.Fatal(err)
	}
	live := &reconciler.Live{
		Dialer: cluster.Dialer{Getenv: env(map[string]*pgtest.Cluster{resourceName: e.cluster}), Policy: credentialPolicy},
		Store:  st, Secrets: credentials.NewKeeper(e.cipher), Log: log,
	}
	opts := reconciler.Options{
		Source: src, Forge: client, Store: daemonStore{st, bk}, Planner: live, Applier: live,
		Branch: "main", Path: roleFilesDir, Webhooks: github.Webhooks{Secret: e.secret}, Repository: "acme/db-roles", Transient: github.IsTransient, Credentials: credentialPolicy,
		Now: e.clock.Now, Log: log, LeaseTTL: time.Minute,
		// Every daemon of a test is the same replica restarted (as a pod
		// keeps its name): it takes its lease back at once instead of
		// waiting for the dead one's to expire.
		Holder: "rolecd-0",
	}
	if mod != nil {
		mod(&opts)
	}
	r, err := reconciler.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	// The two listeners as cmd/rolecd serves them with metrics.public: the
	// webhook one (webhooks, probes, metrics) and the API one behind the
	// bearer token.
	public := http.NewServeMux()
	public.Handle("/", r.Handler())
	public.Handle("GET /metrics", r.MetricsHandler())
	srv := httptest.NewServer(public)
	t.Cleanup(srv.Close)
	api := httptest.NewServer(bearer.New(apiToken).Require(r.APIHandler()))
	t.Cleanup(api.Close)
	return &daemon{Reconciler: r, env: e, store: daemonStore{st, bk}, live: live, src: src, url: srv.URL, apiURL: api.URL}
}

// deliver signs and posts a webhook and returns the status code.
func (d *daemon) deliver(event, id string, payload any) int {
	d.env.t.Helper()
	code, err := d.env.gh.Deliver(context.Background(), d.url+"/webhooks/github", event, id, payload)
	if err != nil {
		d.env.t.Fatal(err)
	}
	return code
}

// mustDeliver delivers and wants 202.
func (d *daemon) mustDeliver(event, id string, payload any) {
	d.env.t.Helper()
	if code := d.deliver(event, id, payload); code != 202 {
		d.env.t.Fatalf("%s delivery %s: status %d, want 202", event, id, code)
	}
}

// drain runs every queued task and wants no waiting error.
func (d *daemon) drain() {
	d.env.t.Helper()
	if err := d.Drain(context.Background()); err != nil {
		d.env.t.Fatalf("Drain: %v", err)
	}
}

// openPR pushes a branch with changes on top of main and opens pull
// request n for it on GitHub (with refs/pull/n/head in the repository).
func (e *daemonEnv) openPR(n int, changes ...gittest.Change) string {
	e.t.Helper()
	branch := fmt.Sprintf("pr-%d", n)
	e.remote.Branch(branch, e.remote.Head("main"))
	head := e.remote.Commit(branch, "change roles", changes...)
	e.remote.SetRef(fmt.Sprintf("refs/pull/%d/head", n), head)
	files := make([]string, len(changes))
	for i, c := range changes {
		files[i] = c.Path
	}
	e.gh.AddPR(githubtest.PR{Number: n, HeadSHA: head, HeadRef: branch, Files: files})
	return head
}

// pushPR adds a commit to pull request n's branch.
func (e *daemonEnv) pushPR(n int, changes ...gittest.Change) string {
	e.t.Helper()
	branch := fmt.Sprintf("pr-%d", n)
	head := e.remote.Commit(branch, "more changes", changes...)
	e.remote.SetRef(fmt.Sprintf("refs/pull/%d/head", n), head)
	e.gh.UpdatePR(n, func(p *githubtest.PR) { p.HeadSHA = head })
	return head
}

// mergePR merges pull request n into main as GitHub's merge button does.
func (e *daemonEnv) mergePR(n int) string {
	e.t.Helper()
	merge := e.remote.Merge("main", e.remote.Head(fmt.Sprintf("pr-%d", n)), fmt.Sprintf("Merge pull request #%d", n))
	e.gh.Merge(n, merge)
	return merge
}

// rolesYAML declares managed roles of db1 on app.public: label -> privileges.
func rolesYAML(roles map[string]string) gittest.Change {
	var b strings.Builder
	b.WriteString("roles:\n")
	for _, label := range slices.Sorted(maps.Keys(roles)) {
		fmt.Fprintf(&b, "  - resource: %s\n    role: %s\n    scopes: [app.public]\n    privileges: [%s]\n", resourceName, label, roles[label])
	}
	return gittest.File(roleFilesDir+"/roles.yaml", b.String())
}

// roleName is the computed name of db1's role label.
func roleName(t *testing.T, label string) string {
	t.Helper()
	name, err := spec.RoleName(spec.DefaultPrefix, resourceName, label)
	if err != nil {
		t.Fatal(err)
	}
	return name
}

// planSessions returns the plan sessions of pull request n, newest first.
func (d *daemon) planSessions(n int) []store.Session {
	d.env.t.Helper()
	list, err := d.store.ListSessions(context.Background(), store.Filter{Kind: store.KindPlan})
	if err != nil {
		d.env.t.Fatal(err)
	}
	var out []store.Session
	for _, s := range list {
		if s.PullRequest == n {
			out = append(out, s)
		}
	}
	return out
}

// sessions returns the sessions of kind, newest first.
func (d *daemon) sessions(kind store.Kind) []store.Session {
	d.env.t.Helper()
	list, err := d.store.ListSessions(context.Background(), store.Filter{Kind: kind})
	if err != nil {
		d.env.t.Fatal(err)
	}
	return list
}

// statementsOf returns the statements of session sid.
func (d *daemon) statementsOf(sid string) []store.Statement {
	d.env.t.Helper()
	s, err := d.store.GetSession(context.Background(), sid)
	if err != nil {
		d.env.t.Fatal(err)
	}
	return s.Statements
}

// pr returns the stored state of pull request n.
func (d *daemon) pr(n int) store.PullRequest {
	d.env.t.Helper()
	rec, err := d.store.GetPullRequest(context.Background(), n)
	if err != nil {
		d.env.t.Fatal(err)
	}
	return rec
}

// planMain plans main's head with the real planner.
func (d *daemon) planMain() *planner.Document {
	d.env.t.Helper()
	head, err := d.src.BranchHead()
	if err != nil {
		d.env.t.Fatal(err)
	}
	fsys, err := d.src.Files(head)
	if err != nil {
		d.env.t.Fatal(err)
	}
	tree, err := spec.Load(fsys, spec.Options{Credentials: credentialPolicy})
	if err != nil {
		d.env.t.Fatal(err)
	}
	doc, err := d.live.Plan(context.Background(), tree, planner.Source{Commit: head}, "check")
	if err != nil {
		d.env.t.Fatal(err)
	}
	return doc
}

// botComments returns the comments the daemon posted on n.
func (e *daemonEnv) botComments(n int) []githubtest.Comment {
	var out []githubtest.Comment
	for _, c := range e.gh.Comments(n) {
		if c.Author == githubtest.BotLogin {
			out = append(out, c)
		}
	}
	return out
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
