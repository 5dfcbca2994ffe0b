package githubtest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/rolecd/rolecd/test/githubtest"
)

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func exchange(t *testing.T, s *githubtest.Server, form url.Values, accept string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest("POST", s.WebURL()+"login/oauth/access_token", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func TestOAuthWebFlow(t *testing.T) {
	s := githubtest.New(t, "acme", "db-roles")
	s.RequireToken("bot-token")
	s.SetPermission("alice", "write")
	callback := "http://127.0.0.1:9/hub/oauth/callback"
	s.AddOAuthApp(githubtest.OAuthApp{ClientID: "Iv1.client", ClientSecret: "s3cret", CallbackURL: callback})

	authorize := func(q url.Values) *http.Response {
		t.Helper()
		resp, err := noRedirect.Get(s.WebURL() + "login/oauth/authorize?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	q := url.Values{"client_id": {"Iv1.client"}, "redirect_uri": {callback}, "state": {"xyz"}}
	if resp := authorize(q); resp.StatusCode != http.StatusOK {
		t.Errorf("authorize with nobody signed in to GitHub: %d, want GitHub's sign-in page (200)", resp.StatusCode)
	}
	if resp := authorize(url.Values{"client_id": {"unknown"}}); resp.StatusCode != http.StatusNotFound {
		t.Errorf("authorize for an unknown app: %d, want 404", resp.StatusCode)
	}
	s.SignInAs("alice")
	mismatch := authorize(url.Values{"client_id": {"Iv1.client"}, "redirect_uri": {"http://evil.example/cb"}, "state": {"xyz"}})
	if loc, _ := url.Parse(mismatch.Header.Get("Location")); mismatch.StatusCode != http.StatusFound || loc.Query().Get("error") != "redirect_uri_mismatch" {
		t.Errorf("a foreign redirect_uri: %d to %q, want an error redirect to the callback", mismatch.StatusCode, mismatch.Header.Get("Location"))
	}
	resp := authorize(q)
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc.String(), callback+"?") || loc.Query().Get("state") != "xyz" || loc.Query().Get("code") == "" {
		t.Fatalf("authorize: %d to %q, want the callback with code and state", resp.StatusCode, resp.Header.Get("Location"))
	}
	code := loc.Query().Get("code")

	_, body, _ := exchange(t, s, url.Values{"client_id": {"Iv1.client"}, "client_secret": {"wrong"}, "code": {code}}, "application/json")
	if !strings.Contains(body, `"incorrect_client_credentials"`) {
		t.Errorf("a wrong client secret: %s", body)
	}
	status, body, hdr := exchange(t, s, url.Values{"client_id": {"Iv1.client"}, "client_secret": {"s3cret"}, "code": {code}, "redirect_uri": {callback}}, "application/json")
	var tok struct{ AccessToken, TokenType string }
	var raw map[string]string
	if err := json.Unmarshal([]byte(body), &raw); err != nil || status != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
		t.Fatalf("exchange: %d %s", status, body)
	}
	tok.AccessToken, tok.TokenType = raw["access_token"], raw["token_type"]
	if !strings.HasPrefix(tok.AccessToken, "gho_") || tok.TokenType != "bearer" {
		t.Fatalf("exchange: %s", body)
	}
	if _, body, _ := exchange(t, s, url.Values{"client_id": {"Iv1.client"}, "client_secret": {"s3cret"}, "code": {code}}, ""); !strings.Contains(body, "error=bad_verification_code") {
		t.Errorf("a code used twice (form-encoded answer): %s", body)
	}

	get := func(path, token string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest("GET", s.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&v)
		return resp.StatusCode, v
	}
	if code, u := get("user", tok.AccessToken); code != 200 || u["login"] != "alice" {
		t.Errorf("GET /user with alice's token: %d %v", code, u)
	}
	if code, u := get("user", "bot-token"); code != 200 || u["login"] != githubtest.BotLogin {
		t.Errorf("GET /user with the API token: %d %v", code, u)
	}
	if code, _ := get("user", "gho_forged"); code != 401 {
		t.Errorf("GET /user with a forged token: %d, want 401", code)
	}
	if code, p := get("repos/acme/db-roles/collaborators/alice/permission", tok.AccessToken); code != 200 || p["permission"] != "write" {
		t.Errorf("permission with alice's token: %d %v", code, p)
	}
	if code, _ := get("repos/acme/db-roles/collaborators/bob/permission", tok.AccessToken); code != 404 {
		t.Errorf("permission of a stranger: %d, want 404", code)
	}
	if s.Calls(githubtest.OAuthAccessToken) != 3 || s.Calls(githubtest.GetUser) != 3 || s.OAuthTokens() != 1 {
		t.Errorf("calls: %d token exchanges, %d /user, %d tokens", s.Calls(githubtest.OAuthAccessToken), s.Calls(githubtest.GetUser), s.OAuthTokens())
	}
}
