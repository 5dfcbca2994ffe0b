// Package browser drives the web hub in Debian's Chromium (chromedp): the
// real daemon (reconciler, gitsource on a local bare repository, cluster
// and applier on two throwaway PostgreSQL clusters, a SQLite store), the
// in-process GitHub for OAuth sign-in and permissions, and axe-core
// injected into every page. Screenshots go to $ROLECD_HUB_SCREENSHOTS (a
// temporary directory when unset).
//
// The test fails, never skips, without Chromium or axe-core: `make deps`
// installs both.
package browser

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/rs/zerolog"

	"github.com/rolecd/rolecd/gitsource"
	"github.com/rolecd/rolecd/gitsource/gittest"
	"github.com/rolecd/rolecd/hub"
	"github.com/rolecd/rolecd/internal/cluster"
	"github.com/rolecd/rolecd/internal/credentials"
	"github.com/rolecd/rolecd/planner/spec"
	"github.com/rolecd/rolecd/reconciler"
	"github.com/rolecd/rolecd/reporter/github"
	"github.com/rolecd/rolecd/store"
	"github.com/rolecd/rolecd/test/githubtest"
	"github.com/rolecd/rolecd/test/pgtest"
)

const (
	ghToken  = "ghp_0123456789abcdefBROWSERTEST"
	clientID = "Iv1.rolecdhub"
	// clientSecret is the OAuth app's secret: it must appear on no page.
	clientSecret = "oauth-client-secret-for-tests"
)

// world is the daemon and everything it talks to.
type world struct {
	t        *testing.T
	db1, db2 *pgtest.Cluster
	remote   *gittest.Remote
	gh       *githubtest.Server
	st       daemonStore
	rec      *reconciler.Reconciler
	src      *gitsource.Source
	logs     *syncBuffer
}

type daemonStore struct {
	store.Store
	store.Bookkeeping
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
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

func resourcesYAML(clusters map[string]*pgtest.Cluster) string {
	var b strings.Builder
	b.WriteString("resources:\n")
	for _, name := range []string{"db1", "db2"} {
		c := clusters[name]
		fmt.Fprintf(&b, "  - name: %s\n    host: %s\n    port: %d\n    sslmode: disable\n    admin:\n      user: %s\n      password_env: PGTEST_PASSWORD_%s\n",
			name, c.Host, c.Port, c.User, strings.ToUpper(name))
	}
	return b.String()
}

// policy allows the clusters' password variables, as an operator would.
var policy = &spec.CredentialPolicy{EnvAllow: []string{"PGTEST_PASSWORD_*"}}

const rolesV1 = `roles:
  - resource: db1
    role: reader
    scopes: [app.public]
    privileges: [SELECT]
  - resource: db2
    role: writer
    scopes: [shop.public]
    privileges: [SELECT, INSERT, UPDATE]
`

const rolesV2 = rolesV1 + `  - resource: db2
    role: auditor
    scopes: [shop.public]
    privileges: [SELECT]
`

func roleName(t *testing.T, resource, label string) string {
	t.Helper()
	n, err := spec.RoleName(spec.DefaultPrefix, resource, label)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// newWorld starts two clusters and the daemon, and plays a story: PR #1
// adds two roles and is applied on merge; a hand-made GRANT makes db1's
// reader drift; PR #2 adds an auditor, someone creates that role by hand
// before the merge, so the merged plan differs from the reviewed one and
// waits for /rolecd apply.
func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	w := &world{t: t, logs: &syncBuffer{}}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); w.db1 = pgtest.Start(t) }()
	go func() { defer wg.Done(); w.db2 = pgtest.Start(t) }()
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	w.db1.CreateDatabase(t, "app")
	w.db1.Exec(t, "app", "CREATE TABLE public.orders (id int)")
	w.db2.CreateDatabase(t, "shop")
	w.db2.Exec(t, "shop", "CREATE TABLE public.carts (id int)", "CREATE TABLE public.items (id int)")
	clusters := map[string]*pgtest.Cluster{"db1": w.db1, "db2": w.db2}

	w.remote = gittest.New(t)
	w.remote.Commit("main", "declare the clusters", gittest.File("roles/resources.yaml", resourcesYAML(clusters)))
	w.gh = githubtest.New(t, "acme", "db-roles")
	w.gh.RequireToken(ghToken)

	st, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "rolecd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	bk, _ := store.AsBookkeeping(st)
	w.st = daemonStore{st, bk}
	w.src, err = gitsource.Open(ctx, gitsource.Config{URL: w.remote.URL(), Branch: "main", Path: "roles", CacheDir: t.TempDir(), Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	log := zerolog.New(w.logs).With().Timestamp().Logger()
	client := w.githubClient(log)
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	cipher, err := credentials.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	live := &reconciler.Live{Dialer: cluster.Dialer{Getenv: getenv(clusters), Policy: policy}, Store: st, Secrets: credentials.NewKeeper(cipher), Log: log}
	w.rec, err = reconciler.New(reconciler.Options{
		Source: w.src, Forge: client, Store: w.st, Planner: live, Applier: live,
		Branch: "main", Path: "roles", Transient: github.IsTransient, Log: log, LeaseTTL: time.Minute, Holder: "rolecd-0",
		Repository: "acme/db-roles", Credentials: policy,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("daemon logs:\n%s", w.logs.String())
		}
	})

	w.drain()
	w.openPR(1, rolesV1)
	w.drain()
	w.merge(1)
	w.drain()
	if pr := w.pr(1); pr.State != store.PRApplied {
		t.Fatalf("PR #1 is %s, want applied", pr.State)
	}
	w.db1.Exec(t, "app", fmt.Sprintf(`GRANT INSERT ON public.orders TO %q`, roleName(t, "db1", "reader")))
	w.rec.TriggerDrift()
	w.drain()

	w.openPR(2, rolesV2)
	w.drain()
	w.db2.Exec(t, "postgres", fmt.Sprintf(`CREATE ROLE %q LOGIN`, roleName(t, "db2", "auditor")))
	w.merge(2)
	w.drain()
	if pr := w.pr(2); pr.State != store.PRWaitingApproval {
		t.Fatalf("PR #2 is %s, want waiting-approval", pr.State)
	}
	return w
}

