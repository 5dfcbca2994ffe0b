package hub

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/rolecd/rolecd/internal/forge"
)

// identity is a signed-in visitor, kept in the sealed session cookie.
type identity struct {
	Login   string `json:"l"`
	Via     string `json:"v"` // github, proxy or local
	Perm    string `json:"p"`
	ID      string `json:"i"` // random per sign-in: the CSRF token's seed
	Expires int64  `json:"e"` // unix seconds
	Checked int64  `json:"c"` // when Perm was last looked up
}

// Actor is how the visitor appears in audit sessions.
func (id *identity) Actor() string {
	if id.Via == "local" {
		return "local"
	}
	return id.Via + ":" + id.Login
}

// CanAct reports whether the visitor may take actions (write or more).
func (id *identity) CanAct() bool { return forge.AtLeast(id.Perm, "write") }

// maxLogin bounds a login from a proxy header or GitHub.
const maxLogin = 100

// identify returns the signed-in visitor, or nil. A refreshed cookie is
// set when the permission was looked up again.
func (h *Hub) identify(w http.ResponseWriter, r *http.Request) *identity {
	if p := h.opts.Proxy; p != nil && fromProxy(r, p.From) {
		login := strings.TrimSpace(r.Header.Get(p.Header))
		if login == "" || len(login) > maxLogin || !printable(login) {
			return nil
		}
		id := &identity{Login: login, Via: "proxy", Perm: p.Permission, ID: "proxy:" + login}
		if p.Permissions != nil {
			perm, err := h.cachedPermission(r.Context(), p.Permissions, login)
			if err != nil {
				h.log.Warn().Err(err).Str("user", login).Msg("looking up a proxy user's permission")
				return nil
			}
			id.Perm = perm
		}
		return id
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}
	var id identity
	if h.keys.open(sessionCookie, c.Value, &id) != nil || id.Login == "" || id.ID == "" {
		return nil
	}
	now := h.opts.Now()
	if now.Unix() >= id.Expires {
		return nil
	}
	if id.Via == "github" && now.Sub(time.Unix(id.Checked, 0)) >= h.opts.PermissionTTL {
		perms := h.opts.GitHub.Permissions
		if perms == nil {
			return nil // only the user's token could look it up: sign in again
		}
		perm, err := perms.Permission(r.Context(), id.Login)
		if err != nil {
			h.log.Warn().Err(err).Str("user", id.Login).Msg("re-checking a user's permission")
			return nil
		}
		id.Perm, id.Checked = perm, now.Unix()
		if err := h.setSession(w, &id); err != nil {
			return nil
		}
	}
	return &id
}

