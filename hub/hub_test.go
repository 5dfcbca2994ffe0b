package hub_test

import (
	"context"
	"errors"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/rolecd/rolecd/hub"
	"github.com/rolecd/rolecd/internal/golden"
	"github.com/rolecd/rolecd/planner/spec"
	"github.com/rolecd/rolecd/store"
)

// TestPagesGolden renders every page over the fixture and compares it
// with testdata/pages/*.html.
func TestPagesGolden(t *testing.T) {
	f := newFixture(t, nil)
	for _, tc := range []struct{ name, url, user string }{
		{"inventory", "/hub/", "alice"},
		{"inventory-filtered", "/hub/?stage=ready&sort=attention", "alice"},
		{"resource-billing", "/hub/resources/billing", "alice"},
		{"resource-analytics-reader", "/hub/resources/analytics", "rita"},
		{"pulls", "/hub/pulls", "alice"},
		{"sessions", "/hub/sessions", "alice"},
		{"sessions-failed-applies", "/hub/sessions?kind=apply&status=failed&resource=billing&since=2026-03-01&until=2026-03-02", "alice"},
		{"session-apply", "/hub/sessions/apply-1", "alice"},
		{"session-failed", "/hub/sessions/apply-2", "alice"},
		{"session-running", "/hub/sessions/apply-3", "alice"},
		{"session-interrupted", "/hub/sessions/apply-4", "alice"},
		{"session-drift", "/hub/sessions/drift-1", "alice"},
		{"session-apply-json", "/hub/sessions/apply-1.json", "alice"},
		{"login", "/hub/login?next=/hub/pulls", ""},
		{"not-found", "/hub/sessions/nope", "alice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := f.h
			if tc.user == "rita" {
				// A reader: same store, proxy users with read permission.
				h = newFixtureOn(t, f, "read").h
			}
			req := newRequest("GET", tc.url, tc.user)
			rec := serve(h, req)
			want := http.StatusOK
			if tc.name == "not-found" {
				want = http.StatusNotFound
			}
			if rec.Code != want {
				t.Fatalf("GET %s: %d, want %d\n%s", tc.url, rec.Code, want, rec.Body)
			}
			ext := ".html"
			if strings.HasSuffix(tc.url, ".json") {
				ext = ".json"
			}
			golden.Assert(t, "pages/"+tc.name+ext, rec.Body.Bytes())
		})
	}
}

// TestNoSecretRendered: the fixture's stored ciphertexts and credential
// sources never reach a page beyond the source's name.
func TestNoSecretRendered(t *testing.T) {
	f := newFixture(t, nil)
	for _, u := range []string{"/hub/", "/hub/resources/analytics", "/hub/resources/billing", "/hub/sessions/apply-1", "/hub/sessions/apply-1.json"} {
		body := f.do("GET", u, "alice", nil).Body.String()
		for _, secret := range []string{"sealed", string(testKey)} {
			if strings.Contains(body, secret) {
				t.Errorf("%s renders %q", u, secret)
			}
		}
	}
}

