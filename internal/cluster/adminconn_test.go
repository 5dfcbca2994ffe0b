package cluster

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rolecd/rolecd/planner/spec"
	"github.com/rolecd/rolecd/test/pgtest"
)

func resource(c *pgtest.Cluster, admin spec.Admin) spec.Resource {
	return spec.Resource{Name: "app", Host: c.Host, Port: c.Port, Database: "postgres", SSLMode: "disable", Admin: admin}
}

func TestPasswordSources(t *testing.T) {
	c := pgtest.Start(t)
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte(c.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"GOOD": c.Password, "BAD": "not-the-password-42", "PGPASSWORD": c.Password}
	getenv := func(k string) string { return env[k] }
	tests := []struct {
		name    string
		admin   spec.Admin
		wantErr string
	}{
		{"password_env", spec.Admin{User: c.User, PasswordEnv: "GOOD"}, ""},
		{"password_file with trailing newline", spec.Admin{User: c.User, PasswordFile: pwFile}, ""},
		{"wrong password", spec.Admin{User: c.User, PasswordEnv: "BAD"}, "password authentication failed"},
		{"unset variable", spec.Admin{User: c.User, PasswordEnv: "UNSET"}, "environment variable UNSET is not set"},
		{"missing file", spec.Admin{User: c.User, PasswordFile: pwFile + ".nope"}, "admin password file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			version, err := Dialer{Getenv: getenv}.Health(context.Background(), resource(c, tt.admin))
			if tt.wantErr == "" {
				if err != nil || version == "" {
					t.Fatalf("Health = %q, %v", version, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), env["BAD"]) || strings.Contains(err.Error(), c.Password) {
				t.Fatalf("error leaks a password: %v", err)
			}
			if !strings.HasPrefix(err.Error(), "resource app: ") {
				t.Errorf("error does not name the resource: %v", err)
			}
		})
	}
}

func TestUnreachableNamesHostAndPort(t *testing.T) {
	res := spec.Resource{Name: "down", Host: "127.0.0.1", Port: 1, Database: "postgres", SSLMode: "disable", Admin: spec.Admin{User: "postgres"}}
	_, err := Dialer{Getenv: func(string) string { return "" }}.Health(context.Background(), res)
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") || strings.Contains(err.Error(), "failed to connect to `") {
		t.Fatalf("err = %v", err)
	}
	if errors.Unwrap(err) == nil {
		t.Errorf("the pgx error should stay inspectable through errors.Unwrap")
	}
}

func TestConfigQuotesValues(t *testing.T) {
	res := spec.Resource{Name: "q", Host: "h'ost", Port: 5432, Database: `d b\'`, SSLMode: "prefer", Admin: spec.Admin{User: "o'neil"}}
	cfg, err := Dialer{Getenv: func(string) string { return "" }}.Config(res, `we'ird db`)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "h'ost" || cfg.User != "o'neil" || cfg.Database != `we'ird db` {
		t.Errorf("cfg = host %q user %q db %q", cfg.Host, cfg.User, cfg.Database)
	}
}
