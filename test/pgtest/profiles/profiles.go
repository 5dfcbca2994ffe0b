// Package profiles builds, on a throwaway pgtest cluster, the admin role
// each kind of PostgreSQL service gives its users, so that rolecd's tests
// run against the rights a real RDS, Cloud SQL or Azure admin has, on
// every PostgreSQL version of the matrix.
//
// A managed service keeps SUPERUSER for itself (rdsadmin, cloudsqladmin,
// azuresu); here the cluster's bootstrap superuser plays that part and
// builds the rest:
//
//   - superuser: the bootstrap superuser itself (a self-hosted cluster).
//   - createrole: a plain LOGIN CREATEROLE CREATEDB role, nothing else.
//   - rds (RDS and Aurora): the master user, LOGIN NOSUPERUSER INHERIT
//     CREATEDB CREATEROLE NOREPLICATION VALID UNTIL 'infinity', a member of
//     the NOLOGIN group rds_superuser, which holds pg_monitor,
//     pg_signal_backend, rds_replication and rds_password, plus
//     pg_checkpoint from PostgreSQL 15 and pg_read_all_data,
//     pg_write_all_data, pg_create_subscription and
//     pg_use_reserved_connections from 16, each WITH ADMIN OPTION so that
//     the master can grant them (the two data roles only to grant: INHERIT
//     FALSE, SET FALSE, else they would read pg_authid; see GrantOnly).
//   - cloudsql: the built-in user, LOGIN CREATEROLE CREATEDB, a member of
//     cloudsqlsuperuser (NOLOGIN CREATEROLE CREATEDB), which holds
//     pg_monitor and pg_signal_backend, plus pg_read_all_data and
//     pg_write_all_data from 16, WITH ADMIN OPTION.
//   - azure (Flexible Server): the server admin, LOGIN NOSUPERUSER INHERIT
//     CREATEDB CREATEROLE REPLICATION, a member of azure_pg_admin, which
//     holds pg_monitor and pg_signal_backend, plus pg_read_all_data and
//     pg_write_all_data from 16, WITH ADMIN OPTION.
//
// None of these admins can read pg_authid (PostgreSQL's default for a
// role that is not a superuser) or set superuser-only settings such as
// log_statement. The admin's password is the cluster's, so the tests'
// usual password source serves it too.
package profiles

import (
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/rolecd/rolecd/test/pgtest"
)

// Profile is one kind of admin.
type Profile struct {
	// Name is the profile's name in test names: superuser, createrole,
	// rds, cloudsql, azure.
	Name string
	// Service is the human name, for the README's table.
	Service string
	// User is the admin's role name; "" for the bootstrap superuser.
	User string
	// Group is the service's administrative group role, "" when none.
	Group string
	// attributes of the admin role, after LOGIN NOSUPERUSER.
	attributes string
	// groupAttributes of the group role, after NOLOGIN.
	groupAttributes string
	// predefined roles the group holds WITH ADMIN OPTION, by the first
	// major version that has them.
	predefined map[int][]string
	// serviceRoles are NOLOGIN roles the service creates and grants the
	// group WITH ADMIN OPTION.
	serviceRoles []string
}

// All lists every profile, the self-hosted ones first.
func All() []Profile {
	return []Profile{
		{Name: "superuser", Service: "self-hosted, superuser admin"},
		{Name: "createrole", Service: "self-hosted, CREATEROLE admin", User: "rolecd_admin", attributes: "INHERIT CREATEROLE CREATEDB"},
		{Name: "rds", Service: "Amazon RDS / Aurora", User: "rds_master", Group: "rds_superuser",
			attributes: "INHERIT CREATEDB CREATEROLE NOREPLICATION VALID UNTIL 'infinity'",
			predefined: map[int][]string{
				14: {"pg_monitor", "pg_signal_backend"},
				15: {"pg_checkpoint"},
				16: {"pg_read_all_data", "pg_write_all_data", "pg_create_subscription", "pg_use_reserved_connections"},
			},
			serviceRoles: []string{"rds_password", "rds_replication"}},
		{Name: "cloudsql", Service: "Google Cloud SQL", User: "cloudsql_admin", Group: "cloudsqlsuperuser",
			attributes: "INHERIT CREATEROLE CREATEDB", groupAttributes: "CREATEROLE CREATEDB",
			predefined: map[int][]string{14: {"pg_monitor", "pg_signal_backend"}, 16: {"pg_read_all_data", "pg_write_all_data"}}},
		{Name: "azure", Service: "Azure Database for PostgreSQL flexible server", User: "azure_admin", Group: "azure_pg_admin",
			attributes: "INHERIT CREATEDB CREATEROLE REPLICATION",
			predefined: map[int][]string{14: {"pg_monitor", "pg_signal_backend"}, 16: {"pg_read_all_data", "pg_write_all_data"}}},
	}
}