// TestBadInput: unknown ids, hostile query strings and long filters are
// 404 or 400, never a 500 or a stack trace.
func TestBadInput(t *testing.T) {
	f := newFixture(t, nil)
	long := strings.Repeat("x", 5000)
	for _, tc := range []struct {
		url  string
		want int
	}{
		{"/hub/sessions/does-not-exist", 404},
		{"/hub/sessions/" + url.PathEscape("../../etc/passwd"), 404},
		{"/hub/sessions/%00", 404},
		{"/hub/sessions/" + strings.Repeat("a", 300), 404},
		{"/hub/sessions/x.json", 404},
		{"/hub/resources/nope", 404},
		{"/hub/resources/" + url.PathEscape("<script>alert(1)</script>"), 404},
		{"/hub/nowhere", 404},
		{"/hub/sessions?kind=bogus", 400},
		{"/hub/sessions?status=" + url.QueryEscape("applied' OR 1=1 --"), 400},
		{"/hub/sessions?since=yesterday", 400},
		{"/hub/sessions?until=2026-13-45", 400},
		{"/hub/sessions?limit=-1", 400},
		{"/hub/sessions?limit=99999999999999999999", 400},
		{"/hub/sessions?resource=" + strings.Repeat("r", 201), 400},
		{"/hub/sessions?actor=" + long, 400},
		{"/hub/sessions?role=%ff%fe", 400},
		{"/hub/sessions?role=a%0Ab", 400},
		{"/hub/sessions?kind=%zz", 400},
		{"/hub/?stage=everything", 400},
		{"/hub/?sort=" + url.QueryEscape("name; DROP TABLE sessions"), 400},
		{"/hub/?q=" + strings.Repeat("q", 300), 400},
		{"/hub/sessions?resource=" + url.QueryEscape(`"><script>alert(1)</script>`), 200},
	} {
		rec := f.do("GET", tc.url, "alice", nil)
		body := rec.Body.String()
		if rec.Code != tc.want {
			t.Errorf("GET %.80s: %d, want %d", tc.url, rec.Code, tc.want)
		}
		for _, leak := range []string{"goroutine", "panic", ".go:", "<script>alert"} {
			if strings.Contains(body, leak) {
				t.Errorf("GET %.80s: the answer contains %q", tc.url, leak)
			}
		}
	}
}

// TestSignedOutIsRedirected: every page sends a visitor who is not signed
// in to the sign-in page, and an action without a sign-in is refused.
func TestSignedOutIsRedirected(t *testing.T) {
	f := newFixture(t, nil)
	for _, u := range []string{"/hub/", "/hub/resources/billing", "/hub/pulls", "/hub/sessions", "/hub/sessions/apply-1", "/hub/sessions/apply-1.json"} {
		rec := f.do("GET", u, "", nil)
		if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/hub/login?next="+url.QueryEscape(u) {
			t.Errorf("GET %s signed out: %d to %q", u, rec.Code, rec.Header().Get("Location"))
		}
	}
	// The proxy header from any other address is ignored.
	req := newRequest("GET", "/hub/", "mallory")
	req.RemoteAddr = "192.0.2.7:5555"
	if rec := serve(f.h, req); rec.Code != http.StatusSeeOther {
		t.Errorf("a proxy header from outside the proxy's addresses: %d, want 303", rec.Code)
	}
	if rec := f.do("POST", "/hub/resources/billing/check", "", strings.NewReader("csrf=x")); rec.Code != http.StatusUnauthorized {
		t.Errorf("POST check signed out: %d, want 401", rec.Code)
	}
	if len(f.checks.got()) != 0 {
		t.Errorf("a drift check was queued: %v", f.checks.got())
	}
}

