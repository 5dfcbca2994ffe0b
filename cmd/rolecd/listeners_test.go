package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/rolecd/rolecd/gitsource/gittest"
)

// freeAddr returns a loopback address nothing listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// logWatch is the daemon's stderr: it closes ready at the first line
// containing want.
type logWatch struct {
	mu    sync.Mutex
	b     strings.Builder
	want  string
	ready chan struct{}
	once  sync.Once
}

func (w *logWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b.Write(p)
	if strings.Contains(w.b.String(), w.want) {
		w.once.Do(func() { close(w.ready) })
	}
	return len(p), nil
}

func (w *logWatch) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// startDaemon runs `rolecd daemon` with config body until the test ends
// and returns once both listeners serve.
func startDaemon(t *testing.T, body string, env map[string]string) *logWatch {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "rolecd.yaml")
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	logs := &logWatch{want: "daemon serving", ready: make(chan struct{})}
	exited := make(chan int, 1)
	go func() {
		exited <- runContext(ctx, []string{"--config", cfg, "daemon"}, strings.NewReader(""), io.Discard, logs,
			func(k string) string { return env[k] })
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-exited; code != 0 {
			t.Errorf("daemon exit %d:\n%s", code, logs.String())
		}
	})
	select {
	case <-logs.ready:
	case code := <-exited:
		exited <- code
		t.Fatalf("daemon exited with %d before serving:\n%s", code, logs.String())
	}
	return logs
}

func get(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// The webhook listener serves no API; the API listener wants the token,
// and refuses everything when none is configured.
func TestDaemonListeners(t *testing.T) {
	remote := gittest.New(t)
	// A resource nothing listens for: the daemon's own work fails, which
	// this test does not look at.
	remote.Commit("main", "declare app", gittest.File("roles/resources.yaml", resourceYAML("app", "127.0.0.1", 1)))
	const token = "the-api-token-0123456789"
	tests := []struct {
		name    string
		extra   string
		env     map[string]string
		checks  []struct{ listener, path, token string }
		codes   []int
		warning string
	}{
		{
			name: "token from the environment, metrics behind it",
			env:  map[string]string{"ROLECD_API_TOKEN": token},
			checks: []struct{ listener, path, token string }{
				{"webhook", "/healthz", ""}, {"webhook", "/api/v1/sessions", ""}, {"webhook", "/api/v1/sessions", token},
				{"webhook", "/metrics", ""}, {"api", "/api/v1/sessions", ""}, {"api", "/api/v1/sessions", "wrong-token-0123456789"},
				{"api", "/api/v1/sessions", token}, {"api", "/metrics", ""}, {"api", "/metrics", token}, {"api", "/webhooks/github", token},
			},
			codes: []int{200, 404, 404, 404, 401, 401, 200, 401, 200, 404},
		},
		{
			name:  "no token configured, public metrics",
			extra: "metrics:\n  public: true\n",
			checks: []struct{ listener, path, token string }{
				{"webhook", "/metrics", ""}, {"api", "/api/v1/sessions", ""}, {"api", "/api/v1/sessions", token}, {"api", "/metrics", token},
			},
			codes:   []int{200, 401, 401, 404},
			warning: "no API token",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			addrs := map[string]string{"webhook": freeAddr(t), "api": freeAddr(t)}
			body := fmt.Sprintf("git:\n  url: %s\n  path: roles\n  cache_dir: %s\nstore: sqlite://%s\nlisten: %s\napi:\n  listen: %s\n%s",
				remote.URL(), filepath.Join(dir, "cache"), filepath.Join(dir, "rolecd.db"), addrs["webhook"], addrs["api"], tc.extra)
			logs := startDaemon(t, body, tc.env)
			for i, c := range tc.checks {
				code, answer := get(t, "http://"+addrs[c.listener]+c.path, c.token)
				if code != tc.codes[i] {
					t.Errorf("%s listener GET %s (token %v): %d %q, want %d", c.listener, c.path, c.token != "", code, answer, tc.codes[i])
				}
				if code == 200 && c.path == "/api/v1/sessions" && !strings.HasPrefix(answer, "[") {
					t.Errorf("sessions answer %q", answer)
				}
			}
			if tc.warning != "" && !strings.Contains(logs.String(), tc.warning) {
				t.Errorf("no warning %q in the logs:\n%s", tc.warning, logs.String())
			}
			if strings.Contains(logs.String(), token) {
				t.Error("the API token appears in the logs")
			}
		})
	}
}

// api.listen: off serves no API listener.
func TestDaemonAPIOff(t *testing.T) {
	remote := gittest.New(t)
	remote.Commit("main", "declare app", gittest.File("roles/resources.yaml", resourceYAML("app", "127.0.0.1", 1)))
	dir := t.TempDir()
	web, api := freeAddr(t), freeAddr(t)
	body := fmt.Sprintf("git:\n  url: %s\n  path: roles\n  cache_dir: %s\nstore: sqlite://%s\nlisten: %s\napi:\n  listen: \"off\"\n",
		remote.URL(), filepath.Join(dir, "cache"), filepath.Join(dir, "rolecd.db"), web)
	logs := startDaemon(t, body, nil)
	if code, _ := get(t, "http://"+web+"/healthz", ""); code != 200 {
		t.Errorf("healthz %d", code)
	}
	if strings.Contains(logs.String(), `"listener":"api"`) {
		t.Errorf("an API listener was started:\n%s", logs.String())
	}
	if _, err := net.Dial("tcp", api); err == nil {
		t.Error("something listens on the API address")
	}
}
