// Package githubtest is an in-process GitHub REST API for tests: the
// endpoints rolecd calls, with GitHub's paths, JSON shapes, status codes,
// Link-header pagination, rate-limit headers and authentication, over a real
// HTTP server on 127.0.0.1. Tests point go-github (through reporter/github)
// at it, read back the state it accumulated (comments, statuses, issues),
// inject failures (5xx, primary and secondary rate limits, dropped
// connections), and build signed webhook deliveries.
//
// The API is served under /api/v3/, the GitHub Enterprise layout, so
// Server.URL is used as is for reporter/github's Config.APIURL (go-github's
// WithEnterpriseURLs). A request to anything the server does not implement,
// or with the wrong method, owner or repository, fails the test at cleanup.
package githubtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// BotLogin is the login of the user the API token belongs to: the author of
// every comment, status and issue created through the API.
const BotLogin = "rolecd-bot"

// Endpoint names, as counted by Server.Calls.
const (
	ListPulls         = "GET /repos/{owner}/{repo}/pulls"
	GetPull           = "GET /repos/{owner}/{repo}/pulls/{number}"
	ListPullFiles     = "GET /repos/{owner}/{repo}/pulls/{number}/files"
	ListComments      = "GET /repos/{owner}/{repo}/issues/{number}/comments"
	CreateComment     = "POST /repos/{owner}/{repo}/issues/{number}/comments"
	EditComment       = "PATCH /repos/{owner}/{repo}/issues/comments/{id}"
	DeleteComment     = "DELETE /repos/{owner}/{repo}/issues/comments/{id}"
	CreateStatus      = "POST /repos/{owner}/{repo}/statuses/{sha}"
	GetPermission     = "GET /repos/{owner}/{repo}/collaborators/{user}/permission"
	ListIssues        = "GET /repos/{owner}/{repo}/issues"
	CreateIssue       = "POST /repos/{owner}/{repo}/issues"
	EditIssue         = "PATCH /repos/{owner}/{repo}/issues/{number}"
	apiPrefix         = "/api/v3"
	rateLimitPerHour  = 5000
	maxCommentLength  = 65536
	maxStatusDescSize = 140
)

var namePattern = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// Server is an in-process GitHub API for one repository. Its methods are
// safe for concurrent use.
type Server struct {
	// URL is the API base, "http://127.0.0.1:PORT/api/v3/": Config.APIURL.
	URL string
	// Owner and Repo name the repository the server serves.
	Owner, Repo string

	srv     *httptest.Server
	mux     *http.ServeMux
	routes  map[string]string // mux pattern -> endpoint name
	started time.Time

	mu            sync.Mutex
	token         string
	webhookSecret []byte
	items         map[int]*item // issues and pull requests share numbers
	comments      []*comment
	statuses      map[string][]Status
	perms         map[string]string
	failures      []failure
	calls         map[string]int
	unexpected    []string
	remaining     int
	nextComment   int64
	nextStatus    int64
	// OAuth: registered apps, the browser's signed-in user, unexchanged
	// codes, issued user tokens (token -> login), web (non-API) routes.
	apps        map[string]OAuthApp
	browserUser string
	codes       map[string]oauthCode
	userTokens  map[string]string
	web         map[string]bool
}

type failure struct {
	status int // 0: drop the connection
	header http.Header
}

// New starts a server for owner/repo on 127.0.0.1 and closes it when the
// test ends; the test fails then if any request hit an endpoint the server
// does not implement.
func New(t testing.TB, owner, repo string) *Server {
	t.Helper()
	if !namePattern.MatchString(owner) || !namePattern.MatchString(repo) {
		t.Fatalf("githubtest: invalid repository %q/%q", owner, repo)
	}
	s := &Server{
		Owner: owner, Repo: repo,
		mux: http.NewServeMux(), routes: map[string]string{}, started: time.Now(),
		items: map[int]*item{}, statuses: map[string][]Status{}, perms: map[string]string{},
		calls: map[string]int{}, remaining: rateLimitPerHour,
		apps: map[string]OAuthApp{}, codes: map[string]oauthCode{}, userTokens: map[string]string{}, web: map[string]bool{},
	}
	s.register()
	s.registerOAuth()
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL + apiPrefix + "/"
	t.Cleanup(func() {
		s.srv.Close()
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, u := range s.unexpected {
			t.Errorf("githubtest: unexpected request %s", u)
		}
	})
	return s
}