// TestCheckNow: a writer queues a drift check with a valid CSRF token;
// without the token, or as a reader, it is refused, and each attempt is an
// audit session.
func TestCheckNow(t *testing.T) {
	f := newFixture(t, nil)
	token := csrfOf(t, f.do("GET", "/hub/resources/billing", "alice", nil).Body.String())
	if rec := f.do("POST", "/hub/resources/billing/check", "alice", strings.NewReader("csrf=wrong")); rec.Code != http.StatusForbidden {
		t.Errorf("bad CSRF token: %d, want 403", rec.Code)
	}
	if rec := f.do("POST", "/hub/resources/billing/check", "alice", strings.NewReader("")); rec.Code != http.StatusForbidden {
		t.Errorf("no CSRF token: %d, want 403", rec.Code)
	}
	if got := f.checks.got(); len(got) != 0 {
		t.Fatalf("queued without a valid token: %v", got)
	}
	rec := f.do("POST", "/hub/resources/billing/check", "alice", strings.NewReader("csrf="+url.QueryEscape(token)))
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/hub/resources/billing?checked=1" {
		t.Fatalf("check now: %d to %q", rec.Code, rec.Header().Get("Location"))
	}
	if got := f.checks.got(); len(got) != 1 || got[0] != "billing" {
		t.Fatalf("queued %v, want [billing]", got)
	}
	if rec := f.do("POST", "/hub/resources/nope/check", "alice", strings.NewReader("csrf="+url.QueryEscape(token))); rec.Code != http.StatusNotFound {
		t.Errorf("check now of an unknown resource: %d, want 404", rec.Code)
	}

	reader := newFixtureOn(t, f, "read")
	rtoken := csrfOf(t, serve(reader.h, newRequest("GET", "/hub/resources/analytics", "rita")).Body.String())
	if rtoken != "" {
		t.Errorf("a reader's page offers the check-now form")
	}
	// A reader who forges the form anyway (with their own valid token).
	if rec := serve(reader.h, postRequest("/hub/resources/analytics/check", "rita", "csrf="+url.QueryEscape(layoutCSRF(t, serve(reader.h, newRequest("GET", "/hub/", "rita")).Body.String())))); rec.Code != http.StatusForbidden {
		t.Errorf("a reader's check now: %d, want 403", rec.Code)
	}
	if got := f.checks.got(); len(got) != 1 {
		t.Errorf("a refused check was queued: %v", got)
	}

	actions, err := f.store.ListSessions(context.Background(), store.Filter{Kind: store.KindAction})
	if err != nil {
		t.Fatal(err)
	}
	var ok, refused int
	for _, s := range actions {
		switch s.Status {
		case store.StatusOK:
			ok++
			if s.Actor != "proxy:alice" || len(s.Resources) != 1 || s.Resources[0] != "billing" {
				t.Errorf("check-now session: actor %q resources %v", s.Actor, s.Resources)
			}
		case store.StatusRefused:
			refused++
		}
	}
	if ok != 1 || refused != 3 {
		t.Errorf("action sessions: %d ok, %d refused; want 1 and 3", ok, refused)
	}
	views, err := f.store.ListSessions(context.Background(), store.Filter{Kind: store.KindView, Actor: "proxy:rita"})
	if err != nil {
		t.Fatal(err)
	}
	if len(views) != 2 {
		t.Errorf("rita's views: %d sessions, want 2", len(views))
	}
}

// TestNew refuses a hub nobody could sign in to, and short keys.
func TestNew(t *testing.T) {
	st := openStore(t)
	inv := hub.StaticInventory{Tree: loadTree(t)}
	for _, tc := range []struct {
		name string
		opts hub.Options
		want string
	}{
		{"open", hub.Options{Store: st, Inventory: inv, Key: testKey}, "never open"},
		{"short key", hub.Options{Store: st, Inventory: inv, Key: []byte("short"), LocalToken: "0123456789abcdefXYZ"}, "at least 32"},
		{"proxy without addresses", hub.Options{Store: st, Inventory: inv, Key: testKey, Proxy: &hub.ProxyAuth{Header: "X-User"}}, "proxy's addresses"},
		{"github without secret", hub.Options{Store: st, Inventory: inv, Key: testKey, GitHub: &hub.GitHubAuth{ClientID: "x"}}, "client secret"},
	} {
		if _, err := hub.New(tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
	}
}

// countingPerms answers fixed permissions and counts the lookups.
type countingPerms struct {
	perms map[string]string
	calls int
}

func (c *countingPerms) Permission(_ context.Context, user string) (string, error) {
	c.calls++
	if p, ok := c.perms[user]; ok {
		return p, nil
	}
	return "none", nil
}

// TestProxyWithGitHubPermissions: behind the proxy, the user's GitHub
// permission decides, looked up once per PermissionTTL.
func TestProxyWithGitHubPermissions(t *testing.T) {
	perms := &countingPerms{perms: map[string]string{"alice": "write", "rita": "read"}}
	f := newFixture(t, func(o *hub.Options) { o.Proxy.Permissions = perms })
	for range 3 {
		if rec := f.do("GET", "/hub/", "alice", nil); rec.Code != 200 {
			t.Fatalf("alice: %d", rec.Code)
		}
	}
	if perms.calls != 1 {
		t.Errorf("%d lookups for three views, want 1", perms.calls)
	}
	if body := f.do("GET", "/hub/resources/billing", "rita", nil).Body.String(); csrfOf(t, body) != "" || !strings.Contains(body, "rita <small>(read)</small>") {
		t.Error("rita (read on GitHub) is offered the check-now form or not shown as a reader")
	}
	if rec := f.do("GET", "/hub/", "mallory", nil); rec.Code != http.StatusForbidden {
		t.Errorf("a proxy user without GitHub access: %d, want 403", rec.Code)
	}
}

// brokenInventory is a branch whose role files do not load.
type brokenInventory struct{}

func (brokenInventory) Head(context.Context) (string, *spec.Tree, error) {
	return "", nil, errors.New("roles.yaml:3: unknown key")
}

// TestBrokenBranch: invalid role files on the branch are a 503 that says
// so, while the sessions stay readable.
func TestBrokenBranch(t *testing.T) {
	f := newFixture(t, func(o *hub.Options) { o.Inventory = brokenInventory{} })
	rec := f.do("GET", "/hub/", "alice", nil)
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "role files at the branch head cannot be read") {
		t.Errorf("inventory over a broken branch: %d\n%s", rec.Code, rec.Body)
	}
	if rec := f.do("GET", "/hub/sessions/apply-1", "alice", nil); rec.Code != 200 {
		t.Errorf("a session over a broken branch: %d", rec.Code)
	}
}

