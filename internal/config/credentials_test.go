package config

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCredentials(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		env     map[string]string
		check   func(t *testing.T, c Config)
		wantErr []string
	}{
		{name: "nothing allowed by default", check: func(t *testing.T, c Config) {
			p := c.CredentialPolicy()
			if len(p.EnvAllow)+len(p.FileDirs)+len(p.Commands) != 0 {
				t.Errorf("default policy allows %+v", p)
			}
			if err := p.CheckEnv("ANALYTICS_ADMIN_PASSWORD"); err == nil {
				t.Error("the default policy allows a variable")
			}
		}},
		{name: "file", body: `
github: {owner: acme, repo: roles, token_env: GH_PAT, webhook_secret_env: HOOK_SECRET}
git: {token_env: GIT_PAT, ssh_key_file: /etc/rolecd/id_ed25519}
audit: {webhook_secret_env: SIEM_KEY}
secret_key_file: /run/secrets/rolecd.key
api: {token_env: API_TOKEN, token_file: /etc/rolecd/api.token}
store: sqlite:///var/lib/rolecd/rolecd.db
credentials:
  env_allow: [PG_ADMIN_*, ANALYTICS_ADMIN_PASSWORD]
  file_dirs: [/run/secrets/]
  commands:
    rds:
      argv: [aws, rds, generate-db-auth-token, --hostname, "{host}", --port, "{port}", --username, "{user}"]
      timeout: 5s
`, check: func(t *testing.T, c Config) {
			p := c.CredentialPolicy()
			if !slices.Equal(p.EnvAllow, []string{"PG_ADMIN_*", "ANALYTICS_ADMIN_PASSWORD"}) || !slices.Equal(p.FileDirs, []string{"/run/secrets"}) ||
				!slices.Equal(p.Commands, []string{"rds"}) {
				t.Errorf("policy = %+v", p)
			}
			// Every *_env key, including those of other sections (api.token_env).
			if want := []string{"API_TOKEN", "GH_PAT", "GITHUB_TOKEN", "GIT_PAT", "HOOK_SECRET", "SIEM_KEY"}; !slices.Equal(p.Reserved, want) {
				t.Errorf("reserved = %v, want %v", p.Reserved, want)
			}
			if want := []string{"/etc/rolecd/api.token", "/etc/rolecd/id_ed25519", "/run/secrets/rolecd.key", "/var/lib/rolecd/rolecd.db", "/var/lib/rolecd/secret.key"}; !slices.Equal(p.ReservedFiles, want) {
				t.Errorf("reserved files = %v, want %v", p.ReservedFiles, want)
			}
			if cmd := c.Credentials.Commands["rds"]; cmd.Timeout != 5*time.Second || len(cmd.Argv) != 9 {
				t.Errorf("rds = %+v", cmd)
			}
		}},
		{name: "environment lists", env: map[string]string{"ROLECD_CREDENTIALS_ENV_ALLOW": "PG_ADMIN_*, BILLING_PW", "ROLECD_CREDENTIALS_FILE_DIRS": "/run/secrets,/etc/rolecd/admins"},
			check: func(t *testing.T, c Config) {
				if !slices.Equal(c.Credentials.EnvAllow, []string{"PG_ADMIN_*", "BILLING_PW"}) || !slices.Equal(c.Credentials.FileDirs, []string{"/run/secrets", "/etc/rolecd/admins"}) {
					t.Errorf("credentials = %+v", c.Credentials)
				}
			}},
		{name: "commands only in the file", env: map[string]string{"ROLECD_CREDENTIALS_COMMANDS": "rds"},
			wantErr: []string{"ROLECD_CREDENTIALS_COMMANDS: this setting cannot be set from the environment"}},
		{name: "rolecd's own variables", body: `
github: {owner: acme, repo: roles, token_env: GH_PAT}
credentials: {env_allow: ["*", ROLECD_SECRET_KEY, GH_PAT, GITHUB_TOKEN, "bad-name"]}
`, wantErr: []string{
			`credentials.env_allow[0]: "*" would allow every variable`,
			`credentials.env_allow[1]: "ROLECD_SECRET_KEY": ROLECD_* variables are rolecd's own`,
			`credentials.env_allow[2]: "GH_PAT" holds one of rolecd's own secrets`,
			`credentials.env_allow[3]: "GITHUB_TOKEN" holds one of rolecd's own secrets`,
			`credentials.env_allow[4]: "bad-name" is neither a variable name nor a prefix ending in *`,
		}},
		{name: "file_dirs", body: "credentials: {file_dirs: [secrets, /]}\n", wantErr: []string{
			`credentials.file_dirs[0]: "secrets" is not an absolute directory`,
			`credentials.file_dirs[1]: "/" would allow every file`,
		}},
		{name: "commands", body: `
credentials:
  commands:
    empty: {argv: []}
    typo: {argv: [aws, "{hots}"], timeout: -1s}
    shell: {argv: ["{host}"]}
`, wantErr: []string{
			"credentials.commands.empty.argv: want the program and its arguments",
			"credentials.commands.shell.argv[0]: the program cannot come from a placeholder",
			"credentials.commands.typo.argv[1]: unknown placeholder {hots}: want {host}, {port}, {user}, {database}, {resource}",
			"credentials.commands.typo.timeout: -1s is negative",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "absent.yaml")
			if tt.body != "" {
				path = writeConfig(t, tt.body)
			}
			c, err := Load(path, true, func(k string) string { return tt.env[k] })
			if len(tt.wantErr) > 0 {
				for _, want := range tt.wantErr {
					if err == nil || !strings.Contains(err.Error(), want) {
						t.Errorf("err = %v, want it to contain %q", err, want)
					}
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
