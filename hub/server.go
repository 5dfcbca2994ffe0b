package hub

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/rolecd/rolecd/internal/forge"
	"github.com/rolecd/rolecd/store"
)

// Limits on what a request may carry; beyond them the answer is 400.
const (
	maxQuery    = 2048 // bytes of the raw query string
	maxParam    = 200  // bytes of one filter value
	maxPathPart = 200  // bytes of a resource name or session id in the path
	maxForm     = 4096 // bytes of a POST body
)

// Handler serves the hub under Prefix:
//
//	GET  /hub/                          inventory
//	GET  /hub/resources/{name}          one resource: roles, drift, check now
//	POST /hub/resources/{name}/check    queue a drift check (write permission, CSRF)
//	GET  /hub/pulls                     pull requests
//	GET  /hub/sessions                  the audit trail (?kind= &resource= &role= &status= &actor= &since= &until= &limit=)
//	GET  /hub/sessions/{sid}            one session with its SQL
//	GET  /hub/sessions/{sid}.json       its JSON record (download)
//	GET  /hub/login                     sign in; /hub/login/github, /hub/oauth/callback, /hub/login/token
//	POST /hub/logout                    sign out (CSRF)
//	GET  /hub/static/{file}             CSS and the optional time script
func (h *Hub) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hub/login", h.loginPage)
	mux.HandleFunc("GET /hub/login/github", h.loginGitHub)
	mux.HandleFunc("GET /hub/oauth/callback", h.oauthCallback)
	mux.HandleFunc("GET /hub/login/token", h.loginToken)
	mux.HandleFunc("POST /hub/login/token", h.loginToken)
	mux.Handle("GET /hub/static/", http.StripPrefix("/hub/static/", staticHandler()))

	mux.HandleFunc("GET /hub/{$}", h.page(h.inventory))
	mux.HandleFunc("GET /hub/resources/{name}", h.page(h.resource))
	mux.HandleFunc("GET /hub/pulls", h.page(h.pulls))
	mux.HandleFunc("GET /hub/sessions", h.page(h.sessions))
	mux.HandleFunc("GET /hub/sessions/{sid}", h.page(h.session))
	mux.HandleFunc("POST /hub/resources/{name}/check", h.action(h.checkNow))
	mux.HandleFunc("POST /hub/logout", h.action(h.logout))
	mux.HandleFunc("/hub/", func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, r, http.StatusNotFound, "no such page")
	})
	return h.guard(mux)
}

// guard sets the security headers, bounds the request, and turns a panic
// into a plain 500 (never a stack trace).
func (h *Hub) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("Cache-Control", "no-store")
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				h.log.Error().Interface("panic", v).Str("path", r.URL.Path).Msg("hub: a page panicked")
				http.Error(w, "internal error", http.StatusInternalServerError)
			}
		}()
		if len(r.URL.RawQuery) > maxQuery || len(r.URL.Path) > 1024 {
			http.Error(w, "request too long", http.StatusBadRequest)
			return
		}
		if _, err := url.ParseQuery(r.URL.RawQuery); err != nil {
			http.Error(w, "malformed query string", http.StatusBadRequest)
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		}
		next.ServeHTTP(w, r)
	})
}

// pageFunc renders one page for a signed-in visitor; it returns the
// resources the page is about, for the audit record (or writes an error
// and returns ok=false).
type pageFunc func(w http.ResponseWriter, r *http.Request, id *identity) (resources []string, ok bool)

// page requires a visitor with read permission, records the view, then
// renders. A visitor not signed in is redirected to the sign-in page.
func (h *Hub) page(f pageFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := h.identify(w, r)
		if id == nil {
			h.toLogin(w, r)
			return
		}
		if !forge.AtLeast(id.Perm, "read") {
			h.fail(w, r, http.StatusForbidden, "your account has no access to the watched repository")
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), visitorKey{}, id))
		rw := &bufferedPage{header: http.Header{}}
		resources, ok := f(rw, r, id)
		if ok {
			if !h.record(w, r, id, store.KindView, store.StatusOK, "", resources) {
				return
			}
		}
		rw.flush(w)
	}
}