// fromProxy reports whether the request comes from one of the proxy's
// addresses (the TCP peer, never a forwarded-for header).
func fromProxy(r *http.Request, from []netip.Prefix) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	addr = addr.Unmap()
	for _, p := range from {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

func printable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// setSession sets the session cookie.
func (h *Hub) setSession(w http.ResponseWriter, id *identity) error {
	v, err := h.keys.seal(sessionCookie, id)
	if err != nil {
		return err
	}
	http.SetCookie(w, h.cookie(sessionCookie, v, time.Unix(id.Expires, 0)))
	return nil
}

func (h *Hub) cookie(name, value string, expires time.Time) *http.Cookie {
	return &http.Cookie{
		Name: name, Value: value, Path: Prefix, Expires: expires,
		Secure: !h.opts.InsecureCookies, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	}
}

func (h *Hub) clearCookie(w http.ResponseWriter, name string) {
	c := h.cookie(name, "", time.Unix(0, 0))
	c.MaxAge = -1
	http.SetCookie(w, c)
}

// signIn starts a sign-in session for login and redirects to next.
func (h *Hub) signIn(w http.ResponseWriter, r *http.Request, login, via, perm, next string) {
	sid, err := randomID()
	if err != nil {
		h.fail(w, r, http.StatusInternalServerError, "signing in failed")
		return
	}
	now := h.opts.Now()
	id := &identity{Login: login, Via: via, Perm: perm, ID: sid, Expires: now.Add(h.opts.SessionTTL).Unix(), Checked: now.Unix()}
	if err := h.setSession(w, id); err != nil {
		h.fail(w, r, http.StatusInternalServerError, "signing in failed")
		return
	}
	if !h.audit(w, r, id, "sign-in", nil) {
		return
	}
	http.Redirect(w, r, safeNext(next), http.StatusSeeOther)
}

// safeNext keeps a post-sign-in destination only when it is one of the
// hub's own paths.
func safeNext(next string) string {
	if len(next) > 2048 || !strings.HasPrefix(next, Prefix) || strings.ContainsAny(next, "\\\r\n") || strings.Contains(next, "//") {
		return Prefix
	}
	return next
}

// loginPage serves GET /hub/login: the ways in.
func (h *Hub) loginPage(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	h.mu.Lock()
	local := h.localToken != ""
	h.mu.Unlock()
	h.render(w, r, http.StatusOK, "login", nil, loginData{
		Next: next, GitHub: h.opts.GitHub != nil, Local: local, Proxy: h.opts.Proxy != nil,
		Repo: h.repoName(), Problem: loginProblem(r.URL.Query().Get("problem")),
	})
}

type loginData struct {
	Next                 string
	GitHub, Local, Proxy bool
	Repo                 string
	Problem              string
}

// loginProblem maps a problem code to its message (never echoing input).
func loginProblem(code string) string {
	switch code {
	case "denied":
		return "Your GitHub account has no access to the watched repository."
	case "state":
		return "The sign-in took too long or came from another browser: please try again."
	case "github":
		return "GitHub did not confirm the sign-in: please try again."
	case "token":
		return "That sign-in token is not valid (it works once)."
	}
	return ""
}

func (h *Hub) repoName() string {
	if g := h.opts.GitHub; g != nil {
		return g.Owner + "/" + g.Repo
	}
	return ""
}

// oauthState is the sealed state cookie of one GitHub sign-in.
type oauthState struct {
	State   string `json:"s"`
	Next    string `json:"n"`
	Expires int64  `json:"e"`
}

// loginGitHub serves GET /hub/login/github: the redirect to GitHub.
func (h *Hub) loginGitHub(w http.ResponseWriter, r *http.Request) {
	g := h.opts.GitHub
	if g == nil {
		h.fail(w, r, http.StatusNotFound, "GitHub sign-in is not configured")
		return
	}
	state, err := randomID()
	if err != nil {
		h.fail(w, r, http.StatusInternalServerError, "signing in failed")
		return
	}
	exp := h.opts.Now().Add(10 * time.Minute)
	v, err := h.keys.seal(stateCookie, oauthState{State: state, Next: safeNext(r.URL.Query().Get("next")), Expires: exp.Unix()})
	if err != nil {
		h.fail(w, r, http.StatusInternalServerError, "signing in failed")
		return
	}
	http.SetCookie(w, h.cookie(stateCookie, v, exp))
	q := url.Values{"client_id": {g.ClientID}, "redirect_uri": {h.callbackURL(r)}, "state": {state}, "allow_signup": {"false"}}
	http.Redirect(w, r, g.WebURL+"login/oauth/authorize?"+q.Encode(), http.StatusFound)
}

// callbackURL is where GitHub sends the visitor back.
func (h *Hub) callbackURL(r *http.Request) string {
	base := h.opts.BaseURL
	if base == "" {
		scheme := "https"
		if r.TLS == nil && h.opts.InsecureCookies {
			scheme = "http"
		}
		base = scheme + "://" + r.Host
	}
	return base + Prefix + "oauth/callback"
}

// oauthCallback serves GET /hub/oauth/callback: state check, code
// exchange, the user, their permission, the session.
func (h *Hub) oauthCallback(w http.ResponseWriter, r *http.Request) {
	g := h.opts.GitHub
	if g == nil {
		h.fail(w, r, http.StatusNotFound, "GitHub sign-in is not configured")
		return
	}
	q := r.URL.Query()
	var st oauthState
	c, err := r.Cookie(stateCookie)
	h.clearCookie(w, stateCookie)
	if err != nil || h.keys.open(stateCookie, c.Value, &st) != nil || h.opts.Now().Unix() >= st.Expires ||
		subtle.ConstantTimeCompare([]byte(st.State), []byte(q.Get("state"))) != 1 {
		http.Redirect(w, r, Prefix+"login?problem=state", http.StatusSeeOther)
		return
	}
	code := q.Get("code")
	if code == "" || len(code) > 512 {
		http.Redirect(w, r, Prefix+"login?problem=github", http.StatusSeeOther)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	login, perm, err := h.githubUser(ctx, code, h.callbackURL(r))
	if err != nil {
		h.log.Warn().Err(err).Msg("GitHub sign-in failed")
		http.Redirect(w, r, Prefix+"login?problem=github", http.StatusSeeOther)
		return
	}
	if !forge.AtLeast(perm, "read") {
		h.log.Info().Str("user", login).Str("permission", perm).Msg("GitHub sign-in refused: no access to the repository")
		http.Redirect(w, r, Prefix+"login?problem=denied", http.StatusSeeOther)
		return
	}
	h.signIn(w, r, login, "github", perm, st.Next)
}

// githubUser exchanges code for a token, reads the user, and looks up
// their permission on the repository. The token is used for these calls
// only and never kept.
func (h *Hub) githubUser(ctx context.Context, code, redirect string) (login, perm string, err error) {
	g := h.opts.GitHub
	form := url.Values{"client_id": {g.ClientID}, "client_secret": {g.ClientSecret}, "code": {code}, "redirect_uri": {redirect}}
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		Error       string `json:"error"`
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.WebURL+"login/oauth/access_token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", "", fmt.Errorf("exchanging the code: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if err := h.githubJSON(req, &tok); err != nil {
		return "", "", fmt.Errorf("exchanging the code: %w", err)
	}
	if tok.Error != "" || tok.AccessToken == "" {
		return "", "", fmt.Errorf("exchanging the code: GitHub answered %q", tok.Error)
	}
	var u struct {
		Login string `json:"login"`
	}
	if err := h.githubAPI(ctx, tok.AccessToken, "user", &u); err != nil {
		return "", "", fmt.Errorf("reading the user: %w", err)
	}
	if u.Login == "" || len(u.Login) > maxLogin || !printable(u.Login) {
		return "", "", errors.New("reading the user: no valid login")
	}
	if g.Permissions != nil {
		perm, err = g.Permissions.Permission(ctx, u.Login)
		if err != nil {
			return "", "", fmt.Errorf("looking up the permission of %s: %w", u.Login, err)
		}
		return u.Login, perm, nil
	}
	var p struct {
		Permission string `json:"permission"`
		RoleName   string `json:"role_name"`
	}
	path := "repos/" + url.PathEscape(g.Owner) + "/" + url.PathEscape(g.Repo) + "/collaborators/" + url.PathEscape(u.Login) + "/permission"
	err = h.githubAPI(ctx, tok.AccessToken, path, &p)
	var se statusError
	switch {
	case errors.As(err, &se) && (se.code == http.StatusNotFound || se.code == http.StatusForbidden):
		return u.Login, "none", nil
	case err != nil:
		return "", "", fmt.Errorf("looking up the permission of %s: %w", u.Login, err)
	}
	return u.Login, forge.RepositoryPermission(p.RoleName, p.Permission), nil
}

type statusError struct{ code int }

func (e statusError) Error() string { return fmt.Sprintf("GitHub answered %d", e.code) }

func (h *Hub) githubAPI(ctx context.Context, token, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.opts.GitHub.APIURL+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	return h.githubJSON(req, v)
}

// githubJSON does req and decodes a 200 answer (at most 1 MiB).
func (h *Hub) githubJSON(req *http.Request, v any) error {
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "rolecd-hub")
	resp, err := h.opts.GitHub.HTTPClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return statusError{resp.StatusCode}
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("decoding GitHub's answer: %w", err)
	}
	return nil
}