func (s *Server) register() {
	for _, r := range []struct {
		name string
		h    http.HandlerFunc
	}{
		{ListPulls, s.listPulls},
		{GetPull, s.getPull},
		{ListPullFiles, s.listPullFiles},
		{ListComments, s.listComments},
		{CreateComment, s.createComment},
		{EditComment, s.editComment},
		{DeleteComment, s.deleteComment},
		{CreateStatus, s.createStatus},
		{GetPermission, s.getPermission},
		{ListIssues, s.listIssues},
		{CreateIssue, s.createIssue},
		{EditIssue, s.editIssue},
	} {
		method, path, _ := strings.Cut(r.name, " ")
		path = strings.Replace(path, "{owner}/{repo}", s.Owner+"/"+s.Repo, 1)
		pattern := method + " " + apiPrefix + path
		s.routes[pattern] = r.name
		s.mux.HandleFunc(pattern, r.h)
	}
}

// RequireToken makes the server accept only this token; by default any
// non-empty "Bearer" or "token" Authorization header is accepted.
func (s *Server) RequireToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token = token
}

// FailNext answers the next n API calls with status and header instead of
// handling them, with GitHub's JSON error body for that status: 502, 403
// with X-RateLimit-Remaining: 0 and X-RateLimit-Reset (primary rate limit),
// 403 or 429 with Retry-After (secondary rate limit), ...
func (s *Server) FailNext(n int, status int, header http.Header) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures = append(s.failures, failure{status: status, header: header.Clone()})
	}
}

// DropNext closes the connection of the next n API calls without an
// answer, as a network failure would.
func (s *Server) DropNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures = append(s.failures, failure{})
	}
}

// Calls returns how many requests reached endpoint (ListPulls, ...),
// failed ones included.
func (s *Server) Calls(endpoint string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[endpoint]
}

// TotalCalls returns how many requests reached implemented endpoints.
func (s *Server) TotalCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		n += c
	}
	return n
}

// serve authenticates, counts, injects failures and routes one request.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	_, pattern := s.mux.Handler(r)
	name, ok := s.routes[pattern]
	s.mu.Lock()
	if !ok {
		s.unexpected = append(s.unexpected, r.Method+" "+r.URL.RequestURI())
		s.mu.Unlock()
		s.writeError(w, http.StatusNotFound, nil, "Not Found")
		return
	}
	s.calls[name]++
	var fail *failure
	if len(s.failures) > 0 {
		f := s.failures[0]
		s.failures = s.failures[1:]
		fail = &f
	}
	token := s.token
	web := s.web[name]
	_, userToken := s.userTokens[strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "), "token "))]
	s.mu.Unlock()

	if fail != nil && fail.status == 0 {
		drop(w)
		return
	}
	if userToken {
		token = "" // an OAuth user token authenticates as its user
	}
	if msg := authenticate(r.Header.Get("Authorization"), token); msg != "" && !web {
		s.writeError(w, http.StatusUnauthorized, nil, msg)
		return
	}
	if fail != nil {
		s.writeError(w, fail.status, fail.header, failureMessage(fail.status, fail.header))
		return
	}
	s.mux.ServeHTTP(w, r)
}

func drop(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("githubtest: response writer cannot hijack")
	}
	conn, _, err := hj.Hijack()
	if err == nil {
		_ = conn.Close()
	}
}

func authenticate(header, token string) string {
	scheme, got, _ := strings.Cut(header, " ")
	if got == "" || (!strings.EqualFold(scheme, "bearer") && !strings.EqualFold(scheme, "token")) {
		return "Requires authentication"
	}
	if token != "" && got != token {
		return "Bad credentials"
	}
	return ""
}

