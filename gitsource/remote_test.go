package gitsource_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rolecd/rolecd/gitsource"
	"github.com/rolecd/rolecd/gitsource/gittest"
)

// gitServer serves bare repositories over git's smart HTTP protocol with the
// real git-http-backend, behind basic auth like GitHub's (x-access-token).
type gitServer struct {
	*httptest.Server
	token string
	// hang makes every request block until the client gives up.
	hang atomic.Bool
	// hanging receives a value when a request starts hanging.
	hanging chan struct{}
	stop    chan struct{}
	authOK  atomic.Int32
}

func newGitServer(t *testing.T, root, token string) *gitServer {
	t.Helper()
	out, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Fatalf("git --exec-path: %v", err)
	}
	backend := &cgi.Handler{
		Path: filepath.Join(strings.TrimSpace(string(out)), "git-http-backend"),
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"},
	}
	g := &gitServer{token: token, hanging: make(chan struct{}, 16), stop: make(chan struct{})}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.hang.Load() {
			select {
			case g.hanging <- struct{}{}:
			default:
			}
			select {
			case <-r.Context().Done():
			case <-g.stop:
			}
			return
		}
		user, pass, ok := r.BasicAuth()
		if !ok || user != "x-access-token" || pass != g.token {
			w.Header().Set("WWW-Authenticate", `Basic realm="GitHub"`)
			http.Error(w, "Invalid username or token. Password authentication is not supported for Git operations.", http.StatusUnauthorized)
			return
		}
		g.authOK.Add(1)
		backend.ServeHTTP(w, r)
	}))
	t.Cleanup(g.Close)
	t.Cleanup(func() { close(g.stop) }) // runs first: releases hanging handlers
	return g
}

// repoURL is the URL of a bare repository under the server's root, with
// optional credentials in it.
func (g *gitServer) repoURL(dir string, user *url.Userinfo) string {
	u, _ := url.Parse(g.URL + "/" + filepath.Base(dir))
	u.User = user
	return u.String()
}

// noLeak fails when text shows secret in any form.
func noLeak(t *testing.T, what, text, secret string) {
	t.Helper()
	for _, form := range []string{secret, url.QueryEscape(secret), url.PathEscape(secret),
		base64.StdEncoding.EncodeToString([]byte("x-access-token:" + secret))} {
		if strings.Contains(text, form) {
			t.Errorf("%s shows the secret: %s", what, text)
		}
	}
}