// loginToken serves /hub/login/token (GET ?token= or POST token=): the
// one-time local token of a demo.
func (h *Hub) loginToken(w http.ResponseWriter, r *http.Request) {
	got := r.FormValue("token")
	h.mu.Lock()
	ok := h.localToken != "" && len(got) <= 256 && subtle.ConstantTimeCompare([]byte(h.localToken), []byte(got)) == 1
	if ok {
		h.localToken = ""
	}
	h.mu.Unlock()
	if !ok {
		http.Redirect(w, r, Prefix+"login?problem=token", http.StatusSeeOther)
		return
	}
	h.signIn(w, r, "local", "local", "admin", r.FormValue("next"))
}

// logout serves POST /hub/logout.
func (h *Hub) logout(w http.ResponseWriter, r *http.Request, id *identity) {
	h.clearCookie(w, sessionCookie)
	if !h.audit(w, r, id, "sign-out", nil) {
		return
	}
	http.Redirect(w, r, Prefix+"login", http.StatusSeeOther)
}

// cachedPermission looks a proxy user's permission up at most once per
// PermissionTTL.
func (h *Hub) cachedPermission(ctx context.Context, perms Permissions, login string) (string, error) {
	now := h.opts.Now()
	h.mu.Lock()
	c, ok := h.perms[login]
	h.mu.Unlock()
	if ok && now.Sub(c.at) < h.opts.PermissionTTL {
		return c.perm, nil
	}
	perm, err := perms.Permission(ctx, login)
	if err != nil {
		return "", err
	}
	h.mu.Lock()
	if len(h.perms) > 10000 {
		clear(h.perms) // bounded: a proxy may send many names
	}
	h.perms[login] = cachedPerm{perm: perm, at: now}
	h.mu.Unlock()
	return perm, nil
}

type cachedPerm struct {
	perm string
	at   time.Time
}
