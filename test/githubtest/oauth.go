package githubtest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"html"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	gh "github.com/google/go-github/v60/github"
)

// OAuth endpoint names, as counted by Server.Calls. The first two are on
// the web host (GitHub's https://github.com/login/oauth/...; for GitHub
// Enterprise https://HOST/login/oauth/...), so under Server.WebURL; /user
// is in the API.
const (
	OAuthAuthorize   = "GET /login/oauth/authorize"
	OAuthAccessToken = "POST /login/oauth/access_token"
	GetUser          = "GET /user"
)

// oauthCodeTTL is how long an authorization code may be exchanged
// (GitHub: ten minutes).
const oauthCodeTTL = 10 * time.Minute

// OAuthApp is a registered OAuth app.
type OAuthApp struct {
	ClientID, ClientSecret string
	// CallbackURL is the registered callback: redirect_uri must equal it
	// or be below it.
	CallbackURL string
}

type oauthCode struct {
	login, clientID, redirect string
	expires                   time.Time
}

// WebURL is the web host's base, "http://127.0.0.1:PORT/" (GitHub's
// https://github.com/), where /login/oauth/... lives.
func (s *Server) WebURL() string { return s.srv.URL + "/" }

// AddOAuthApp registers an OAuth app.
func (s *Server) AddOAuthApp(app OAuthApp) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apps[app.ClientID] = app
}

// SignInAs makes login the user signed in to GitHub in the browser: the
// authorize page approves the app for them at once. "" signs out (the
// authorize page then answers with GitHub's sign-in page, 200, no
// redirect).
func (s *Server) SignInAs(login string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.browserUser = login
}

// OAuthTokens returns how many user tokens the server issued.
func (s *Server) OAuthTokens() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.userTokens)
}

func (s *Server) registerOAuth() {
	for _, r := range []struct {
		name string
		h    http.HandlerFunc
	}{
		{OAuthAuthorize, s.authorize},
		{OAuthAccessToken, s.accessToken},
	} {
		s.routes[r.name] = r.name
		s.web[r.name] = true
		s.mux.HandleFunc(r.name, r.h)
	}
	pattern := "GET " + apiPrefix + "/user"
	s.routes[pattern] = GetUser
	s.mux.HandleFunc(pattern, s.getUser)
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// redirectAllowed is GitHub's rule: same scheme, host and port as the
// callback URL, and a path at or below its path.
func redirectAllowed(callback, redirect string) bool {
	c, err1 := url.Parse(callback)
	r, err2 := url.Parse(redirect)
	if err1 != nil || err2 != nil {
		return false
	}
	return c.Scheme == r.Scheme && c.Host == r.Host && strings.HasPrefix(r.Path, c.Path)
}

// authorize serves GET /login/oauth/authorize: with a signed-in browser
// user, it approves at once and redirects to redirect_uri with code and
// state, as GitHub does for an app the user already authorised.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	app, ok := s.apps[q.Get("client_id")]
	login := s.browserUser
	s.mu.Unlock()
	if !ok {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte("<!doctype html><title>Page not found · GitHub</title><p>Not Found</p>\n"))
		return
	}
	redirect := q.Get("redirect_uri")
	if redirect == "" {
		redirect = app.CallbackURL
	}
	state := q.Get("state")
	if !redirectAllowed(app.CallbackURL, redirect) {
		v := url.Values{"error": {"redirect_uri_mismatch"},
			"error_description": {"The redirect_uri MUST match the registered callback URL for this application."},
			"error_uri":         {"https://docs.github.com/apps/managing-oauth-apps/troubleshooting-authorization-request-errors/#redirect-uri-mismatch"},
			"state":             {state}}
		http.Redirect(w, r, app.CallbackURL+sep(app.CallbackURL)+v.Encode(), http.StatusFound)
		return
	}
	if login == "" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte("<!doctype html><title>Sign in to GitHub · GitHub</title><form action=\"/session\" method=\"post\"><input name=\"login\"></form>\n<!-- return_to " +
			html.EscapeString(r.URL.RequestURI()) + " -->\n"))
		return
	}
	code := randomHex(10)
	s.mu.Lock()
	s.codes[code] = oauthCode{login: login, clientID: app.ClientID, redirect: redirect, expires: time.Now().Add(oauthCodeTTL)}
	s.mu.Unlock()
	v := url.Values{"code": {code}}
	if state != "" {
		v.Set("state", state)
	}
	http.Redirect(w, r, redirect+sep(redirect)+v.Encode(), http.StatusFound)
}

func sep(u string) string {
	if strings.Contains(u, "?") {
		return "&"
	}
	return "?"
}

// accessToken serves POST /login/oauth/access_token: GitHub answers 200
// even for errors, as JSON with Accept: application/json, else
// form-encoded.
func (s *Server) accessToken(w http.ResponseWriter, r *http.Request) {
	params := url.Values{}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/json" {
		var body map[string]string
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			s.writeError(w, http.StatusBadRequest, nil, "Problems parsing JSON")
			return
		}
		for k, v := range body {
			params.Set(k, v)
		}
	} else {
		if err := r.ParseForm(); err != nil {
			s.writeError(w, http.StatusBadRequest, nil, "Problems parsing the form")
			return
		}
		params = r.Form
	}
	answer := func(v map[string]string) {
		if strings.Contains(r.Header.Get("Accept"), "application/json") {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			_ = json.NewEncoder(w).Encode(v)
			return
		}
		form := url.Values{}
		for k, val := range v {
			form.Set(k, val)
		}
		w.Header().Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		_, _ = w.Write([]byte(form.Encode()))
	}
	fail := func(code, desc, uri string) {
		answer(map[string]string{"error": code, "error_description": desc, "error_uri": "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#" + uri})
	}
	s.mu.Lock()
	app, ok := s.apps[params.Get("client_id")]
	code, known := s.codes[params.Get("code")]
	if known && ok && app.ClientSecret == params.Get("client_secret") {
		delete(s.codes, params.Get("code")) // a code works once
	}
	s.mu.Unlock()
	switch {
	case !ok || app.ClientSecret != params.Get("client_secret"):
		fail("incorrect_client_credentials", "The client_id and/or client_secret passed are incorrect.", "incorrect-client-credentials")
		return
	case !known || code.clientID != app.ClientID || time.Now().After(code.expires):
		fail("bad_verification_code", "The code passed is incorrect or expired.", "bad-verification-code")
		return
	case params.Get("redirect_uri") != "" && params.Get("redirect_uri") != code.redirect:
		fail("redirect_uri_mismatch", "The redirect_uri MUST match the registered callback URL for this application.", "redirect-uri-mismatch")
		return
	}
	token := "gho_" + randomHex(18)
	s.mu.Lock()
	s.userTokens[token] = code.login
	s.mu.Unlock()
	answer(map[string]string{"access_token": token, "token_type": "bearer", "scope": ""})
}

// getUser serves GET /user: the user a token belongs to (the bot for the
// API token).
func (s *Server) getUser(w http.ResponseWriter, r *http.Request) {
	_, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	s.mu.Lock()
	login, ok := s.userTokens[token]
	s.mu.Unlock()
	if !ok {
		login = BotLogin
	}
	u := user(login)
	u.HTMLURL = gh.String(s.srv.URL + "/" + login)
	u.URL = gh.String(s.URL + "users/" + login)
	u.Name = gh.String(strings.ToUpper(login[:1]) + login[1:])
	s.writeJSON(w, http.StatusOK, u)
}