func TestHTTPSTokenAuth(t *testing.T) {
	const token = "ghs_S3cretInstallationToken"
	r := gittest.New(t)
	sha := r.Commit("main", "first", gittest.File("roles/a.yaml", "v1"))
	srv := newGitServer(t, filepath.Dir(r.Dir()), token)

	cache := filepath.Join(t.TempDir(), "cache")
	s := open(t, gitsource.Config{URL: srv.repoURL(r.Dir(), nil), Token: token, Path: "roles", CacheDir: cache})
	if got := head(t, s); got != sha {
		t.Fatalf("BranchHead = %s, want %s", got, sha)
	}
	if srv.authOK.Load() == 0 {
		t.Fatal("the server never saw the token")
	}
	if got := readFile(t, s, sha, "a.yaml"); got != "v1" {
		t.Fatalf("a.yaml = %q", got)
	}

	// The token may also come in the URL; it is used, and never shown or stored.
	inURL := srv.repoURL(r.Dir(), url.UserPassword("x-access-token", token))
	cache2 := filepath.Join(t.TempDir(), "cache")
	s2 := open(t, gitsource.Config{URL: inURL, CacheDir: cache2})
	if got := head(t, s2); got != sha {
		t.Fatalf("BranchHead with the token in the URL = %s", got)
	}
	noLeak(t, "URL()", s2.URL(), token)
	if s2.URL() != srv.repoURL(r.Dir(), nil) {
		t.Errorf("URL() = %q", s2.URL())
	}
	err := filepath.WalkDir(cache2, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.Contains(p, "objects") {
			return err
		}
		b, err := os.ReadFile(p)
		noLeak(t, "cache file "+p, string(b), token)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestErrorsNeverShowCredentials points Sources at remotes that fail in
// different ways, with credentials in every place a URL can carry them.
func TestErrorsNeverShowCredentials(t *testing.T) {
	const secret = "ghp_Wr0ng/T0ken+%value"
	r := gittest.New(t)
	r.Commit("main", "first", gittest.File("a.yaml", "x"))
	srv := newGitServer(t, filepath.Dir(r.Dir()), "the-right-token")
	// A server that answers 500 and echoes the request, credentials included.
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		http.Error(w, fmt.Sprintf("boom %s %s %s", req.URL, req.Header.Get("Authorization"), req.URL.RawQuery), http.StatusInternalServerError)
	}))
	t.Cleanup(echo.Close)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + closed.Addr().String()
	_ = closed.Close()
	enc := url.QueryEscape(secret)

	tests := []struct {
		name  string
		cfg   gitsource.Config
		want  string
		is    error
		isNot bool
	}{
		{name: "wrong token field, 401", cfg: gitsource.Config{URL: srv.repoURL(r.Dir(), nil), Token: secret}, want: "authentication required"},
		{name: "wrong token in URL, 401", cfg: gitsource.Config{URL: srv.repoURL(r.Dir(), url.UserPassword("x-access-token", secret))}, want: "authentication required"},
		{name: "token as URL user, 401", cfg: gitsource.Config{URL: srv.repoURL(r.Dir(), url.User(secret))}, want: "authentication required"},
		// go-git does not support a query in the URL; it fails, and says so without the token.
		{name: "token in the query", cfg: gitsource.Config{URL: echo.URL + "/acme/roles.git?access_token=" + enc}, want: "roles.git?<redacted>"},
		{name: "token in URL and field, 500", cfg: gitsource.Config{URL: "http://bob:" + enc + "@" + strings.TrimPrefix(echo.URL, "http://") + "/r.git", Token: secret}, want: "500"},
		{name: "token as URL user, connection refused", cfg: gitsource.Config{URL: "http://" + enc + "@" + strings.TrimPrefix(refused, "http://") + "/r.git"}, want: "connection refused"},
		{name: "connection refused", cfg: gitsource.Config{URL: "http://x-access-token:" + enc + "@" + strings.TrimPrefix(refused, "http://") + "/r.git"}, want: "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.CacheDir = filepath.Join(t.TempDir(), "cache")
			tt.cfg.Timeout = 10 * time.Second
			_, err := gitsource.Open(t.Context(), tt.cfg)
			if err == nil {
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "fetching branch main from http://127.0.0.1:") {
				t.Errorf("err = %v, want a message naming the remote and %q", err, tt.want)
			}
			for _, verb := range []string{"%v", "%+v", "%#v"} {
				noLeak(t, "error "+verb, fmt.Sprintf(verb, err), secret)
			}
		})
	}
}

