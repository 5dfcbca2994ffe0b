package catalog

import (
	"context"
	_ "embed"
	"fmt"
)

//go:embed sql/password_verifiers.sql
var passwordVerifiersSQL string

// PasswordVerifiers returns the live password verifiers (SCRAM or md5) of
// roles, by name; a role without a password maps to "". It reads
// pg_authid, so it needs a superuser; it is not part of Inspect, and only
// runs when a caller has stored passwords to check.
func PasswordVerifiers(ctx context.Context, q Querier, roles []string) (map[string]string, error) {
	rows, err := q.Query(ctx, passwordVerifiersSQL, roles)
	if err != nil {
		return nil, fmt.Errorf("reading password verifiers: %w", err)
	}
	defer rows.Close()
	out := make(map[string]string, len(roles))
	for rows.Next() {
		var name, verifier string
		if err := rows.Scan(&name, &verifier); err != nil {
			return nil, fmt.Errorf("reading password verifiers: %w", err)
		}
		out[name] = verifier
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading password verifiers: %w", err)
	}
	return out, nil
}