func (w *world) githubClient(log zerolog.Logger) *github.Client {
	client, err := github.New(github.Config{
		APIURL: w.gh.URL, Owner: "acme", Repo: "db-roles", Token: ghToken, MaxAttempts: 3, Log: log,
		Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() },
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return client
}

func (w *world) drain() {
	w.t.Helper()
	w.rec.TriggerPoll()
	if err := w.rec.Drain(context.Background()); err != nil {
		w.t.Fatalf("Drain: %v", err)
	}
}

func (w *world) openPR(n int, roles string) {
	w.t.Helper()
	branch := fmt.Sprintf("pr-%d", n)
	w.remote.Branch(branch, w.remote.Head("main"))
	head := w.remote.Commit(branch, "change roles", gittest.File("roles/roles.yaml", roles))
	w.remote.SetRef(fmt.Sprintf("refs/pull/%d/head", n), head)
	w.gh.AddPR(githubtest.PR{Number: n, HeadSHA: head, HeadRef: branch, Files: []string{"roles/roles.yaml"}})
}

func (w *world) merge(n int) {
	w.t.Helper()
	m := w.remote.Merge("main", w.remote.Head(fmt.Sprintf("pr-%d", n)), fmt.Sprintf("Merge pull request #%d", n))
	w.gh.Merge(n, m)
}

func (w *world) pr(n int) store.PullRequest {
	w.t.Helper()
	pr, err := w.st.GetPullRequest(context.Background(), n)
	if err != nil {
		w.t.Fatal(err)
	}
	return pr
}

func (w *world) sessions(f store.Filter) []store.Session {
	w.t.Helper()
	list, err := w.st.ListSessions(context.Background(), f)
	if err != nil {
		w.t.Fatal(err)
	}
	return list
}

func getenv(clusters map[string]*pgtest.Cluster) func(string) string {
	return func(k string) string {
		for name, c := range clusters {
			if k == "PGTEST_PASSWORD_"+strings.ToUpper(name) {
				return c.Password
			}
		}
		return ""
	}
}

// browser is one Chromium for the whole test, with a fresh profile.
type browser struct {
	t     *testing.T
	ctx   context.Context
	shots string
	axe   string
	base  string
}

// findChromium is $ROLECD_CHROMIUM or Debian's chromium on PATH.
func findChromium(t *testing.T) string {
	if p := os.Getenv("ROLECD_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no Chromium found (run `make deps`, which installs Debian's chromium, or set ROLECD_CHROMIUM)")
	return ""
}

// findAxe is $ROLECD_AXE_JS or the copy `make deps` installs.
func findAxe(t *testing.T) string {
	path := os.Getenv("ROLECD_AXE_JS")
	if path == "" {
		path = filepath.Join("..", "..", ".cache", "axe", "node_modules", "axe-core", "axe.min.js")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("axe-core is missing (run `make deps`): %v", err)
	}
	return string(b)
}

func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	exe, axe := findChromium(t), findAxe(t)
	shots := os.Getenv("ROLECD_HUB_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.WindowSize(1280, 900),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	b := &browser{t: t, ctx: ctx, shots: shots, axe: axe, base: base}
	b.do(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, page.SetBypassCSP, page.SetBypassCSPParams{Enabled: true}) // to inject axe
		return err
	}))
	t.Logf("screenshots in %s", shots)
	return b
}

