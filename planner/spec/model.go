// Package spec owns the role-definition model of rolecd: the resources and
// roles declared in a repository's YAML and CSV files, their validation with
// file:line errors, and the deterministic role-name scheme. It does no I/O
// beyond reading the fs.FS it is given.
package spec

import (
	"fmt"
	"strings"
	"time"
)

// Type is the kind of a declared role.
type Type string

const (
	// Managed roles are fully owned by rolecd: login, password, and exactly
	// the declared CONNECT/USAGE/table privileges.
	Managed Type = "managed"
	// External roles are login roles whose access comes from membership in an
	// existing source role.
	External Type = "external"
)

// DefaultPrefix is the role-name prefix used when none is configured.
const DefaultPrefix = "rolecd"

// TablePrivileges returns the table privileges rolecd manages, in
// PostgreSQL's canonical order. MAINTAIN exists from PostgreSQL 17 on.
func TablePrivileges() []string {
	return []string{"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER", "MAINTAIN"}
}

// AllPrivileges is the privilege keyword that stands for every table
// privilege the server supports.
const AllPrivileges = "ALL"

// Pos is a position in a source file. Col is 0 when unknown (CSV).
type Pos struct {
	File string
	Line int
	Col  int
}

// String renders the position as file:line[:col].
func (p Pos) String() string {
	switch {
	case p.Line == 0:
		return p.File
	case p.Col == 0:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	default:
		return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
	}
}

// Admin tells how rolecd authenticates as a resource's administrator.
// Secrets never live in the repository: only where to find them.
type Admin struct {
	User         string
	PasswordEnv  string
	PasswordFile string
	// PasswordCommand names an operator-configured command
	// (rolecd.yaml credentials.commands) that prints the password, e.g. a
	// short-lived IAM token; the command line itself never comes from the
	// role files.
	PasswordCommand string
	// AllowCleartext is `allow_cleartext: true`: rolecd answers a server
	// that asks for the password in cleartext or as an MD5 response.
	// Off by default: such a server (or whoever sits on the path to it)
	// would learn the password or something that cracks offline.
	AllowCleartext bool
}

// Resource is one PostgreSQL cluster of the inventory.
type Resource struct {
	Name     string
	Host     string
	Port     int    // default 5432
	Database string // maintenance database, default "postgres"
	SSLMode  string // default "prefer"
	// SSLRootCert is the CA bundle (an absolute path) that verifies the
	// server with sslmode verify-ca or verify-full; "" is libpq's default.
	SSLRootCert string
	Admin       Admin
	// ObjectCreators are roles that create tables, sequences and functions
	// in scope schemas besides their owners: managed roles get default
	// privileges (ALTER DEFAULT PRIVILEGES FOR ROLE ...) on what they
	// create. Sorted, de-duplicated.
	ObjectCreators []string
	// DropReassignTo receives what a removed role owns (REASSIGN OWNED);
	// "" means the admin user.
	DropReassignTo string
	// KeepRemoved is `prune: false`: a rolecd role that is no longer
	// declared is kept, NOLOGIN, instead of dropped.
	KeepRemoved bool
	// AllowSourceRoles (allow_source_roles) are the dangerous source roles
	// external roles may be granted: predefined roles reaching the server's
	// host (DangerousPredefinedRoles) and roles that are, or lead by
	// membership to, SUPERUSER, REPLICATION or BYPASSRLS roles (checked
	// against the live catalog when planning). Sorted, de-duplicated.
	AllowSourceRoles []string
	// Complete is true when the resource was declared in the parsed files:
	// the tree then holds every role declared for it, and rolecd roles it
	// does not declare are planned for removal. A resource known only from
	// Options.Resources (plan -f, an ad-hoc role) is never complete, so
	// planning a few roles never removes the others.
	Complete bool
	Pos      Pos
}

// Scope is "db" (Schema empty: every user schema of db) or "db.schema".
type Scope struct {
	Database string
	Schema   string
}

// String renders the scope as written in role files.
func (s Scope) String() string {
	if s.Schema == "" {
		return s.Database
	}
	return s.Database + "." + s.Schema
}

// Role is one validated role declaration.
type Role struct {
	Resource string
	Type     Type
	Label    string
	// Name is the computed PostgreSQL role name (see RoleName).
	Name string
	// Scopes are sorted by String() and de-duplicated (managed only).
	Scopes []Scope
	// Privileges are upper-case, de-duplicated, in TablePrivileges() order;
	// exactly ["ALL"] when ALL was given (managed only).
	Privileges []string
	// SourceRole is the existing role an external role is granted.
	SourceRole     string
	RotatePassword bool
	// Functions is ["EXECUTE"] when the role gets EXECUTE on the functions
	// and procedures of its scopes (managed only), else nil.
	Functions []string
	// ConnectionLimit is the role's CONNECTION LIMIT; nil means -1 (none).
	ConnectionLimit *int
	// ValidUntil is when the role's password expires, as an RFC 3339 UTC
	// time with whole seconds ("2027-01-01T00:00:00Z"); "" means never.
	ValidUntil string
	// PasswordMaxAge is how old the password rolecd set may get before a
	// plan sets a new one (scheduled rotation); 0 means no limit.
	PasswordMaxAge time.Duration
	// Options are per-role settings (ALTER ROLE ... SET) from the
	// RoleOptions allow-list, by name; nil when none.
	Options map[string]string
	Pos     Pos
}

// ExecutePrivilege is the only function privilege.
const ExecutePrivilege = "EXECUTE"

// Limit returns the declared connection limit, -1 when none.
func (r Role) Limit() int {
	if r.ConnectionLimit == nil {
		return -1
	}
	return *r.ConnectionLimit
}

// LoginDatabase is the database a role's users connect to by default: the
// database of its first scope, else the resource's maintenance database.
func (r Role) LoginDatabase(res Resource) string {
	if len(r.Scopes) > 0 {
		return r.Scopes[0].Database
	}
	return res.Database
}

// Tree is the validated content of a role-files tree.
type Tree struct {
	Resources []Resource // sorted by Name
	Roles     []Role     // sorted by Resource, then Label
	// Failed are the Hoop batch items that name an unknown resource, in
	// file order, when parsed with Options.Batch: each fails on its own.
	Failed []ItemError
}

// ItemError is a Hoop batch item that fails on its own.
type ItemError struct {
	Resource string
	Label    string
	Pos      Pos
	Msg      string
}

func (e ItemError) Error() string { return e.Pos.String() + ": " + e.Msg }

// Resource returns the resource with the given name.
func (t *Tree) Resource(name string) (Resource, bool) {
	for _, r := range t.Resources {
		if r.Name == name {
			return r, true
		}
	}
	return Resource{}, false
}

// ResourcesByName returns the tree's resources keyed by name.
func (t *Tree) ResourcesByName() map[string]Resource {
	out := make(map[string]Resource, len(t.Resources))
	for _, r := range t.Resources {
		out[r.Name] = r
	}
	return out
}

// RolesFor returns the roles declared for one resource, in Label order.
func (t *Tree) RolesFor(resource string) []Role {
	var out []Role
	for _, r := range t.Roles {
		if r.Resource == resource {
			out = append(out, r)
		}
	}
	return out
}

// Error is one problem found in a role file.
type Error struct {
	Pos Pos
	Msg string
}

func (e Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// Errors is every problem found while loading; it is returned as one error.
type Errors []Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}
