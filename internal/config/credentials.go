package config

import (
	"fmt"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/rolecd/rolecd/planner/spec"
)

// Credentials is the operator's allow-list of admin password sources
// (`credentials:` in rolecd.yaml). Nothing is allowed by default: a
// resource's password_env, password_file or password_command that this
// section does not allow is a validation error in validate, plan and the
// daemon, and is refused again when rolecd connects. rolecd's own
// variables (ROLECD_*, every configured *_env such as github.token_env,
// and GITHUB_TOKEN) are never allowed.
type Credentials struct {
	// EnvAllow lists the variables password_env may name: exact names or
	// prefixes ending in "*" ("PG_ADMIN_*"). From the environment:
	// ROLECD_CREDENTIALS_ENV_ALLOW, comma-separated.
	EnvAllow []string `yaml:"env_allow"`
	// FileDirs lists the absolute directories password_file must be in
	// (symbolic links are resolved when the file is read). From the
	// environment: ROLECD_CREDENTIALS_FILE_DIRS, comma-separated.
	FileDirs []string `yaml:"file_dirs"`
	// Commands are the password commands password_command may name. Only
	// in the configuration file.
	Commands map[string]Command `yaml:"commands"`
}

// Command is an operator-configured program that prints an admin password
// (or a short-lived token) on stdout. It runs without a shell; its
// arguments may contain {host}, {port}, {user}, {database} and {resource},
// replaced by the resource's values (one argument each, never split).
type Command struct {
	Argv []string `yaml:"argv"`
	// Timeout bounds one run (default 10s).
	Timeout time.Duration `yaml:"timeout"`
}

// CommandPlaceholders are the placeholders a command's argv may use.
func CommandPlaceholders() []string {
	return []string{"{host}", "{port}", "{user}", "{database}", "{resource}"}
}

var (
	envPattern      = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*\*?$`)
	placeholderExpr = regexp.MustCompile(`\{[^{}]*\}`)
	commandName     = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,63}$`)
)

// ReservedEnv lists the variables that hold rolecd's own secrets, sorted:
// every configured key ending in _env (github.token_env, git.token_env,
// github.webhook_secret_env, audit.webhook_secret_env, ...) and
// GITHUB_TOKEN, the GitHub token's default. With the ROLECD_ prefix, they
// are never an admin password source.
func (c Config) ReservedEnv() []string {
	set := map[string]bool{"GITHUB_TOKEN": true}
	collectEnvKeys(reflect.ValueOf(c), set)
	out := make([]string, 0, len(set))
	for name := range set {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// collectEnvKeys adds the value of every string field tagged *_env.
func collectEnvKeys(v reflect.Value, set map[string]bool) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f, fv := t.Field(i), v.Field(i)
		switch {
		case f.Type.Kind() == reflect.Struct:
			collectEnvKeys(fv, set)
		case f.Type.Kind() == reflect.String && strings.HasSuffix(f.Tag.Get("yaml"), "_env") && fv.String() != "":
			set[fv.String()] = true
		}
	}
}

// ReservedFiles lists rolecd's own files, which are never a password
// file: every configured key ending in _file (secret_key_file,
// git.ssh_key_file), audit.file, and the key file beside a SQLite store.
func (c Config) ReservedFiles() []string {
	var out []string
	collectFileKeys(reflect.ValueOf(c), &out)
	if path, ok := strings.CutPrefix(c.Store, "sqlite://"); ok {
		out = append(out, filepath.Join(filepath.Dir(path), "secret.key"), path)
	}
	for i, f := range out {
		if abs, err := filepath.Abs(f); err == nil {
			out[i] = abs
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// collectFileKeys adds the value of every string field tagged *_file or file.
func collectFileKeys(v reflect.Value, out *[]string) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f, fv := t.Field(i), v.Field(i)
		tag := f.Tag.Get("yaml")
		switch {
		case f.Type.Kind() == reflect.Struct:
			collectFileKeys(fv, out)
		case f.Type.Kind() == reflect.String && (tag == "file" || strings.HasSuffix(tag, "_file")) && fv.String() != "":
			*out = append(*out, fv.String())
		}
	}
}

// CredentialPolicy is the allow-list the role files are validated against.
func (c Config) CredentialPolicy() *spec.CredentialPolicy {
	p := &spec.CredentialPolicy{
		EnvAllow:      slices.Clone(c.Credentials.EnvAllow),
		Reserved:      c.ReservedEnv(),
		ReservedFiles: c.ReservedFiles(),
	}
	for _, d := range c.Credentials.FileDirs {
		p.FileDirs = append(p.FileDirs, filepath.Clean(d))
	}
	for name := range c.Credentials.Commands {
		p.Commands = append(p.Commands, name)
	}
	sort.Strings(p.Commands)
	return p
}

// validate checks the credentials section.
func (cr Credentials) validate(reserved []string) []error {
	var errs []error
	for i, e := range cr.EnvAllow {
		key := fmt.Sprintf("credentials.env_allow[%d]", i)
		switch {
		case e == "*":
			errs = append(errs, fmt.Errorf("%s: \"*\" would allow every variable: name them, or a prefix such as PG_ADMIN_*", key))
		case !envPattern.MatchString(e):
			errs = append(errs, fmt.Errorf("%s: %q is neither a variable name nor a prefix ending in *", key, e))
		case strings.HasPrefix(e, spec.ReservedEnvPrefix):
			errs = append(errs, fmt.Errorf("%s: %q: ROLECD_* variables are rolecd's own and never an admin password", key, e))
		case slices.Contains(reserved, e):
			errs = append(errs, fmt.Errorf("%s: %q holds one of rolecd's own secrets and is never an admin password", key, e))
		}
	}
	for i, d := range cr.FileDirs {
		key := fmt.Sprintf("credentials.file_dirs[%d]", i)
		switch {
		case !filepath.IsAbs(d):
			errs = append(errs, fmt.Errorf("%s: %q is not an absolute directory", key, d))
		case filepath.Clean(d) == "/":
			errs = append(errs, fmt.Errorf("%s: \"/\" would allow every file: name the directory of the secrets, such as /run/secrets", key))
		}
	}
	names := make([]string, 0, len(cr.Commands))
	for name := range cr.Commands {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		cmd := cr.Commands[name]
		key := "credentials.commands." + name
		if !commandName.MatchString(name) {
			errs = append(errs, fmt.Errorf("credentials.commands: %q: a command name is 1-63 letters, digits, _ - .", name))
		}
		if len(cmd.Argv) == 0 || cmd.Argv[0] == "" {
			errs = append(errs, fmt.Errorf("%s.argv: want the program and its arguments, e.g. [aws, rds, generate-db-auth-token, --hostname, \"{host}\"]", key))
		}
		for i, a := range cmd.Argv {
			for _, ph := range placeholderExpr.FindAllString(a, -1) {
				if !slices.Contains(CommandPlaceholders(), ph) {
					errs = append(errs, fmt.Errorf("%s.argv[%d]: unknown placeholder %s: want %s", key, i, ph, strings.Join(CommandPlaceholders(), ", ")))
				}
			}
		}
		if len(cmd.Argv) > 0 && strings.Contains(cmd.Argv[0], "{") {
			errs = append(errs, fmt.Errorf("%s.argv[0]: the program cannot come from a placeholder", key))
		}
		if cmd.Timeout < 0 {
			errs = append(errs, fmt.Errorf("%s.timeout: %s is negative", key, cmd.Timeout))
		}
	}
	return errs
}
