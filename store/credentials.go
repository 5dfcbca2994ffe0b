package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
)

// PutPendingCredential stores c as a new pending version of its role and
// returns the version number: 1 for a role's first, then one more than
// the newest. A zero CreatedAt is now; c.State and c.Version are ignored.
func (s *sqlStore) PutPendingCredential(ctx context.Context, c Credential) (int, error) {
	versions, err := s.PutPendingCredentials(ctx, []Credential{c})
	if err != nil {
		return 0, err
	}
	return versions[0], nil
}

// PutPendingCredentials stores several pending credentials in one
// transaction (all or none) and returns their versions, in order.
func (s *sqlStore) PutPendingCredentials(ctx context.Context, cs []Credential) ([]int, error) {
	for _, c := range cs {
		if c.RoleName == "" || c.Resource == "" {
			return nil, errors.New("storing credential: role name and resource are required")
		}
		if len(c.Ciphertext) == 0 {
			return nil, fmt.Errorf("storing credential of %q: empty ciphertext", c.RoleName)
		}
	}
	versions := make([]int, len(cs))
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for i, c := range cs {
			v, err := s.putPending(ctx, tx, c)
			if err != nil {
				return fmt.Errorf("storing credential of %q: %w", c.RoleName, err)
			}
			versions[i] = v
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return versions, nil
}

// putPending inserts c as its role's next version, pending, inside tx.
func (s *sqlStore) putPending(ctx context.Context, tx *sql.Tx, c Credential) (int, error) {
	if s.d.lockRole != nil {
		if err := s.d.lockRole(ctx, tx, c.RoleName); err != nil {
			return 0, fmt.Errorf("locking role: %w", err)
		}
	}
	var version int
	if err := tx.QueryRowContext(ctx,
		`SELECT COALESCE(MAX(version), 0) + 1 FROM credentials WHERE role_name = $1`, c.RoleName).Scan(&version); err != nil {
		return 0, fmt.Errorf("numbering version: %w", err)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO credentials
		(role_name, version, resource, state, ciphertext, created_at, host, port, database_name, sslmode)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		c.RoleName, version, c.Resource, string(CredentialPending), c.Ciphertext, s.d.timeArg(nowIfZero(c.CreatedAt)),
		c.Host, c.Port, c.Database, c.SSLMode)
	return version, err
}

// ActivateCredential makes version the active one of roleName and retires
// every other version; ErrNotFound when there is no such version.
func (s *sqlStore) ActivateCredential(ctx context.Context, roleName string, version int) error {
	return s.ActivateCredentials(ctx, map[string]int{roleName: version})
}

// ActivateCredentials activates, in one transaction, the given version of
// each role (see ActivateCredential); ErrNotFound, and nothing changed,
// when one is missing.
func (s *sqlStore) ActivateCredentials(ctx context.Context, versions map[string]int) error {
	roles := slices.Sorted(maps.Keys(versions)) // one lock order for every caller
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, roleName := range roles {
			if err := s.activate(ctx, tx, roleName, versions[roleName]); err != nil {
				return fmt.Errorf("activating version %d of credential %q: %w", versions[roleName], roleName, err)
			}
		}
		return nil
	})
	return err
}

func (s *sqlStore) activate(ctx context.Context, tx *sql.Tx, roleName string, version int) error {
	if s.d.lockRole != nil {
		if err := s.d.lockRole(ctx, tx, roleName); err != nil {
			return fmt.Errorf("locking role: %w", err)
		}
	}
	var one int
	err := tx.QueryRowContext(ctx,
		`SELECT 1 FROM credentials WHERE role_name = $1 AND version = $2`, roleName, version).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	} else if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `UPDATE credentials
		SET state = CASE WHEN version = $2 THEN $3 ELSE $4 END
		WHERE role_name = $1`,
		roleName, version, string(CredentialActive), string(CredentialRetired))
	return err
}

// Credentials returns every version of roleName's password, newest first,
// or ErrNotFound.
func (s *sqlStore) Credentials(ctx context.Context, roleName string) ([]Credential, error) {
	out, err := queryAll(ctx, s.read, fmt.Sprintf("reading credentials of %q", roleName), func(row rowScanner) (Credential, error) {
		var c Credential
		err := row.Scan(&c.RoleName, &c.Resource, &c.Version, &c.State, &c.Ciphertext, timeScanner{&c.CreatedAt},
			&c.Host, &c.Port, &c.Database, &c.SSLMode)
		return c, err
	}, `SELECT role_name, resource, version, state, ciphertext, created_at, host, port, database_name, sslmode
		FROM credentials WHERE role_name = $1 ORDER BY version DESC`, roleName)
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("credentials of %q: %w", roleName, ErrNotFound)
	}
	return out, nil
}

// DeleteCredentials removes every version of roleName's password. Deleting
// a role without credentials is not an error.
func (s *sqlStore) DeleteCredentials(ctx context.Context, roleName string) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM credentials WHERE role_name = $1`, roleName)
		return err
	})
	if err != nil {
		return fmt.Errorf("deleting credentials of %q: %w", roleName, err)
	}
	return nil
}

// PutAdmin stores c, replacing the resource's previous admin credential. A
// zero UpdatedAt is now.
func (s *sqlStore) PutAdmin(ctx context.Context, c AdminCredential) error {
	if c.Resource == "" || c.User == "" {
		return errors.New("storing admin credential: resource and user are required")
	}
	if len(c.Ciphertext) == 0 {
		return fmt.Errorf("storing admin credential of %q: empty ciphertext", c.Resource)
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO admin_credentials (resource, user_name, ciphertext, updated_at)
			VALUES ($1, $2, $3, $4)
			ON CONFLICT (resource) DO UPDATE
			SET user_name = excluded.user_name, ciphertext = excluded.ciphertext, updated_at = excluded.updated_at`,
			c.Resource, c.User, c.Ciphertext, s.d.timeArg(nowIfZero(c.UpdatedAt)))
		return err
	})
	if err != nil {
		return fmt.Errorf("storing admin credential of %q: %w", c.Resource, err)
	}
	return nil
}

// GetAdmin returns resource's admin credential, or ErrNotFound.
func (s *sqlStore) GetAdmin(ctx context.Context, resource string) (AdminCredential, error) {
	var c AdminCredential
	err := s.read.QueryRowContext(ctx, `SELECT resource, user_name, ciphertext, updated_at
		FROM admin_credentials WHERE resource = $1`, resource).
		Scan(&c.Resource, &c.User, &c.Ciphertext, timeScanner{&c.UpdatedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return AdminCredential{}, fmt.Errorf("admin credential of %q: %w", resource, ErrNotFound)
	} else if err != nil {
		return AdminCredential{}, fmt.Errorf("reading admin credential of %q: %w", resource, err)
	}
	return c, nil
}