// with is b reporting to the (sub)test t.
func (b *browser) with(t *testing.T) *browser {
	c := *b
	c.t = t
	return &c
}

func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("browser: %v", err)
	}
}

func run[T any](b *browser, a chromedp.Action[T]) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, a)
	if err != nil {
		b.t.Fatalf("browser: %v", err)
	}
	return v
}

func (b *browser) open(path string) {
	b.t.Helper()
	b.do(chromedp.Navigate(b.base + path))
}

func (b *browser) location() string {
	b.t.Helper()
	return strings.TrimPrefix(run(b, chromedp.Location()), b.base)
}

func (b *browser) text() string {
	b.t.Helper()
	return run(b, chromedp.Evaluate[string](`document.body.innerText`))
}

func (b *browser) html() string {
	b.t.Helper()
	return run(b, chromedp.Evaluate[string](`document.documentElement.outerHTML`))
}

// screenshot saves the whole page as name.png.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	png := run(b, chromedp.FullScreenshot(100))
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// axeViolation is one axe-core finding.
type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target []any `json:"target"`
	} `json:"nodes"`
}

// accessible runs axe-core on the page and fails on serious or critical
// violations (and logs the others).
func (b *browser) accessible(what string) {
	b.t.Helper()
	if !run(b, chromedp.Evaluate[bool](`typeof axe !== "undefined"`)) {
		b.do(chromedp.Evaluate[chromedp.Void](b.axe))
	}
	raw := run(b, chromedp.Evaluate[string](`axe.run(document, {resultTypes: ["violations"]}).then(r =>
		JSON.stringify({violations: r.violations, passes: r.passes.length}))`, chromedp.EvalAwaitPromise))
	var res struct {
		Violations []axeViolation `json:"violations"`
		Passes     int            `json:"passes"`
	}
	if err := json.Unmarshal([]byte(raw), &res); err != nil {
		b.t.Fatalf("axe on %s: %v", what, err)
	}
	if res.Passes == 0 {
		b.t.Fatalf("axe on %s checked nothing", what)
	}
	b.t.Logf("axe on %s: %d rules passed, %d violated", what, res.Passes, len(res.Violations))
	for _, v := range res.Violations {
		msg := fmt.Sprintf("axe on %s: %s (%s): %s, e.g. %v", what, v.ID, v.Impact, v.Help, v.Nodes[0].Target)
		if v.Impact == "serious" || v.Impact == "critical" {
			b.t.Error(msg)
		} else {
			b.t.Log(msg)
		}
	}
}

// signIn goes through GitHub's OAuth as login and lands on next.
func (b *browser) signIn(gh *githubtest.Server, login, next string) {
	b.t.Helper()
	gh.SignInAs(login)
	b.open("/hub/login?next=" + next)
	b.do(chromedp.Click(chromedp.CSS(`a.button`)), chromedp.WaitVisible(chromedp.CSS(`form.who`)))
}

func (b *browser) signOut() {
	b.t.Helper()
	b.do(chromedp.Click(chromedp.CSS(`form.who button`)), chromedp.WaitVisible(chromedp.CSS(`a.button`)))
}

