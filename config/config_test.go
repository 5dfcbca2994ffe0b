package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "rolecd.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoad(t *testing.T) {
	noEnv := func(string) string { return "" }
	tests := []struct {
		name    string
		body    string // "" with optional: file absent
		env     map[string]string
		check   func(t *testing.T, c Config)
		wantErr string
	}{
		{name: "absent optional file gives defaults", check: func(t *testing.T, c Config) {
			if c.RolePrefix != "rolecd" || c.Store != "sqlite://.rolecd/rolecd.db" || c.Git.PollInterval != time.Minute {
				t.Errorf("defaults = %+v", c)
			}
		}},
		{name: "file values", body: "role_prefix: hoopdev\ngit:\n  url: file:///srv/roles.git\n  poll_interval: 30s\n", check: func(t *testing.T, c Config) {
			if c.RolePrefix != "hoopdev" || c.Git.URL != "file:///srv/roles.git" || c.Git.PollInterval != 30*time.Second || c.Git.Branch != "main" {
				t.Errorf("got %+v", c)
			}
		}},
		{name: "env overrides file", body: "role_prefix: hoopdev\n", env: map[string]string{"ROLECD_ROLE_PREFIX": "acme", "ROLECD_GIT_URL": "file:///x", "ROLECD_APPLY_UNREVIEWED": "true", "ROLECD_GIT_POLL_INTERVAL": "5m"}, check: func(t *testing.T, c Config) {
			if c.RolePrefix != "acme" || c.Git.URL != "file:///x" || !c.ApplyUnreviewed || c.Git.PollInterval != 5*time.Minute {
				t.Errorf("got %+v", c)
			}
		}},
		{name: "unknown key", body: "git:\n  brnch: main\n", wantErr: "field brnch not found"},
		{name: "bad drift action", body: "drift:\n  action: fix\n", wantErr: `drift.action: "fix"`},
		{name: "bad prefix", body: "role_prefix: Hoop-Dev\n", wantErr: "role_prefix"},
		{name: "API defaults: loopback, token from ROLECD_API_TOKEN, metrics not public", check: func(t *testing.T, c Config) {
			if c.API.Listen != "127.0.0.1:8081" || c.API.TokenEnv != "ROLECD_API_TOKEN" || c.Metrics.Public || !c.API.Enabled() {
				t.Errorf("api = %+v, metrics = %+v", c.API, c.Metrics)
			}
		}},
		{name: "API off", body: "api:\n  listen: \"off\"\n", check: func(t *testing.T, c Config) {
			if c.API.Enabled() {
				t.Errorf("api = %+v is enabled", c.API)
			}
		}},
		{name: "API keys from env", env: map[string]string{"ROLECD_API_LISTEN": "0.0.0.0:9000", "ROLECD_API_TOKEN_FILE": "/run/tok", "ROLECD_METRICS_PUBLIC": "true", "ROLECD_GITHUB_INSTALLATION_ID": "4242"}, check: func(t *testing.T, c Config) {
			if c.API.Listen != "0.0.0.0:9000" || c.API.TokenFile != "/run/tok" || !c.Metrics.Public || c.GitHub.InstallationID != 4242 {
				t.Errorf("got api %+v, metrics %+v, installation %d", c.API, c.Metrics, c.GitHub.InstallationID)
			}
		}},
		{name: "API on the webhook listener", body: "listen: 0.0.0.0:8080\napi:\n  listen: 0.0.0.0:8080\n", wantErr: "api.listen"},
		{name: "bad installation id", env: map[string]string{"ROLECD_GITHUB_INSTALLATION_ID": "many"}, wantErr: "ROLECD_GITHUB_INSTALLATION_ID"},
		{name: "bad env duration", env: map[string]string{"ROLECD_GIT_POLL_INTERVAL": "soon"}, wantErr: "ROLECD_GIT_POLL_INTERVAL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "absent.yaml")
			if tt.body != "" {
				path = writeConfig(t, tt.body)
			}
			env := noEnv
			if tt.env != nil {
				env = func(k string) string { return tt.env[k] }
			}
			c, err := Load(path, true, env)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestLoadExplicitMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), false, func(string) string { return "" })
	if err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Fatalf("err = %v, want a missing-file error naming it", err)
	}
}
