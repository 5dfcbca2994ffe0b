package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rolecd/rolecd/gitsource/gittest"
	"github.com/rolecd/rolecd/internal/config"
	"github.com/rolecd/rolecd/test/pgtest"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// `rolecd daemon` serves the hub on the API listener: the one-time local
// token signs in, the inventory shows the branch's resource, and the
// daemon stops cleanly.
func TestDaemonServesTheHub(t *testing.T) {
	c := pgtest.Start(t)
	remote := gittest.New(t)
	remote.Commit("main", "declare app", gittest.File("roles/resources.yaml", resourceYAML("app", c.Host, c.Port)))
	dir := t.TempDir()
	cfg := filepath.Join(dir, "rolecd.yaml")
	body := fmt.Sprintf("git:\n  url: %s\n  path: roles\n  cache_dir: %s\nstore: sqlite://%s\nlisten: 127.0.0.2:0\napi:\n  listen: 127.0.0.1:0\ndrift:\n  schedule: \"\"\nhub:\n  insecure_cookies: true\n  local_token_env: HUB_TOKEN\naudit:\n  file: %s\ncredentials:\n  env_allow: [ADMIN_PW]\n",
		remote.URL(), filepath.Join(dir, "cache"), filepath.Join(dir, "rolecd.db"), filepath.Join(dir, "audit.jsonl"))
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	const token = "one-time-token-0123456789"
	env := map[string]string{"ADMIN_PW": c.Password, "HUB_TOKEN": token}
	var stdout, stderr lockedBuffer
	g := &globals{configPath: cfg, configExplicit: true, logLevel: "info", stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr,
		getenv: func(k string) string { return env[k] }}
	ctx, cancel := context.WithCancel(context.Background())
	exited := make(chan struct{})
	var runErr error
	go func() { runErr = daemonRun(ctx, g, &daemonOptions{}); close(exited) }()
	defer func() {
		cancel()
		<-exited
		if runErr != nil {
			t.Errorf("daemon: %v", runErr)
		}
		if strings.Contains(stderr.String(), token) || strings.Contains(stderr.String(), c.Password) {
			t.Error("a secret is in the daemon's logs")
		}
	}()
	hubURL := regexp.MustCompile(`"url":"(http://127\.0\.0\.1:\d+/hub/)"`)
	var base string
	for deadline := time.Now().Add(30 * time.Second); base == ""; {
		if m := hubURL.FindStringSubmatch(stderr.String()); m != nil {
			base = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("the daemon did not serve the hub:\n%s", stderr.String())
		} else {
			select {
			case <-exited:
				t.Fatalf("the daemon exited: %v\n%s", runErr, stderr.String())
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	get := func(u string) (*http.Response, string) {
		resp, err := client.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	if resp, _ := get(base); resp.Request.URL.Path != "/hub/login" {
		t.Fatalf("signed out: landed on %s", resp.Request.URL)
	}
	resp, page := get(base + "login/token?token=" + token)
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/hub/" || !strings.Contains(page, `href="/hub/resources/app"`) {
		t.Fatalf("after the local token: %d at %s\n%s", resp.StatusCode, resp.Request.URL, page)
	}
	if resp, _ := get(strings.TrimSuffix(base, "hub/")); resp.Request.URL.Path != "/hub/" {
		t.Errorf("/ does not lead to the hub: %s", resp.Request.URL)
	}
	// The API beside it still wants its bearer token.
	if resp, _ := get(strings.TrimSuffix(base, "hub/") + "api/v1/sessions"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("/api/v1/sessions with a hub cookie and no bearer token: %d, want 401", resp.StatusCode)
	}
	if resp, _ := (&http.Client{}).Get(base + "login/token?token=" + token); resp.Request.URL.Query().Get("problem") != "token" {
		t.Errorf("the local token worked twice: %s", resp.Request.URL)
	}
	// The views went to the SIEM export; `sessions list` leaves them out
	// unless asked.
	exported, err := os.ReadFile(filepath.Join(dir, "audit.jsonl"))
	if err != nil || !strings.Contains(string(exported), `"kind":"view"`) || !strings.Contains(string(exported), `"actor":"local"`) {
		t.Errorf("audit export (%v):\n%s", err, exported)
	}
	if r := rolecd(t, env, "--config", cfg, "sessions", "list"); r.code != 0 || strings.Contains(r.stdout, "view") {
		t.Errorf("sessions list: %+v", r)
	}
	if r := rolecd(t, env, "--config", cfg, "sessions", "list", "--kind", "view"); r.code != 0 || !strings.Contains(r.stdout, "view") {
		t.Errorf("sessions list --kind view: %+v", r)
	}
}

func TestGitHubWebURL(t *testing.T) {
	for _, tc := range []struct{ api, web, want string }{
		{"https://api.github.com/", "", "https://github.com/"},
		{"https://ghe.example.com/api/v3/", "", "https://ghe.example.com/"},
		{"https://ghe.example.com/api/v3", "", "https://ghe.example.com/"},
		{"https://api.github.com/", "https://github.example.com", "https://github.example.com/"},
	} {
		cfg := config.Defaults()
		cfg.GitHub.APIURL, cfg.Hub.GitHub.WebURL = tc.api, tc.web
		if got := githubWebURL(cfg); got != tc.want {
			t.Errorf("api %s web %q: %s, want %s", tc.api, tc.web, got, tc.want)
		}
	}
}