func failureMessage(status int, h http.Header) string {
	switch {
	case (status == http.StatusForbidden || status == http.StatusTooManyRequests) && h.Get("X-RateLimit-Remaining") == "0":
		return "API rate limit exceeded for installation ID 1."
	case status == http.StatusForbidden || status == http.StatusTooManyRequests:
		return "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
	case status >= 500:
		return "Server Error"
	}
	return http.StatusText(status)
}

// rateHeaders sets GitHub's X-RateLimit-* headers; it takes one request off
// the hourly budget.
func (s *Server) rateHeaders(h http.Header) {
	s.mu.Lock()
	if s.remaining > 1 {
		s.remaining--
	}
	remaining := s.remaining
	s.mu.Unlock()
	h.Set("X-RateLimit-Limit", strconv.Itoa(rateLimitPerHour))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	h.Set("X-RateLimit-Used", strconv.Itoa(rateLimitPerHour-remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(s.started.Add(time.Hour).Unix(), 10))
	h.Set("X-RateLimit-Resource", "core")
	h.Set("X-GitHub-Media-Type", "github.v3; format=json")
}

func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	s.rateHeaders(w.Header())
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	if v != nil {
		_ = json.NewEncoder(w).Encode(v)
	}
}

// fieldError is one entry of a 422 answer's "errors".
type fieldError struct {
	Resource string `json:"resource"`
	Field    string `json:"field"`
	Code     string `json:"code"`
	Message  string `json:"message,omitempty"`
}

func (s *Server) writeError(w http.ResponseWriter, status int, header http.Header, msg string, errs ...fieldError) {
	s.rateHeaders(w.Header())
	for k, v := range header {
		w.Header()[k] = v
	}
	doc := "https://docs.github.com/rest"
	switch {
	case strings.Contains(msg, "secondary rate limit"):
		doc = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
	case strings.Contains(msg, "rate limit"):
		doc = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
	}
	body := struct {
		Message string       `json:"message"`
		Errors  []fieldError `json:"errors,omitempty"`
		Doc     string       `json:"documentation_url"`
	}{msg, errs, doc}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func (s *Server) notFound(w http.ResponseWriter) {
	s.writeError(w, http.StatusNotFound, nil, "Not Found")
}

func (s *Server) invalid(w http.ResponseWriter, resource, field, code, msg string) {
	s.writeError(w, http.StatusUnprocessableEntity, nil, "Validation Failed",
		fieldError{Resource: resource, Field: field, Code: code, Message: msg})
}

// paginate answers GitHub's per_page (default 30, at most 100) and page
// (from 1) parameters: it returns the slice bounds of the page and sets
// the Link header (first, prev, next, last).
func paginate(w http.ResponseWriter, r *http.Request, total int) (lo, hi int) {
	q := r.URL.Query()
	per, err := strconv.Atoi(q.Get("per_page"))
	if err != nil || per < 1 {
		per = 30
	}
	per = min(per, 100)
	page, err := strconv.Atoi(q.Get("page"))
	if err != nil || page < 1 {
		page = 1
	}
	last := max(1, (total+per-1)/per)
	link := func(p int, rel string) string {
		u := *r.URL
		u.Scheme, u.Host = "http", r.Host
		v := u.Query()
		v.Set("page", strconv.Itoa(p))
		v.Set("per_page", strconv.Itoa(per))
		u.RawQuery = v.Encode()
		return fmt.Sprintf("<%s>; rel=%q", u.String(), rel)
	}
	var links []string
	if page > 1 {
		links = append(links, link(page-1, "prev"), link(1, "first"))
	}
	if page < last {
		links = append(links, link(page+1, "next"), link(last, "last"))
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	lo = min(total, (page-1)*per)
	return lo, min(total, lo+per)
}

func pathNumber(r *http.Request, name string) (int64, bool) {
	n, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	return n, err == nil && n > 0
}

func decode(r *http.Request, v any) error {
	return json.NewDecoder(r.Body).Decode(v)
}

// sortedItems returns the items matching keep, newest (highest number) first,
// as GitHub's default sort=created&direction=desc does.
func (s *Server) sortedItems(keep func(*item) bool) []*item {
	var out []*item
	for _, it := range s.items {
		if keep(it) {
			out = append(out, it)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].number > out[j].number })
	return out
}
