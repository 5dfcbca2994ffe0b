package catalog

import (
	"context"
	_ "embed"

	"github.com/jackc/pgx/v5"
)

//go:embed sql/admin.sql
var adminSQL string

// Admin is what the role rolecd connects as may do, read without
// pg_authid: its attributes and, for a role that is not a superuser, the
// roles it holds rights on through membership.
type Admin struct {
	// Name is current_user; "" when the snapshot was not inspected (a
	// Snapshot built by hand).
	Name        string
	Superuser   bool
	CreateRole  bool
	CreateDB    bool
	Replication bool
	BypassRLS   bool
	// Rights holds, for a non-superuser, every role it is a member of,
	// directly or through other roles, itself included; nil for a
	// superuser, who holds every right.
	Rights map[string]RoleRights
}

// RoleRights is what membership in one role gives the admin.
type RoleRights struct {
	// Usage: the admin has the role's privileges (an inheriting chain):
	// it may grant on the role's objects, REASSIGN and DROP OWNED BY it.
	Usage bool
	// Set: the admin may SET ROLE to it (PostgreSQL 16: a chain of SET
	// options; before, any membership): ALTER DEFAULT PRIVILEGES FOR ROLE.
	Set bool
	// Admin: ADMIN OPTION on it, which PostgreSQL 16 requires of a
	// CREATEROLE role to alter, comment on, grant or drop the role.
	Admin bool
}

// inspectAdmin fills snap.Admin; snap.ServerVersionNum must be set.
func inspectAdmin(ctx context.Context, q Querier, snap *Snapshot) error {
	setPriv := "MEMBER"
	if snap.ServerVersionNum >= pg16 {
		setPriv = "SET"
	}
	rows, err := q.Query(ctx, adminSQL, setPriv)
	if err != nil {
		return err
	}
	var (
		name                                      string
		super, createRole, createDB, repl, bypass bool
		rights                                    RoleRights
	)
	a := Admin{}
	_, err = pgx.ForEachRow(rows, []any{&name, &super, &createRole, &createDB, &repl, &bypass,
		&rights.Usage, &rights.Set, &rights.Admin}, func() error {
		if name == snap.CurrentUser {
			a.Name, a.Superuser, a.CreateRole, a.CreateDB, a.Replication, a.BypassRLS = name, super, createRole, createDB, repl, bypass
		}
		if !super || name != snap.CurrentUser {
			if a.Rights == nil {
				a.Rights = map[string]RoleRights{}
			}
			a.Rights[name] = rights
		}
		return nil
	})
	if a.Superuser {
		a.Rights = nil
	}
	snap.Admin = a
	return err
}
