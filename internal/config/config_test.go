package config

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
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

// TestLoadErrorsNameKeyAndLine checks the message of every kind of problem
// in rolecd.yaml: all of them at once, each with its line and key.
func TestLoadErrorsNameKeyAndLine(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []string // the lines of the error, after the file name
	}{
		{name: "duration not a duration", body: "git:\n  url: x\n  poll_interval: soon\n",
			want: []string{`:3: key git.poll_interval: want a duration such as 30s or 5m, got "soon"`}},
		{name: "duration without a unit", body: "git:\n  timeout: 30\n",
			want: []string{`:2: key git.timeout: want a duration such as 30s or 5m, got "30"`}},
		{name: "unknown keys, top level and nested", body: "rol_prefix: x\ngit:\n  brnch: main\n",
			want: []string{
				`:1: key rol_prefix: unknown key at the top level: want one of ` + strings.Join(topLevelKeys(), ", "),
				`:3: key git.brnch: unknown key in git: want one of branch, cache_dir, path, poll_interval, ssh_key_file, timeout, token_env, url`,
			}},
		{name: "a list where a mapping is expected", body: "git:\n  - url: x\n",
			want: []string{`:2: key git: want a mapping, got a list`}},
		{name: "a mapping where a value is expected", body: "store:\n  url: x\n",
			want: []string{`:2: key store: want a single value, got a mapping`}},
		{name: "not a boolean", body: "apply_unreviewed: sometimes\n",
			want: []string{`:1: key apply_unreviewed: want true or false, got "sometimes"`}},
		{name: "not a number", body: "console:\n  pull_requests:\n    - {number: one, branch: b}\n",
			want: []string{`:3: key console.pull_requests[0].number: want a whole number, got "one"`}},
		{name: "not a 64-bit number", body: "github:\n  installation_id: 99999999999999999999\n",
			want: []string{`:2: key github.installation_id: want a whole number, got "99999999999999999999"`}},
		{name: "inside a named entry of a mapping", body: "credentials:\n  commands:\n    rds:\n      argv: [aws]\n      timeout: soon\n      shell: true\n",
			want: []string{
				`:5: key credentials.commands.rds.timeout: want a duration such as 30s or 5m, got "soon"`,
				`:6: key credentials.commands.rds.shell: unknown key in credentials.commands.rds: want one of argv, timeout`,
			}},
		{name: "key set twice", body: "listen: a\nlisten: b\n",
			want: []string{`:2: key listen: set twice (first at line 1)`}},
		{name: "not a size", body: "limits:\n  max_file_size: huge\n",
			want: []string{`:2: key limits.max_file_size: want a size such as 4MiB, 512KiB or 4194304 (bytes), got "huge"`}},
		{name: "validation problems carry the line of their key", body: "role_prefix: Hoop\ndrift:\n  action: fix\ngithub:\n  owner: acme\n",
			want: []string{
				`:1: key role_prefix: "Hoop" must be lower-case letters, digits and _`,
				`:3: key drift.action: "fix" is neither report nor remediate`,
				`:5: key github.owner: github.owner and github.repo go together`,
			}},
		{name: "decoding and validation problems together, by line", body: "drift:\n  action: fix\ngit:\n  poll_interval: soon\n",
			want: []string{
				`:2: key drift.action: "fix" is neither report nor remediate`,
				`:4: key git.poll_interval: want a duration such as 30s or 5m, got "soon"`,
			}},
		{name: "a console pull request number twice", body: "console:\n  pull_requests:\n    - {number: 1}\n    - {number: 1}\n",
			want: []string{`:4: key console.pull_requests[1]: number 1 appears twice`}},
		{name: "limits out of range", body: "limits:\n  max_file_size: 8MiB\n  max_tree_size: 1MiB\n  max_roles: 0\n",
			want: []string{`:3: key limits.max_tree_size: must be at least limits.max_file_size`, `:4: key limits.max_roles: must be positive`}},
		{name: "a top level that is not a mapping", body: "- git\n",
			want: []string{`:1: the top level must be a mapping of keys, got a list`}},
		{name: "YAML syntax", body: "git:\n  url: [x\n",
			want: []string{`:2: invalid YAML: did not find expected ',' or ']'`}},
		{name: "aliases", body: "git: &g {url: x}\ndrift: *g\n",
			want: []string{`:2: key drift: YAML aliases are not supported: write the value out`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.body)
			_, err := Load(path, false, func(string) string { return "" })
			if err == nil {
				t.Fatal("no error")
			}
			var want []string
			for _, w := range tt.want {
				want = append(want, path+w)
			}
			if got := strings.Split(err.Error(), "\n"); !slices.Equal(got, want) {
				t.Errorf("error:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func TestLimits(t *testing.T) {
	noEnv := func(string) string { return "" }
	c, err := Load(writeConfig(t, "limits:\n  max_file_size: 512KiB\n  max_tree_size: 2097152\n  max_roles: 500\n"), false, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Limits{MaxFileSize: 512 << 10, MaxTreeSize: 2 << 20, MaxRoles: 500}); c.Limits != want {
		t.Errorf("limits = %+v, want %+v", c.Limits, want)
	}
	env := map[string]string{"ROLECD_LIMITS_MAX_FILE_SIZE": "1 MiB", "ROLECD_LIMITS_MAX_ROLES": "100"}
	c, err = Load(filepath.Join(t.TempDir(), "absent.yaml"), true, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if want := (Limits{MaxFileSize: 1 << 20, MaxTreeSize: 64 << 20, MaxRoles: 100}); c.Limits != want {
		t.Errorf("limits from env = %+v, want %+v", c.Limits, want)
	}
	env = map[string]string{"ROLECD_LIMITS_MAX_ROLES": "many"}
	if _, err := Load(filepath.Join(t.TempDir(), "absent.yaml"), true, func(k string) string { return env[k] }); err == nil ||
		err.Error() != `ROLECD_LIMITS_MAX_ROLES: want a whole number, got "many"` {
		t.Errorf("bad env limit: %v", err)
	}
}

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]ByteSize{"0": 0, "4194304": 4 << 20, "4MiB": 4 << 20, "4 MiB": 4 << 20,
		"512KiB": 512 << 10, "512k": 512 << 10, "1GiB": 1 << 30, "1gb": 1 << 30, "100B": 100} {
		if got, err := ParseByteSize(in); err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "-1", "4TiB", "4.5MiB", "lots", "99999999999GiB"} {
		if _, err := ParseByteSize(in); err == nil {
			t.Errorf("ParseByteSize(%q) succeeded", in)
		}
	}
}

// topLevelKeys are the yaml names of Config's fields, sorted.
func topLevelKeys() []string {
	t := reflect.TypeOf(Config{})
	var keys []string
	for i := range t.NumField() {
		keys = append(keys, t.Field(i).Tag.Get("yaml"))
	}
	slices.Sort(keys)
	return keys
}