// TestFetchTimeoutKeepsServing: a remote that stops answering makes Fetch
// fail at the timeout, while reads keep being served, during the fetch too.
func TestFetchTimeoutKeepsServing(t *testing.T) {
	const token = "ghs_TimeoutTestToken"
	r := gittest.New(t)
	a := r.Commit("main", "first", gittest.File("roles/a.yaml", "v1"))
	srv := newGitServer(t, filepath.Dir(r.Dir()), token)
	// Long enough that the reads below finish well within it on a loaded machine.
	timeout := 1500 * time.Millisecond
	s := open(t, gitsource.Config{
		URL: srv.repoURL(r.Dir(), url.UserPassword("x-access-token", token)), Path: "roles", Timeout: timeout})
	okAt, _ := s.LastFetch()
	r.Commit("main", "second", gittest.File("roles/a.yaml", "v2"))

	srv.hang.Store(true)
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- s.Fetch(context.Background()) }()
	select {
	case <-srv.hanging:
	case err := <-done:
		t.Fatalf("Fetch returned before reaching the server: %v", err)
	}
	// The fetch is in progress: reads are served meanwhile.
	if got := head(t, s); got != a {
		t.Errorf("BranchHead during the fetch = %s", got)
	}
	if got := readFile(t, s, a, "a.yaml"); got != "v1" {
		t.Errorf("a.yaml during the fetch = %q", got)
	}
	if touched, err := s.Touches(a, a); err != nil || touched {
		t.Errorf("Touches during the fetch = %v, %v", touched, err)
	}
	select {
	case err := <-done:
		t.Fatalf("Fetch finished while the server still hangs: %v", err)
	default:
	}

	var err error
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Fetch did not return within 10s with a 1.5s timeout")
	}
	elapsed := time.Since(start)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no answer within 1.5s") {
		t.Fatalf("Fetch err = %v, want a timeout", err)
	}
	if elapsed < timeout || elapsed > 6*time.Second {
		t.Errorf("Fetch took %s with a %s timeout", elapsed, timeout)
	}
	noLeak(t, "timeout error", err.Error(), token)
	at, lastErr := s.LastFetch()
	if !at.Equal(okAt) || lastErr == nil || lastErr.Error() != err.Error() {
		t.Errorf("LastFetch = %v, %v", at, lastErr)
	}
	if got := head(t, s); got != a {
		t.Errorf("BranchHead after the timeout = %s, want %s", got, a)
	}

	srv.hang.Store(false)
	if err := s.Fetch(t.Context()); err != nil {
		t.Fatalf("Fetch after the server recovered: %v", err)
	}
	if got := readFile(t, s, head(t, s), "a.yaml"); got != "v2" {
		t.Errorf("a.yaml after recovery = %q", got)
	}
}

// TestTimeoutOnSilentRemote: every protocol gives up at the timeout against
// a server that accepts the connection and never answers.
func TestTimeoutOnSilentRemote(t *testing.T) {
	const secret = "ghs_SilentToken"
	addr := gittest.SilentListener(t)
	key, known := gittest.SSHKey(t)
	tests := []struct {
		name string
		cfg  gitsource.Config
	}{
		{name: "https with token", cfg: gitsource.Config{URL: "http://x-access-token:" + secret + "@" + addr + "/acme/roles.git"}},
		{name: "https with token as user", cfg: gitsource.Config{URL: "http://" + secret + "@" + addr + "/acme/roles.git"}},
		{name: "ssh with key", cfg: gitsource.Config{URL: "ssh://git@" + addr + "/acme/roles.git", SSHKeyFile: key, SSHKnownHostsFile: known}},
		{name: "git protocol", cfg: gitsource.Config{URL: "git://" + addr + "/acme/roles.git"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.CacheDir = filepath.Join(t.TempDir(), "cache")
			tt.cfg.Timeout = 200 * time.Millisecond
			start := time.Now()
			_, err := gitsource.Open(t.Context(), tt.cfg)
			elapsed := time.Since(start)
			if err == nil || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no answer within 200ms") {
				t.Fatalf("err = %v, want a timeout", err)
			}
			if elapsed > 5*time.Second {
				t.Errorf("Open took %s with a 200ms timeout", elapsed)
			}
			noLeak(t, "error", err.Error(), secret)
		})
	}
}

// TestCallerCancellation: a caller's own context ends a fetch too.
func TestCallerCancellation(t *testing.T) {
	addr := gittest.SilentListener(t)
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := gitsource.Open(ctx, gitsource.Config{URL: "http://" + addr + "/r.git", CacheDir: t.TempDir(), Timeout: time.Minute})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("Open took %s after cancellation", elapsed)
	}
}