func TestHubInBrowser(t *testing.T) {
	w := newWorld(t)
	reader, writer := roleName(t, "db1", "reader"), roleName(t, "db2", "writer")
	w.gh.SetPermission("alice", "write")
	w.gh.SetPermission("bob", "read")

	ctx, stop := context.WithCancel(context.Background())
	daemonDone := make(chan error, 1)
	go func() { daemonDone <- w.rec.Run(ctx) }()
	t.Cleanup(func() {
		stop()
		if err := <-daemonDone; err != nil {
			t.Errorf("daemon: %v", err)
		}
	})

	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	w.gh.AddOAuthApp(githubtest.OAuthApp{ClientID: clientID, ClientSecret: clientSecret, CallbackURL: srv.URL + "/hub/oauth/callback"})
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	h, err := hub.New(hub.Options{
		Store: w.st, Inventory: &hub.GitInventory{Branch: w.src, Options: spec.Options{Credentials: policy}},
		Checker: hub.CheckerFunc(func(string) { w.rec.TriggerDrift() }),
		Probe:   hub.SourceProbe(getenv(map[string]*pgtest.Cluster{"db1": w.db1, "db2": w.db2}), w.st, policy),
		GitHub: &hub.GitHubAuth{WebURL: w.gh.WebURL(), APIURL: w.gh.URL, ClientID: clientID, ClientSecret: clientSecret,
			Owner: "acme", Repo: "db-roles", Permissions: w.githubClient(zerolog.Nop())},
		Key: key, InsecureCookies: true, RepoURL: strings.TrimSuffix(w.gh.WebURL(), "/") + "/acme/db-roles",
	})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle(hub.Prefix, h.Handler())

	b := newBrowser(t, srv.URL)

	t.Run("signed-out visitor is redirected", func(t *testing.T) {
		b := b.with(t)
		b.open("/hub/resources/db1")
		if loc := b.location(); loc != "/hub/login?next=%2Fhub%2Fresources%2Fdb1" {
			t.Errorf("landed on %s", loc)
		}
		b.screenshot("01-sign-in")
		b.accessible("the sign-in page")
	})

	t.Run("sign in with GitHub", func(t *testing.T) {
		b := b.with(t)
		b.signIn(w.gh, "alice", "/hub/")
		if loc := b.location(); loc != "/hub/" {
			t.Errorf("after sign-in at %s, want /hub/", loc)
		}
		if txt := b.text(); !strings.Contains(txt, "alice (write)") {
			t.Errorf("the page does not name alice:\n%s", txt)
		}
	})

	t.Run("inventory", func(t *testing.T) {
		b := b.with(t)
		b.open("/hub/")
		txt := b.text()
		for _, want := range []string{"db1", "db2", "PostgreSQL " + fmt.Sprint(w.db1.VersionNum/10000), "1 drifted", "resources", "PGTEST_PASSWORD_DB1", "available"} {
			if !strings.Contains(txt, want) {
				t.Errorf("inventory lacks %q:\n%s", want, txt)
			}
		}
		b.screenshot("02-inventory")
		b.accessible("the inventory")
		b.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
		b.screenshot("02-inventory-phone")
		b.do(chromedp.EmulateViewport(1280, 900))
	})

	t.Run("resource with a drifted role", func(t *testing.T) {
		b := b.with(t)
		b.do(chromedp.Click(chromedp.CSS(`a[href="/hub/resources/db1"]`)), chromedp.WaitVisible(chromedp.CSS(`h1`)))
		txt := b.text()
		for _, want := range []string{"Resource db1", reader, "drifted", "REVOKE", "Check now"} {
			if !strings.Contains(txt, want) {
				t.Errorf("resource page lacks %q:\n%s", want, txt)
			}
		}
		b.screenshot("03-resource-drift")
		b.accessible("the resource page")
	})

	t.Run("check now makes a drift session", func(t *testing.T) {
		b := b.with(t)
		before := len(w.sessions(store.Filter{Kind: store.KindDrift}))
		b.do(chromedp.Click(chromedp.CSS(`form[action$="/check"] button`)), chromedp.WaitVisible(chromedp.CSS(`.notice.info`)))
		deadline := time.Now().Add(60 * time.Second)
		for len(w.sessions(store.Filter{Kind: store.KindDrift})) == before {
			if time.Now().After(deadline) {
				t.Fatal("no new drift session after check now")
			}
			time.Sleep(50 * time.Millisecond)
		}
		drift := w.sessions(store.Filter{Kind: store.KindDrift, Limit: 1})[0]
		b.open("/hub/sessions?kind=drift")
		if !strings.Contains(b.html(), "/hub/sessions/"+drift.SID) {
			t.Errorf("the drift sessions page does not link the new drift session %s", drift.SID)
		}
		b.screenshot("07-drift-sessions")
		b.accessible("the sessions page")
		acts := w.sessions(store.Filter{Kind: store.KindAction, Actor: "github:alice"})
		found := false
		for _, a := range acts {
			found = found || strings.Contains(string(a.Detail), `"check now"`)
		}
		if !found {
			t.Error("check now was not recorded as an action session")
		}
	})

	t.Run("pull request whose plan went stale", func(t *testing.T) {
		b := b.with(t)
		b.open("/hub/pulls")
		txt := b.text()
		pr2 := w.pr(2)
		for _, want := range []string{"#2", "plan went stale, waiting for /rolecd apply", "/rolecd apply " + pr2.MergeDigest, "#1", "merged: applied"} {
			if !strings.Contains(txt, want) {
				t.Errorf("pull requests page lacks %q:\n%s", want, txt)
			}
		}
		if !strings.Contains(b.html(), `href="`+strings.TrimSuffix(w.gh.WebURL(), "/")+`/acme/db-roles/pull/2"`) {
			t.Error("no link to the pull request on GitHub")
		}
		b.screenshot("04-pulls")
		b.accessible("the pull requests page")
	})

	t.Run("session page matches the store", func(t *testing.T) {
		b := b.with(t)
		apply := w.sessions(store.Filter{Kind: store.KindApply, Limit: 1})
		if len(apply) != 1 {
			t.Fatalf("%d apply sessions", len(apply))
		}
		want, err := w.st.GetSession(context.Background(), apply[0].SID)
		if err != nil {
			t.Fatal(err)
		}
		b.open("/hub/sessions")
		b.do(chromedp.Click(chromedp.CSS(`a[href="/hub/sessions/`+want.SID+`"]`)), chromedp.WaitVisible(chromedp.CSS(`table.statements`)))
		rows := run(b, chromedp.Evaluate[[][]string](`Array.from(document.querySelectorAll("table.statements tbody tr")).map(tr =>
			[tr.cells[0].innerText, tr.cells[2].querySelector("code").innerText, tr.cells[3].innerText])`))
		if len(rows) != len(want.Statements) || len(rows) == 0 {
			t.Fatalf("the page shows %d statements, the store has %d", len(rows), len(want.Statements))
		}
		for i, st := range want.Statements {
			if rows[i][0] != fmt.Sprint(st.Seq) || rows[i][1] != st.SQL || rows[i][2] != st.Outcome {
				t.Errorf("statement %d: page %q, store %d %q %q", i, rows[i], st.Seq, st.SQL, st.Outcome)
			}
		}
		txt := b.text()
		if !strings.Contains(txt, want.Checksum) || !strings.Contains(txt, writer) {
			t.Errorf("the session page lacks the checksum or the role:\n%s", txt)
		}
		if strings.Contains(b.html(), clientSecret) || strings.Contains(b.html(), w.db1.Password) {
			t.Error("a secret is on the session page")
		}
		b.screenshot("05-session")
		b.accessible("the session page")
	})

	t.Run("a reader is refused the action", func(t *testing.T) {
		b := b.with(t)
		b.signOut()
		b.signIn(w.gh, "bob", "/hub/resources/db2")
		html := b.html()
		if !strings.Contains(html, "bob <small>(read)</small>") || strings.Contains(html, `action="/hub/resources/db2/check"`) {
			t.Fatalf("bob's resource page: signed in as read without the check form?\n%s", b.text())
		}
		before := len(w.sessions(store.Filter{Kind: store.KindDrift}))
		// Bob forges the form with his own valid CSRF token.
		b.do(chromedp.Evaluate[chromedp.Void](`(() => {
			const f = document.createElement("form"); f.method = "post"; f.action = "/hub/resources/db2/check";
			const i = document.createElement("input"); i.name = "csrf"; i.value = document.querySelector("form.who input[name=csrf]").value;
			f.appendChild(i); document.body.appendChild(f); f.submit(); })()`),
			chromedp.WaitVisible(chromedp.Search(`//h1[contains(., "403")]`)))
		if txt := b.text(); !strings.Contains(txt, "needs write permission") {
			t.Errorf("refusal page:\n%s", txt)
		}
		b.screenshot("06-reader-refused")
		b.accessible("the refusal page")
		refused := w.sessions(store.Filter{Kind: store.KindAction, Actor: "github:bob", Status: store.StatusRefused})
		if len(refused) != 1 {
			t.Errorf("%d refused action sessions of bob, want 1", len(refused))
		}
		if n := len(w.sessions(store.Filter{Kind: store.KindDrift})); n != before {
			t.Errorf("a refused check queued a drift check (%d -> %d drift sessions)", before, n)
		}
	})
}
