package liveplan

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/rolecd/rolecd/planner/catalog"
	"github.com/rolecd/rolecd/planner/spec"
	"github.com/rolecd/rolecd/store"
)

// PasswordCheck decides which existing declared roles need their password
// set anew (role name -> reason), from the live snapshot.
type PasswordCheck func(ctx context.Context, res spec.Resource, roles []spec.Role, snap *catalog.Snapshot) (map[string]string, error)

// Passwords checks live password verifiers against the stored passwords,
// recomputing each verifier from the stored plaintext with the verifier's
// own salt and iterations (never comparing verifier strings, which differ
// on every hash).
type Passwords struct {
	// Credentials returns a role's stored versions, newest first
	// (store.ErrNotFound when none).
	Credentials func(ctx context.Context, role string) ([]store.Credential, error)
	// Open decrypts a stored credential.
	Open func(ciphertext []byte, aad string) ([]byte, error)
	// Verify reports whether password matches a live verifier.
	Verify func(verifier, role, password string) (bool, error)
	// Connect opens an admin connection to a database of res.
	Connect func(ctx context.Context, res spec.Resource, database string) (*pgx.Conn, error)
}

// Check implements PasswordCheck. Without superuser rights the verifiers
// cannot be read and nothing is reset.
func (p Passwords) Check(ctx context.Context, res spec.Resource, roles []spec.Role, snap *catalog.Snapshot) (map[string]string, error) {
	if !snap.Roles[snap.CurrentUser].Superuser {
		return nil, nil
	}
	stored := map[string][]store.Credential{}
	var names []string
	for _, r := range roles {
		if _, exists := snap.Roles[r.Name]; !exists || r.RotatePassword {
			continue
		}
		versions, err := p.Credentials(ctx, r.Name)
		if errors.Is(err, store.ErrNotFound) || (err == nil && len(versions) == 0) {
			continue // no password of ours to check (an adopted role keeps its own)
		}
		if err != nil {
			return nil, fmt.Errorf("stored credentials of %s: %w", r.Name, err)
		}
		stored[r.Name] = versions
		names = append(names, r.Name)
	}
	if len(names) == 0 {
		return nil, nil
	}
	conn, err := p.Connect(ctx, res, res.Database)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	live, err := catalog.PasswordVerifiers(ctx, conn, names)
	if err != nil {
		return nil, err
	}
	resets := map[string]string{}
	for _, name := range names {
		verifier := live[name]
		if verifier == "" {
			resets[name] = "the role has no password"
			continue
		}
		ok, err := p.matchesStored(stored[name], verifier, name)
		if err != nil {
			return nil, fmt.Errorf("checking the password of %s: %w", name, err)
		}
		if !ok {
			resets[name] = "password changed outside rolecd"
		}
	}
	return resets, nil
}

// matchesStored: the live verifier matches the active version, or a newer
// pending one (an apply that set it but died before confirming).
func (p Passwords) matchesStored(versions []store.Credential, verifier, role string) (bool, error) {
	for _, c := range versions {
		if c.State == store.CredentialRetired {
			continue
		}
		pw, err := p.Open(c.Ciphertext, "role:"+role)
		if err != nil {
			return false, err
		}
		ok, err := p.Verify(verifier, role, string(pw))
		if err != nil || ok {
			return ok, err
		}
		if c.State == store.CredentialActive {
			return false, nil
		}
	}
	return false, nil
}
