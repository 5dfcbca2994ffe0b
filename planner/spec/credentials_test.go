package spec

import (
	"slices"
	"strings"
	"testing"
)

func testPolicy() *CredentialPolicy {
	return &CredentialPolicy{
		EnvAllow: []string{"PG_ADMIN_*", "ANALYTICS_ADMIN_PASSWORD"},
		Reserved: []string{"GITHUB_TOKEN", "PG_ADMIN_WEBHOOK"},
		FileDirs: []string{"/run/secrets"},
		Commands: []string{"rds"},
	}
}

func TestCredentialPolicyInRoleFiles(t *testing.T) {
	res := func(admin string) string {
		return "resources:\n  - name: a\n    host: h\n    admin:\n      user: u\n" + admin
	}
	notEnv := "roles.yaml:6:21: admin.password_env: not allowed by the credential policy: the variable is not in credentials.env_allow of rolecd.yaml (or ROLECD_CREDENTIALS_ENV_ALLOW); allow it there by name or prefix (value not shown: it may be a secret)"
	tests := []struct {
		name   string
		data   string
		policy *CredentialPolicy
		want   []string
	}{
		{"exact name", res("      password_env: ANALYTICS_ADMIN_PASSWORD\n"), testPolicy(), nil},
		{"prefix", res("      password_env: PG_ADMIN_ANALYTICS\n"), testPolicy(), nil},
		{"not listed", res("      password_env: AWS_SECRET_ACCESS_KEY\n"), testPolicy(), []string{notEnv}},
		{"prefix is not a substring", res("      password_env: XPG_ADMIN_A\n"), testPolicy(), []string{notEnv}},
		{"rolecd's own key", res("      password_env: ROLECD_SECRET_KEY\n"), &CredentialPolicy{EnvAllow: []string{"ROLECD_SECRET_KEY", "R*"}}, []string{
			"roles.yaml:6:21: admin.password_env: not allowed by the credential policy: ROLECD_SECRET_KEY is one of rolecd's own secrets (ROLECD_*, the GitHub and git tokens, the webhook secrets), never an admin password"}},
		{"reserved inside an allowed prefix", res("      password_env: PG_ADMIN_WEBHOOK\n"), testPolicy(), []string{
			"roles.yaml:6:21: admin.password_env: not allowed by the credential policy: PG_ADMIN_WEBHOOK is one of rolecd's own secrets (ROLECD_*, the GitHub and git tokens, the webhook secrets), never an admin password"}},
		{"nothing allowed by default", res("      password_env: ANALYTICS_ADMIN_PASSWORD\n"), &CredentialPolicy{}, []string{notEnv}},
		{"file inside", res("      password_file: /run/secrets/analytics\n"), testPolicy(), nil},
		{"rolecd's key file inside", res("      password_file: /run/secrets/rolecd/./key\n"), &CredentialPolicy{FileDirs: []string{"/run/secrets"}, ReservedFiles: []string{"/run/secrets/rolecd/key"}}, []string{
			`roles.yaml:6:22: admin.password_file: not allowed by the credential policy: "/run/secrets/rolecd/./key" is one of rolecd's own secret files, never an admin password`}},
		{"file escaping with ..", res("      password_file: /run/secrets/../../etc/shadow\n"), testPolicy(), []string{
			`roles.yaml:6:22: admin.password_file: not allowed by the credential policy: "/run/secrets/../../etc/shadow" is not inside credentials.file_dirs (/run/secrets)`}},
		{"file beside the directory", res("      password_file: /run/secrets-other/x\n"), testPolicy(), []string{
			`roles.yaml:6:22: admin.password_file: not allowed by the credential policy: "/run/secrets-other/x" is not inside credentials.file_dirs (/run/secrets)`}},
		{"the directory itself", res("      password_file: /run/secrets/\n"), testPolicy(), []string{
			`roles.yaml:6:22: admin.password_file: not allowed by the credential policy: "/run/secrets/" is not inside credentials.file_dirs (/run/secrets)`}},
		{"relative file", res("      password_file: secrets/x\n"), testPolicy(), []string{
			`roles.yaml:6:22: admin.password_file: not allowed by the credential policy: "secrets/x" is not an absolute path`}},
		{"no file_dirs", res("      password_file: /etc/shadow\n"), &CredentialPolicy{}, []string{
			`roles.yaml:6:22: admin.password_file: not allowed by the credential policy: "/etc/shadow": no directory is configured in credentials.file_dirs of rolecd.yaml`}},
		{"configured command", res("      password_command: rds\n"), testPolicy(), nil},
		{"unknown command", res("      password_command: gcloud\n"), testPolicy(), []string{
			`roles.yaml:6:25: admin.password_command: not allowed by the credential policy: "gcloud" is not in credentials.commands (rds)`}},
		{"a command line is not a name", res("      password_command: cat /etc/shadow\n"), testPolicy(), []string{
			`roles.yaml:6:25: invalid admin.password_command "cat /etc/shadow": want the name of a command configured in credentials.commands of rolecd.yaml (the command line itself never lives in role files)`}},
		{"two sources", res("      password_env: PG_ADMIN_A\n      password_command: rds\n"), testPolicy(), []string{
			"roles.yaml:7:25: admin.password_env, admin.password_file and admin.password_command are mutually exclusive"}},
		{"no policy: not checked", res("      password_env: ROLECD_SECRET_KEY\n"), nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseErrs(t, Options{Credentials: tt.policy}, yamlOf(tt.data))
			if !slices.Equal(got, tt.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestSSLRootCert(t *testing.T) {
	tests := []struct {
		name, resource string
		want           []string
	}{
		{"verify-full", "{name: a, host: h, sslmode: verify-full, sslrootcert: /etc/ssl/rds.pem, admin: {user: u}}", nil},
		{"relative", "{name: a, host: h, sslmode: verify-full, sslrootcert: rds.pem, admin: {user: u}}", []string{
			`roles.yaml:2:59: invalid sslrootcert "rds.pem": want an absolute path (a saved plan is applied from any directory)`}},
		{"without verification", "{name: a, host: h, sslmode: prefer, sslrootcert: /etc/ssl/rds.pem, admin: {user: u}}", []string{
			`roles.yaml:2:54: sslrootcert needs sslmode verify-full (or verify-ca, require); sslmode is "prefer"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseErrs(t, Options{}, yamlOf("resources:\n  - "+tt.resource+"\n"))
			if !slices.Equal(got, tt.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
	tree := mustParse(t, Options{}, yamlOf("resources:\n  - "+tests[0].resource+"\n"))
	if got := tree.Resources[0].Connection().SSLRootCert; got != "/etc/ssl/rds.pem" {
		t.Errorf("Connection().SSLRootCert = %q", got)
	}
}

func TestConnectionRoundTrip(t *testing.T) {
	for _, admin := range []Admin{
		{User: "u"}, {User: "u", PasswordEnv: "PG_ADMIN_A"}, {User: "u", PasswordFile: "/run/secrets/a"}, {User: "u", PasswordCommand: "rds"},
		{User: "u", PasswordEnv: "PG_ADMIN_A", AllowCleartext: true},
	} {
		res := Resource{Name: "a", Host: "h", Port: 5433, Database: "postgres", SSLMode: "verify-full", SSLRootCert: "/ca.pem", Admin: admin}
		got, err := res.Connection().Resource("a")
		if err != nil {
			t.Fatalf("%+v: %v", admin, err)
		}
		if !sameResource(got, res) {
			t.Errorf("round trip of %+v = %+v", res, got)
		}
	}
	for _, c := range []Connection{
		{Host: "h", Port: 5432, Database: "postgres", AdminUser: "u", Credential: "vault:x"},
		{Host: "h", Port: 5432, Database: "postgres", AdminUser: "u", Credential: "env:"},
		{Host: "", Port: 5432, Database: "postgres", AdminUser: "u", Credential: "store"},
	} {
		if _, err := c.Resource("a"); err == nil {
			t.Errorf("Connection %+v: no error", c)
		}
	}
}
