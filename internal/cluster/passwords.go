package cluster

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rolecd/rolecd/internal/credentials"
	"github.com/rolecd/rolecd/planner/catalog"
	"github.com/rolecd/rolecd/planner/spec"
)

// PasswordCheck decides which existing declared roles need their password
// set anew (role name -> reason), from the live snapshot.
type PasswordCheck func(ctx context.Context, res spec.Resource, roles []spec.Role, snap *catalog.Snapshot) (map[string]string, error)

// Passwords checks live password verifiers against the stored passwords,
// recomputing each verifier from the stored plaintext with the verifier's
// own salt and iterations (never comparing verifier strings, which differ
// on every hash).
type Passwords struct {
	// Credentials returns a role's stored versions, newest first; none
	// (and no error) when it has none.
	Credentials func(ctx context.Context, role string) ([]credentials.Stored, error)
	// Keeper opens a stored password and checks it against a live verifier.
	Keeper *credentials.Keeper
	// Connect opens an admin connection to a database of res.
	Connect func(ctx context.Context, res spec.Resource, database string) (*pgx.Conn, error)
	// Now is the clock password_max_age is measured by; nil: time.Now.
	Now func() time.Time
}

// Check implements PasswordCheck. A role with password_max_age whose
// active stored password is older than that gets a new one (scheduled
// rotation, which needs no rights on pg_authid). Without superuser rights
// the verifiers cannot be read, so a password changed by hand is not
// seen (the plan says so).
func (p Passwords) Check(ctx context.Context, res spec.Resource, roles []spec.Role, snap *catalog.Snapshot) (map[string]string, error) {
	resets, err := p.maxAge(ctx, roles, snap)
	if err != nil || !superuser(snap) {
		return resets, err
	}
	drift, err := p.drift(ctx, res, roles, snap, resets)
	if err != nil {
		return nil, err
	}
	for name, reason := range drift {
		if resets == nil {
			resets = map[string]string{}
		}
		resets[name] = reason
	}
	return resets, nil
}

// superuser reports whether the admin of snap may read pg_authid.
func superuser(snap *catalog.Snapshot) bool {
	if snap.Admin.Name != "" {
		return snap.Admin.Superuser
	}
	return snap.Roles[snap.CurrentUser].Superuser
}

// maxAge returns the existing roles whose active stored password is
// older than their password_max_age, or that have none rolecd set.
func (p Passwords) maxAge(ctx context.Context, roles []spec.Role, snap *catalog.Snapshot) (map[string]string, error) {
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	var resets map[string]string
	reset := func(name, reason string) {
		if resets == nil {
			resets = map[string]string{}
		}
		resets[name] = reason
	}
	for _, r := range roles {
		if _, exists := snap.Roles[r.Name]; !exists || r.RotatePassword || r.PasswordMaxAge == 0 {
			continue
		}
		versions, err := p.Credentials(ctx, r.Name)
		if err != nil {
			return nil, fmt.Errorf("stored credentials of %s: %w", r.Name, err)
		}
		i := slices.IndexFunc(versions, func(c credentials.Stored) bool { return c.State == credentials.Active })
		if i < 0 {
			reset(r.Name, "password_max_age: no password set by rolecd")
			continue
		}
		if age := now().Sub(versions[i].CreatedAt); age > r.PasswordMaxAge {
			reset(r.Name, fmt.Sprintf("password_max_age %s: the password was set %s", spec.FormatPasswordMaxAge(r.PasswordMaxAge), versions[i].CreatedAt.UTC().Format(time.DateOnly)))
		}
	}
	return resets, nil
}

// drift compares the live verifiers of the roles not already reset with
// their stored passwords.
func (p Passwords) drift(ctx context.Context, res spec.Resource, roles []spec.Role, snap *catalog.Snapshot, already map[string]string) (map[string]string, error) {
	stored := map[string][]credentials.Stored{}
	var names []string
	for _, r := range roles {
		if _, exists := snap.Roles[r.Name]; !exists || r.RotatePassword || already[r.Name] != "" {
			continue
		}
		versions, err := p.Credentials(ctx, r.Name)
		if err != nil {
			return nil, fmt.Errorf("stored credentials of %s: %w", r.Name, err)
		}
		if len(versions) == 0 {
			continue // no password of ours to check (an adopted role keeps its own)
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
func (p Passwords) matchesStored(versions []credentials.Stored, verifier, role string) (bool, error) {
	for _, c := range versions {
		if c.State == credentials.Retired {
			continue
		}
		ok, err := p.Keeper.MatchesStored(role, c.Ciphertext, verifier)
		if err != nil || ok {
			return ok, err
		}
		if c.State == credentials.Active {
			return false, nil
		}
	}
	return false, nil
}
