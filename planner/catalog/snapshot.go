// Package catalog owns the Snapshot of one PostgreSQL cluster as rolecd sees
// it (roles, memberships, databases, schemas, aggregated ACLs of tables,
// sequences and routines, default privileges) and
// Inspect, which fills it from the live catalog with read-only queries kept
// in embedded .sql files.
package catalog

// Snapshot is the live state of one cluster, as far as rolecd's roles are
// concerned. It is a plain value: the planner reads it and does no I/O.
type Snapshot struct {
	// ServerVersionNum is server_version_num, e.g. 150018.
	ServerVersionNum int
	// ServerVersion is the human-readable server_version.
	ServerVersion string
	// CurrentUser is the role rolecd is connected as.
	CurrentUser string
	// Roles holds every role of the cluster by name.
	Roles map[string]Role
	// Databases holds every database, sorted by name.
	Databases []Database
	// Admin is what CurrentUser may do (see Admin).
	Admin Admin
}

// Role is one pg_roles row with its ownership comment and memberships.
type Role struct {
	Name        string
	Superuser   bool
	Inherit     bool
	CreateRole  bool
	CreateDB    bool
	Login       bool
	Replication bool
	BypassRLS   bool
	ConnLimit   int
	// Comment is shobj_description(oid, 'pg_authid'), "" when none.
	Comment string
	// ValidUntil is when the password expires, UTC, in whole seconds
	// ("2027-01-01T00:00:00Z"); "" when never (NULL or infinity).
	ValidUntil string
	// Settings are the role's own settings in every database (ALTER ROLE
	// ... SET, pg_roles.rolconfig), by name; nil when none.
	Settings map[string]string
	// MemberOf lists the roles this role is a direct member of, sorted by
	// Role then Grantor.
	MemberOf []Membership
}

// Membership is one pg_auth_members row seen from the member.
type Membership struct {
	Role    string // the granted role
	Grantor string
	Admin   bool
	// Inherit and Set are the PostgreSQL 16 membership options; before 16
	// they are reported as true.
	Inherit bool
	Set     bool
}

// Grant is one direct privilege from an ACL (aclexplode, with acldefault
// where the ACL is NULL). PUBLIC grants are not reported.
type Grant struct {
	Grantee   string
	Privilege string // e.g. CONNECT, TEMPORARY, CREATE, USAGE
	Grantable bool
}

// Database is one pg_database row. Schemas are filled only for databases
// that accept connections and are not templates (Inspected is then true).
type Database struct {
	Name       string
	Owner      string
	AllowConn  bool
	IsTemplate bool
	// ACL lists direct grants on the database to the roles of interest.
	ACL []Grant
	// DefaultGrants are the database-wide default privileges (ALTER
	// DEFAULT PRIVILEGES without IN SCHEMA) to the roles of interest,
	// sorted; filled when Inspected.
	DefaultGrants []DefaultGrant
	Inspected     bool
	// Schemas are the user schemas (not pg_catalog, information_schema,
	// pg_toast, pg_temp_*), sorted by name.
	Schemas []Schema
}

// Schema is one user schema with its ACL, object counts and aggregated
// object grants.
type Schema struct {
	Name  string
	Owner string
	// ACL lists direct grants on the schema to the roles of interest.
	ACL []Grant
	// Tables counts table-like relations: tables, partitioned tables,
	// views, materialized views and foreign tables.
	Tables int
	// Sequences counts sequences (serial and identity ones included).
	Sequences int
	// Routines counts functions, procedures and aggregates.
	Routines int
	// Creators are the owners of the schema's relations and routines,
	// sorted: the roles that create objects there.
	Creators []string
	// TableGrants, SequenceGrants and RoutineGrants aggregate the direct
	// grants on those objects to the roles of interest: one entry per
	// (grantee, privilege), sorted.
	TableGrants    []ObjectGrant
	SequenceGrants []ObjectGrant
	RoutineGrants  []ObjectGrant
	// DefaultGrants are the schema's default privileges (ALTER DEFAULT
	// PRIVILEGES ... IN SCHEMA) to the roles of interest, sorted.
	DefaultGrants []DefaultGrant
}

// ObjectGrant says on how many of a schema's objects of one kind a grantee
// directly holds a privilege, and on how many of those WITH GRANT OPTION.
type ObjectGrant struct {
	Grantee   string
	Privilege string // SELECT, INSERT, ..., MAINTAIN; USAGE; EXECUTE
	Objects   int
	Grantable int
}

// DefaultGrant is one privilege that objects Creator creates will grant
// to Grantee (pg_default_acl).
type DefaultGrant struct {
	Creator string
	// Objects is the object kind as ALTER DEFAULT PRIVILEGES names it:
	// TABLES, SEQUENCES, FUNCTIONS, TYPES, SCHEMAS or LARGE OBJECTS.
	Objects   string
	Grantee   string
	Privilege string
	Grantable bool
}

// Database returns the database with the given name.
func (s *Snapshot) Database(name string) (*Database, bool) {
	for i := range s.Databases {
		if s.Databases[i].Name == name {
			return &s.Databases[i], true
		}
	}
	return nil, false
}

// Schema returns the schema with the given name.
func (d *Database) Schema(name string) (*Schema, bool) {
	for i := range d.Schemas {
		if d.Schemas[i].Name == name {
			return &d.Schemas[i], true
		}
	}
	return nil, false
}

// MarkerPrefix starts the COMMENT ON ROLE that marks a role as rolecd's own:
// rolecd: {"resource":..,"label":..,"type":..}
const MarkerPrefix = "rolecd: "

// Options narrows what Inspect collects.
type Options struct {
	// Roles are the role names whose grants are collected, in addition to
	// every role whose comment starts with MarkerPrefix. Grants to other
	// roles are never shipped to rolecd.
	Roles []string
}
