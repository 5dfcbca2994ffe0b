package spec

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// ReservedEnvPrefix starts every variable rolecd itself reads
// (ROLECD_SECRET_KEY, the ROLECD_* configuration overrides): none of them
// is ever an admin password source, whatever the policy says.
const ReservedEnvPrefix = "ROLECD_"

// CredentialPolicy is the operator's allow-list of admin password sources
// (rolecd.yaml `credentials:`): which environment variables a resource's
// admin.password_env may name, under which directories its
// admin.password_file must lie, and which operator-configured commands its
// admin.password_command may name. The zero value allows none of them: a
// resource can then only use the store or libpq's usual sources.
//
// It is pure: CheckFile is lexical (filepath.Clean). internal/cluster checks the
// same policy again at use, with symbolic links resolved.
type CredentialPolicy struct {
	// EnvAllow are exact variable names, or prefixes ending in "*"
	// ("PG_ADMIN_*").
	EnvAllow []string
	// Reserved are variables that hold rolecd's own secrets (the GitHub
	// and git tokens, the webhook secrets): never allowed, like every
	// ROLECD_* variable.
	Reserved []string
	// FileDirs are absolute directories; a password file must be inside
	// one of them.
	FileDirs []string
	// ReservedFiles are rolecd's own secret files (its key file, the git
	// SSH key): never a password file, even inside FileDirs.
	ReservedFiles []string
	// Commands are the names of the configured password commands.
	Commands []string
}

// ErrNotAllowed marks a credential source the policy refuses.
var ErrNotAllowed = errors.New("not allowed by the credential policy")

// CheckEnv reports whether name may be read as an admin password. Its
// messages never repeat name unless it is one of rolecd's own variables (a
// password pasted into password_env must not reach a log).
func (p *CredentialPolicy) CheckEnv(name string) error {
	if strings.HasPrefix(name, ReservedEnvPrefix) || slices.Contains(p.Reserved, name) {
		return fmt.Errorf("%w: %s is one of rolecd's own secrets (ROLECD_*, the GitHub and git tokens, the webhook secrets), never an admin password", ErrNotAllowed, name)
	}
	for _, a := range p.EnvAllow {
		if prefix, ok := strings.CutSuffix(a, "*"); ok && strings.HasPrefix(name, prefix) || a == name {
			return nil
		}
	}
	return fmt.Errorf("%w: the variable is not in credentials.env_allow of rolecd.yaml (or ROLECD_CREDENTIALS_ENV_ALLOW); allow it there by name or prefix (value not shown: it may be a secret)", ErrNotAllowed)
}

// CheckFile reports whether path lies, lexically, inside one of the
// configured directories.
func (p *CredentialPolicy) CheckFile(path string) error {
	if !filepath.IsAbs(path) {
		return fmt.Errorf("%w: %s is not an absolute path", ErrNotAllowed, quote(path))
	}
	if p.IsReservedFile(filepath.Clean(path)) {
		return fmt.Errorf("%w: %s is one of rolecd's own secret files, never an admin password", ErrNotAllowed, quote(path))
	}
	if UnderDirs(filepath.Clean(path), p.FileDirs) {
		return nil
	}
	if len(p.FileDirs) == 0 {
		return fmt.Errorf("%w: %s: no directory is configured in credentials.file_dirs of rolecd.yaml", ErrNotAllowed, quote(path))
	}
	return fmt.Errorf("%w: %s is not inside credentials.file_dirs (%s)", ErrNotAllowed, quote(path), strings.Join(p.FileDirs, ", "))
}

// CheckCommand reports whether name is a configured password command.
func (p *CredentialPolicy) CheckCommand(name string) error {
	if slices.Contains(p.Commands, name) {
		return nil
	}
	if len(p.Commands) == 0 {
		return fmt.Errorf("%w: %s: no command is configured in credentials.commands of rolecd.yaml", ErrNotAllowed, quote(name))
	}
	return fmt.Errorf("%w: %s is not in credentials.commands (%s)", ErrNotAllowed, quote(name), strings.Join(p.Commands, ", "))
}

// CheckConnection checks the credential source of c.
func (p *CredentialPolicy) CheckConnection(c Connection) error {
	kind, arg := c.CredentialSource()
	switch kind {
	case CredentialStore:
		return nil
	case CredentialEnv:
		if err := p.CheckEnv(arg); err != nil {
			return fmt.Errorf("admin password_env: %w", err)
		}
	case CredentialFile:
		if err := p.CheckFile(arg); err != nil {
			return fmt.Errorf("admin password_file: %w", err)
		}
	case CredentialCommand:
		if err := p.CheckCommand(arg); err != nil {
			return fmt.Errorf("admin password_command: %w", err)
		}
	default:
		return fmt.Errorf("unknown credential source %s", quote(kind))
	}
	return nil
}

// IsReservedFile reports whether the clean absolute path is one of
// ReservedFiles.
func (p *CredentialPolicy) IsReservedFile(path string) bool {
	for _, f := range p.ReservedFiles {
		if f != "" && filepath.Clean(f) == path {
			return true
		}
	}
	return false
}

// UnderDirs reports whether the clean absolute path lies strictly inside
// one of dirs (each cleaned).
func UnderDirs(path string, dirs []string) bool {
	for _, d := range dirs {
		d = filepath.Clean(d)
		if d == "" || !filepath.IsAbs(d) {
			continue
		}
		if rel, err := filepath.Rel(d, path); err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return true
		}
	}
	return false
}
