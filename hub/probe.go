package hub

import (
	"context"
	"os"

	"github.com/rolecd/rolecd/planner/spec"
)

// SourceProbe returns a CredentialProbe that checks, without reading any
// value into the page: an env source's variable is set (non-empty), a
// file source's file can be opened, a store source has a stored admin
// credential, or else libpq's usual sources (PGPASSWORD, a password
// file) exist. A command source is reported as configured (running it just
// to draw a page would be too costly).
func SourceProbe(getenv func(string) string, st Store, policy *spec.CredentialPolicy) CredentialProbe {
	return func(ctx context.Context, resource string, c spec.Connection) AdminState {
		kind, arg := c.CredentialSource()
		s := AdminState{Source: kind, Name: arg}
		if policy != nil {
			if err := policy.CheckConnection(c); err != nil {
				s.Problem = err.Error()
				return s
			}
		}
		switch kind {
		case spec.CredentialEnv:
			s.Available = getenv(arg) != ""
			if !s.Available {
				s.Problem = "the variable is not set"
			}
		case spec.CredentialFile:
			f, err := os.Open(arg)
			if err == nil {
				_ = f.Close()
				s.Available = true
			} else {
				s.Problem = "the file cannot be read"
			}
		case spec.CredentialCommand:
			s.Available = true
		default:
			if _, err := st.GetAdmin(ctx, resource); err == nil {
				s.Available = true
				break
			}
			s.Name = "libpq defaults"
			s.Available = getenv("PGPASSWORD") != "" || pgpassExists(getenv)
			if !s.Available {
				s.Problem = "none in the store (rolecd admin set), no PGPASSWORD, no password file"
			}
		}
		return s
	}
}

// pgpassExists reports whether libpq's password file exists.
func pgpassExists(getenv func(string) string) bool {
	path := getenv("PGPASSFILE")
	if path == "" {
		home := getenv("HOME")
		if home == "" {
			return false
		}
		path = home + "/.pgpass"
	}
	_, err := os.Stat(path)
	return err == nil
}