// TestSessionsPaging: the older-sessions link leads to the next page with
// the same filter.
func TestSessionsPaging(t *testing.T) {
	f := newFixture(t, nil)
	body := f.do("GET", "/hub/sessions?limit=2&kind=apply", "alice", nil).Body.String()
	m := regexp.MustCompile(`href="(/hub/sessions\?[^"]+)">Older sessions`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no older-sessions link:\n%s", body)
	}
	next := f.do("GET", html.UnescapeString(m[1]), "alice", nil).Body.String()
	if !strings.Contains(next, `/hub/sessions/apply-1"`) || strings.Contains(next, `/hub/sessions/apply-3"`) || strings.Contains(next, "Older sessions") {
		t.Errorf("the second page should hold apply-1 only:\n%s", next)
	}
}

// TestLoginPageGolden: the sign-in page with GitHub and a local token.
func TestLoginPageGolden(t *testing.T) {
	f := newFixture(t, func(o *hub.Options) {
		o.LocalToken = "local-token-0123456789"
		o.GitHub = &hub.GitHubAuth{WebURL: "https://github.com/", APIURL: "https://api.github.com/", ClientID: "Iv1.hub", ClientSecret: "hub-secret", Owner: "acme", Repo: "db-roles"}
	})
	rec := f.do("GET", "/hub/login?next="+url.QueryEscape("/hub/sessions?kind=apply&status=failed")+"&problem=denied", "", nil)
	if rec.Code != 200 {
		t.Fatalf("%d", rec.Code)
	}
	golden.Assert(t, "pages/login-github.html", rec.Body.Bytes())
	if strings.Contains(rec.Body.String(), "hub-secret") || strings.Contains(rec.Body.String(), "local-token-0123456789") {
		t.Error("the sign-in page shows a secret")
	}
	// The redirect to GitHub carries the client id, the callback and a state.
	loc, err := url.Parse(f.do("GET", "/hub/login/github?next=/hub/pulls", "", nil).Header().Get("Location"))
	if err != nil || loc.Host != "github.com" || loc.Path != "/login/oauth/authorize" || loc.Query().Get("client_id") != "Iv1.hub" ||
		loc.Query().Get("redirect_uri") != "https://example.com/hub/oauth/callback" || len(loc.Query().Get("state")) < 20 {
		t.Errorf("authorize redirect: %v", loc)
	}
}