// action requires a POST with a valid CSRF token from a signed-in visitor;
// actions other than sign-out need write permission. Refusals are
// recorded too.
func (h *Hub) action(f func(w http.ResponseWriter, r *http.Request, id *identity)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := h.identify(w, r)
		if id == nil {
			h.toLogin(w, r)
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), visitorKey{}, id))
		if err := r.ParseForm(); err != nil {
			h.fail(w, r, http.StatusBadRequest, "malformed form")
			return
		}
		if !h.keys.checkCSRF(id.ID, r.PostFormValue("csrf")) {
			h.record(w, r, id, store.KindAction, store.StatusRefused, "bad or missing CSRF token", nil)
			h.fail(w, r, http.StatusForbidden, "this form has expired: reload the page and try again")
			return
		}
		f(w, r, id)
	}
}

// toLogin redirects a visitor who is not signed in (GET) or answers 401.
func (h *Hub) toLogin(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		h.fail(w, r, http.StatusUnauthorized, "sign in first")
		return
	}
	http.Redirect(w, r, Prefix+"login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
}

// audit records an action of the visitor (sign-in, sign-out, ...).
func (h *Hub) audit(w http.ResponseWriter, r *http.Request, id *identity, what string, resources []string) bool {
	return h.record(w, r, id, store.KindAction, store.StatusOK, what, resources)
}

// auditDetail is the detail document of a view or action session.
type auditDetail struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	Query  string `json:"query,omitempty"`
	Action string `json:"action,omitempty"`
	Via    string `json:"via"`
	Perm   string `json:"permission"`
	Remote string `json:"remote"`
}

// record stores one view or action as an audit session; when the store
// refuses, the visitor gets 503 (nothing is shown unrecorded).
func (h *Hub) record(w http.ResponseWriter, r *http.Request, id *identity, kind store.Kind, status store.Status, what string, resources []string) bool {
	detail, _ := json.Marshal(auditDetail{
		Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Action: what,
		Via: id.Via, Perm: id.Perm, Remote: r.RemoteAddr,
	})
	now := h.opts.Now().UTC()
	s := &store.Session{Kind: kind, Status: status, Actor: id.Actor(), Resources: resources, Detail: detail, StartedAt: now, FinishedAt: now}
	if status == store.StatusRefused {
		s.Error = what
	}
	if err := h.opts.Store.CreateSession(r.Context(), s); err != nil {
		h.log.Error().Err(err).Msg("recording a hub audit session")
		http.Error(w, "the audit trail is unavailable, so the hub is too", http.StatusServiceUnavailable)
		return false
	}
	if h.opts.OnSession != nil {
		h.opts.OnSession(r.Context(), s.SID)
	}
	return true
}

// visitorKey keys the signed-in visitor in a request's context.
type visitorKey struct{}

// fail renders an error page (never with internal details), with the
// navigation when the visitor is signed in.
func (h *Hub) fail(w http.ResponseWriter, r *http.Request, code int, msg string) {
	id, _ := r.Context().Value(visitorKey{}).(*identity)
	if id != nil && !forge.AtLeast(id.Perm, "read") {
		id = nil
	}
	h.render(w, r, code, "error", id, errorData{Code: code, Title: http.StatusText(code), Message: msg})
}

type errorData struct {
	Code           int
	Title, Message string
}

// storeFailed logs err and answers 503.
func (h *Hub) storeFailed(w http.ResponseWriter, r *http.Request, what string, err error) {
	h.log.Error().Err(err).Str("path", r.URL.Path).Msg(what)
	var ie inventoryError
	if errors.As(err, &ie) {
		h.fail(w, r, http.StatusServiceUnavailable, what+": the role files at the branch head cannot be read (the daemon's log says why); the hub shows nothing it cannot trust")
		return
	}
	h.fail(w, r, http.StatusServiceUnavailable, what+": the store did not answer; try again shortly")
}

// notFound reports whether err is store.ErrNotFound.
func notFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

// bufferedPage holds a page until its view is recorded.
type bufferedPage struct {
	header http.Header
	code   int
	body   []byte
}

func (b *bufferedPage) Header() http.Header { return b.header }
func (b *bufferedPage) WriteHeader(code int) {
	if b.code == 0 {
		b.code = code
	}
}
func (b *bufferedPage) Write(p []byte) (int, error) {
	if b.code == 0 {
		b.code = http.StatusOK
	}
	b.body = append(b.body, p...)
	return len(p), nil
}

func (b *bufferedPage) flush(w http.ResponseWriter) {
	for k, v := range b.header {
		w.Header()[k] = v
	}
	if b.code == 0 {
		b.code = http.StatusOK
	}
	w.WriteHeader(b.code)
	_, _ = w.Write(b.body)
}

// validParam reports whether a query value is short and printable.
func validParam(s string) bool {
	return len(s) <= maxParam && printable(s) && !strings.ContainsRune(s, '\uFFFD')
}
