package hub_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rolecd/rolecd/hub"
	"github.com/rolecd/rolecd/test/githubtest"
)

// oauthHub is the fixture's hub signing in with the in-process GitHub.
func oauthHub(t *testing.T, insecure bool) (*fixture, *githubtest.Server, *httptest.Server) {
	t.Helper()
	gh := githubtest.New(t, "acme", "db-roles")
	gh.RequireToken("bot-token")
	var srv *httptest.Server
	f := newFixture(t, func(o *hub.Options) {
		o.Proxy = nil
		o.InsecureCookies = insecure
		o.Now = time.Now
		o.GitHub = &hub.GitHubAuth{WebURL: gh.WebURL(), APIURL: gh.URL, ClientID: "Iv1.hub", ClientSecret: "hub-secret", Owner: "acme", Repo: "db-roles"}
	})
	srv = httptest.NewServer(f.h)
	t.Cleanup(srv.Close)
	gh.AddOAuthApp(githubtest.OAuthApp{ClientID: "Iv1.hub", ClientSecret: "hub-secret", CallbackURL: srv.URL + "/hub/oauth/callback"})
	return f, gh, srv
}

func browserClient(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar}
}

func get(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestGitHubSignIn(t *testing.T) {
	f, gh, srv := oauthHub(t, true)
	gh.SetPermission("alice", "write")
	gh.SetPermission("bob", "read")
	gh.SetPermission("carol", "none")

	// alice: a signed-out visit to the pull requests goes through GitHub
	// and comes back there, signed in.
	gh.SignInAs("alice")
	alice := browserClient(t)
	resp, body := get(t, alice, srv.URL+"/hub/pulls")
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/hub/login" {
		t.Fatalf("signed out: landed on %s (%d)", resp.Request.URL, resp.StatusCode)
	}
	resp, body = get(t, alice, srv.URL+"/hub/login/github?next="+url.QueryEscape("/hub/pulls"))
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/hub/pulls" || !strings.Contains(body, "alice <small>(write)</small>") {
		t.Fatalf("after sign-in: %s (%d)\n%s", resp.Request.URL, resp.StatusCode, body)
	}
	if gh.Calls(githubtest.OAuthAccessToken) != 1 || gh.Calls(githubtest.GetUser) != 1 || gh.Calls(githubtest.GetPermission) != 1 {
		t.Errorf("GitHub calls: %d exchanges, %d /user, %d permission", gh.Calls(githubtest.OAuthAccessToken), gh.Calls(githubtest.GetUser), gh.Calls(githubtest.GetPermission))
	}
	_, body = get(t, alice, srv.URL+"/hub/resources/billing")
	token := csrfOf(t, body)
	if token == "" {
		t.Fatal("a writer's resource page has no check-now form")
	}
	resp, err := alice.PostForm(srv.URL+"/hub/resources/billing/check", url.Values{"csrf": {token}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Request.URL.RawQuery != "checked=1" || len(f.checks.got()) != 1 {
		t.Errorf("check now: %d at %s, checks %v", resp.StatusCode, resp.Request.URL, f.checks.got())
	}
	// The cookie's CSRF token does not carry over to another sign-in.
	resp, err = browserClient(t).PostForm(srv.URL+"/hub/resources/billing/check", url.Values{"csrf": {token}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a token without its cookie: %d, want 401", resp.StatusCode)
	}

	// bob reads but may not act.
	gh.SignInAs("bob")
	bob := browserClient(t)
	resp, body = get(t, bob, srv.URL+"/hub/login/github?next="+url.QueryEscape("/hub/resources/billing"))
	if resp.StatusCode != 200 || !strings.Contains(body, "bob <small>(read)</small>") || csrfOf(t, body) != "" {
		t.Fatalf("bob: %s (%d)", resp.Request.URL, resp.StatusCode)
	}
	resp, err = bob.PostForm(srv.URL+"/hub/resources/billing/check", url.Values{"csrf": {layoutCSRF(t, body)}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || len(f.checks.got()) != 1 {
		t.Errorf("bob's check now: %d, checks %v", resp.StatusCode, f.checks.got())
	}

	// carol has no access; dave is unknown to the repository (404).
	for _, who := range []string{"carol", "dave"} {
		gh.SignInAs(who)
		resp, _ = get(t, browserClient(t), srv.URL+"/hub/login/github")
		if resp.Request.URL.Path != "/hub/login" || resp.Request.URL.Query().Get("problem") != "denied" {
			t.Errorf("%s: landed on %s, want the sign-in page with problem=denied", who, resp.Request.URL)
		}
	}

	// A callback with a state that is not this browser's is refused.
	resp, _ = get(t, browserClient(t), srv.URL+"/hub/oauth/callback?code=abc&state=forged")
	if resp.Request.URL.Query().Get("problem") != "state" {
		t.Errorf("forged state: landed on %s", resp.Request.URL)
	}
	// Signing out ends the session.
	_, body = get(t, alice, srv.URL+"/hub/")
	resp, err = alice.PostForm(srv.URL+"/hub/logout", url.Values{"csrf": {layoutCSRF(t, body)}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Request.URL.Path != "/hub/login" {
		t.Errorf("sign-out landed on %s", resp.Request.URL)
	}
	if resp, _ := get(t, alice, srv.URL+"/hub/"); resp.Request.URL.Path != "/hub/login" {
		t.Errorf("after sign-out /hub/ landed on %s", resp.Request.URL)
	}
}

// TestSessionCookie: Secure, HttpOnly, SameSite=Lax, and tampering with it
// signs the visitor out.
func TestSessionCookie(t *testing.T) {
	gh := githubtest.New(t, "acme", "db-roles")
	f := newFixture(t, func(o *hub.Options) {
		o.Proxy = nil
		o.LocalToken = "local-token-0123456789"
		o.GitHub = &hub.GitHubAuth{WebURL: gh.WebURL(), APIURL: gh.URL, ClientID: "Iv1.hub", ClientSecret: "hub-secret", Owner: "acme", Repo: "db-roles"}
	})
	if rec := f.do("GET", "/hub/login/token?token=wrong-token-0123456789", "", nil); rec.Header().Get("Location") != "/hub/login?problem=token" {
		t.Errorf("a wrong local token: %d to %q", rec.Code, rec.Header().Get("Location"))
	}
	rec := f.do("POST", "/hub/login/token", "", strings.NewReader("token=local-token-0123456789&next=/hub/pulls"))
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/hub/pulls" {
		t.Fatalf("local token: %d to %q", rec.Code, rec.Header().Get("Location"))
	}
	var c *http.Cookie
	for _, k := range rec.Result().Cookies() {
		if k.Name == "rolecd_hub" {
			c = k
		}
	}
	if c == nil || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/hub/" {
		t.Fatalf("session cookie %+v: want Secure, HttpOnly, SameSite=Lax, Path=/hub/", c)
	}
	if rec := f.do("POST", "/hub/login/token", "", strings.NewReader("token=local-token-0123456789")); rec.Header().Get("Location") != "/hub/login?problem=token" {
		t.Errorf("the local token works twice")
	}
	with := func(value string) int {
		req := newRequest("GET", "/hub/", "")
		req.AddCookie(&http.Cookie{Name: "rolecd_hub", Value: value})
		return serve(f.h, req).Code
	}
	if code := with(c.Value); code != 200 {
		t.Errorf("with the cookie: %d", code)
	}
	tampered := []byte(c.Value)
	tampered[len(tampered)/2] ^= 1
	for _, v := range []string{string(tampered), "", "garbage", strings.Repeat("A", 5000)} {
		if code := with(v); code != http.StatusSeeOther {
			t.Errorf("a tampered cookie %.20q: %d, want 303 to sign in", v, code)
		}
	}
	// An open redirect through next is not possible.
	for _, next := range []string{"https://evil.example/", "//evil.example/", "/\\evil.example", "/hub//evil"} {
		f2 := newFixture(t, func(o *hub.Options) { o.Proxy = nil; o.LocalToken = "local-token-0123456789" })
		rec := f2.do("POST", "/hub/login/token", "", strings.NewReader(url.Values{"token": {"local-token-0123456789"}, "next": {next}}.Encode()))
		if loc := rec.Header().Get("Location"); loc != "/hub/" {
			t.Errorf("next=%q redirected to %q", next, loc)
		}
	}
}