// Superuser reports whether the admin is the bootstrap superuser.
func (p Profile) Superuser() bool { return p.User == "" }

// Admin is the role rolecd connects as on a cluster built for a profile.
type Admin struct {
	User     string
	Password string
}

// Setup builds the profile's admin on c, as the bootstrap superuser, and
// returns it.
func (p Profile) Setup(t testing.TB, c *pgtest.Cluster) Admin {
	t.Helper()
	if p.Superuser() {
		return Admin{User: c.User, Password: c.Password}
	}
	var stmts []string
	if p.Group != "" {
		stmts = append(stmts, "CREATE ROLE "+ident(p.Group)+" NOLOGIN "+p.groupAttributes)
		for _, r := range p.serviceRoles {
			stmts = append(stmts, "CREATE ROLE "+ident(r)+" NOLOGIN", fmt.Sprintf("GRANT %s TO %s WITH ADMIN OPTION", ident(r), ident(p.Group)))
		}
		for _, r := range p.Predefined(c.VersionNum) {
			opts := "ADMIN OPTION"
			if GrantOnly(r) {
				opts = "ADMIN TRUE, INHERIT FALSE, SET FALSE"
			}
			stmts = append(stmts, fmt.Sprintf("GRANT %s TO %s WITH %s", ident(r), ident(p.Group), opts))
		}
	}
	stmts = append(stmts, fmt.Sprintf("CREATE ROLE %s LOGIN NOSUPERUSER %s PASSWORD %s", ident(p.User), p.attributes, literal(c.Password)))
	if p.Group != "" {
		stmts = append(stmts, fmt.Sprintf("GRANT %s TO %s", ident(p.Group), ident(p.User)))
	}
	c.Exec(t, "postgres", strings.Join(stmts, ";\n"))
	return Admin{User: p.User, Password: c.Password}
}

// GrantOnly reports whether the profiles' groups hold a predefined role
// only to grant it (PostgreSQL 16: WITH ADMIN TRUE, INHERIT FALSE, SET
// FALSE), not to use it: pg_read_all_data and pg_write_all_data, whose
// privileges would include reading (and writing) pg_authid.
func GrantOnly(role string) bool { return role == "pg_read_all_data" || role == "pg_write_all_data" }

// Predefined lists the predefined roles the profile's group holds on a
// server of that server_version_num.
func (p Profile) Predefined(versionNum int) []string {
	var out []string
	for major := 14; major <= versionNum/10000; major++ {
		out = append(out, p.predefined[major]...)
	}
	return out
}

// CreateDatabase creates database name owned by the admin, as on a
// managed service, where the admin creates the application's databases.
// On PostgreSQL 14, where the public schema belongs to the bootstrap
// superuser rather than to pg_database_owner, it is given to the
// database's owner, as 15 does and as an operator of a 14 cluster does
// once (otherwise rolecd's plan says that schema is out of the admin's
// reach).
func (p Profile) CreateDatabase(t testing.TB, c *pgtest.Cluster, a Admin, name string) {
	t.Helper()
	c.Exec(t, "postgres", fmt.Sprintf("CREATE DATABASE %s OWNER %s", ident(name), ident(a.User)))
	if c.VersionNum < 150000 {
		c.Exec(t, name, "ALTER SCHEMA public OWNER TO "+ident(a.User))
	}
}

// CreateOwner creates owner, a NOLOGIN role that owns application
// tables, as the service's superuser would (so the admin holds no
// membership or ADMIN OPTION in it unless member is set, which grants it
// to the admin).
func CreateOwner(t testing.TB, c *pgtest.Cluster, a Admin, owner string, member bool) {
	t.Helper()
	c.Exec(t, "postgres", "CREATE ROLE "+ident(owner)+" NOLOGIN")
	if member && a.User != c.User {
		c.Exec(t, "postgres", fmt.Sprintf("GRANT %s TO %s", ident(owner), ident(a.User)))
	}
}

func ident(s string) string   { return pgx.Identifier{s}.Sanitize() }
func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
