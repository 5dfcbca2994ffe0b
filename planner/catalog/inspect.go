package catalog

import (
	"cmp"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"golang.org/x/sync/errgroup"
)

// QueriesPerCluster is the fixed number of queries InspectCluster runs.
const QueriesPerCluster = 5

// QueriesPerDatabase is the fixed number of queries InspectDatabase runs,
// whatever the number of schemas, objects and roles: schemas, object
// grants, default privileges.
const QueriesPerDatabase = 3

// maxDatabaseConns bounds the connections Inspect holds at once.
const maxDatabaseConns = 3

// pg16 is the first server_version_num with membership INHERIT/SET options.
const pg16 = 160000

var (
	//go:embed sql/version.sql
	versionSQL string
	//go:embed sql/roles.sql
	rolesSQL string
	//go:embed sql/memberships.sql
	membershipsSQL string
	//go:embed sql/memberships_pre16.sql
	membershipsPre16SQL string
	//go:embed sql/databases.sql
	databasesSQL string
	//go:embed sql/schemas.sql
	schemasSQL string
	//go:embed sql/object_grants.sql
	objectGrantsSQL string
	//go:embed sql/default_grants.sql
	defaultGrantsSQL string
)

// Querier runs read-only queries; *pgx.Conn and pgx.Tx satisfy it, so an
// apply can re-inspect inside its own transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Connector opens a connection to a database of the inspected cluster.
type Connector func(ctx context.Context, database string) (*pgx.Conn, error)

// Inspect builds the Snapshot of a cluster: the cluster-wide catalog from
// maintenanceDB, then the schemas of every database that accepts
// connections and is not a template, over at most three connections at a
// time. Every connection it opens is closed before it returns. A database
// dropped while Inspect runs is left out of the Snapshot.
func Inspect(ctx context.Context, connect Connector, maintenanceDB string, opts Options) (*Snapshot, error) {
	conn, err := connect(ctx, maintenanceDB)
	if err != nil {
		return nil, fmt.Errorf("connecting to maintenance database %q: %w", maintenanceDB, err)
	}
	snap, err := inspectMaintenance(ctx, conn, maintenanceDB, opts)
	if closeErr := conn.Close(ctx); closeErr != nil && err == nil {
		err = fmt.Errorf("closing connection to %q: %w", maintenanceDB, closeErr)
	}
	if err != nil {
		return nil, err
	}

	gone := make([]bool, len(snap.Databases))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(maxDatabaseConns)
	for i := range snap.Databases {
		db := &snap.Databases[i]
		if !inspectable(db) || db.Inspected {
			continue
		}
		g.Go(func() error {
			schemas, global, err := connectAndInspect(gctx, connect, db.Name, opts)
			if isInvalidCatalogName(err) {
				gone[i] = true
				return nil
			}
			if err != nil {
				return fmt.Errorf("inspecting database %q: %w", db.Name, err)
			}
			db.Schemas, db.DefaultGrants, db.Inspected = schemas, global, true
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	kept := snap.Databases[:0]
	for i, db := range snap.Databases {
		if !gone[i] {
			kept = append(kept, db)
		}
	}
	snap.Databases = kept
	return snap, nil
}

// inspectMaintenance runs the cluster queries and, when the maintenance
// database is itself inspectable, its schema queries on the same connection.
func inspectMaintenance(ctx context.Context, conn *pgx.Conn, maintenanceDB string, opts Options) (*Snapshot, error) {
	snap, err := InspectCluster(ctx, conn, opts)
	if err != nil {
		return nil, err
	}
	if db, ok := snap.Database(maintenanceDB); ok && inspectable(db) {
		schemas, global, err := InspectDatabase(ctx, conn, opts)
		if err != nil {
			return nil, fmt.Errorf("inspecting database %q: %w", maintenanceDB, err)
		}
		db.Schemas, db.DefaultGrants, db.Inspected = schemas, global, true
	}
	return snap, nil
}

func inspectable(db *Database) bool { return db.AllowConn && !db.IsTemplate }

func connectAndInspect(ctx context.Context, connect Connector, database string, opts Options) (schemas []Schema, global []DefaultGrant, err error) {
	conn, err := connect(ctx, database)
	if err != nil {
		return nil, nil, fmt.Errorf("connecting: %w", err)
	}
	defer func() {
		if closeErr := conn.Close(context.WithoutCancel(ctx)); closeErr != nil && err == nil {
			err = fmt.Errorf("closing connection: %w", closeErr)
		}
	}()
	return InspectDatabase(ctx, conn, opts)
}

// isInvalidCatalogName reports a "database does not exist" error.
func isInvalidCatalogName(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "3D000"
}

// InspectCluster reads the cluster-wide part of the Snapshot: version,
// current user, roles with comments and memberships, and databases with
// their ACL (Schemas not filled). It runs QueriesPerCluster queries.
func InspectCluster(ctx context.Context, q Querier, opts Options) (*Snapshot, error) {
	snap := &Snapshot{Roles: map[string]Role{}}
	if err := q.QueryRow(ctx, versionSQL).Scan(&snap.ServerVersionNum, &snap.ServerVersion, &snap.CurrentUser); err != nil {
		return nil, fmt.Errorf("inspecting server version: %w", err)
	}
	if err := inspectRoles(ctx, q, snap); err != nil {
		return nil, fmt.Errorf("inspecting roles: %w", err)
	}
	if err := inspectMemberships(ctx, q, snap); err != nil {
		return nil, fmt.Errorf("inspecting role memberships: %w", err)
	}
	if err := inspectDatabases(ctx, q, snap, opts); err != nil {
		return nil, fmt.Errorf("inspecting databases: %w", err)
	}
	if err := inspectAdmin(ctx, q, snap); err != nil {
		return nil, fmt.Errorf("inspecting the admin's rights: %w", err)
	}
	return snap, nil
}

func inspectRoles(ctx context.Context, q Querier, snap *Snapshot) error {
	rows, err := q.Query(ctx, rolesSQL)
	if err != nil {
		return err
	}
	var (
		r        Role
		settings []string
	)
	_, err = pgx.ForEachRow(rows, []any{&r.Name, &r.Superuser, &r.Inherit, &r.CreateRole, &r.CreateDB,
		&r.Login, &r.Replication, &r.BypassRLS, &r.ConnLimit, &r.Comment, &r.ValidUntil, &settings}, func() error {
		r.Settings = nil
		for _, kv := range settings {
			name, val, _ := strings.Cut(kv, "=")
			if r.Settings == nil {
				r.Settings = map[string]string{}
			}
			r.Settings[name] = val
		}
		snap.Roles[r.Name] = r
		return nil
	})
	return err
}

func inspectMemberships(ctx context.Context, q Querier, snap *Snapshot) error {
	sql := membershipsSQL
	if snap.ServerVersionNum < pg16 {
		sql = membershipsPre16SQL
	}
	rows, err := q.Query(ctx, sql)
	if err != nil {
		return err
	}
	var member string
	var m Membership
	_, err = pgx.ForEachRow(rows, []any{&member, &m.Role, &m.Grantor, &m.Admin, &m.Inherit, &m.Set}, func() error {
		r, ok := snap.Roles[member]
		if !ok {
			// Created after the roles query; it will be seen next time.
			return nil
		}
		r.MemberOf = append(r.MemberOf, m)
		snap.Roles[member] = r
		return nil
	})
	if err != nil {
		return err
	}
	for name, r := range snap.Roles {
		slices.SortFunc(r.MemberOf, func(a, b Membership) int {
			return cmp.Or(strings.Compare(a.Role, b.Role), strings.Compare(a.Grantor, b.Grantor))
		})
		snap.Roles[name] = r
	}
	return nil
}

// interestArg is the $1 of the ACL queries: never NULL.
func interestArg(opts Options) []string {
	if opts.Roles == nil {
		return []string{}
	}
	return opts.Roles
}

func inspectDatabases(ctx context.Context, q Querier, snap *Snapshot, opts Options) error {
	rows, err := q.Query(ctx, databasesSQL, interestArg(opts))
	if err != nil {
		return err
	}
	var (
		d         Database
		grantee   *string
		privilege *string
		grantable *bool
	)
	_, err = pgx.ForEachRow(rows, []any{&d.Name, &d.Owner, &d.AllowConn, &d.IsTemplate, &grantee, &privilege, &grantable}, func() error {
		if n := len(snap.Databases); n == 0 || snap.Databases[n-1].Name != d.Name {
			snap.Databases = append(snap.Databases, Database{Name: d.Name, Owner: d.Owner, AllowConn: d.AllowConn, IsTemplate: d.IsTemplate})
		}
		if grantee != nil {
			last := &snap.Databases[len(snap.Databases)-1]
			last.ACL = append(last.ACL, Grant{Grantee: *grantee, Privilege: *privilege, Grantable: *grantable})
		}
		return nil
	})
	if err != nil {
		return err
	}
	slices.SortFunc(snap.Databases, func(a, b Database) int { return strings.Compare(a.Name, b.Name) })
	for i := range snap.Databases {
		sortGrants(snap.Databases[i].ACL)
	}
	return nil
}

// InspectDatabase reads the user schemas of the database q is connected
// to, with their ACLs, object counts, aggregated object grants and default
// privileges, sorted, and the database-wide default privileges. It runs
// QueriesPerDatabase queries.
func InspectDatabase(ctx context.Context, q Querier, opts Options) ([]Schema, []DefaultGrant, error) {
	schemas, err := inspectSchemas(ctx, q, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("inspecting schemas: %w", err)
	}
	if err := inspectObjectGrants(ctx, q, opts, schemas); err != nil {
		return nil, nil, fmt.Errorf("inspecting object grants: %w", err)
	}
	global, err := inspectDefaultGrants(ctx, q, opts, schemas)
	if err != nil {
		return nil, nil, fmt.Errorf("inspecting default privileges: %w", err)
	}
	return schemas, global, nil
}

func inspectSchemas(ctx context.Context, q Querier, opts Options) ([]Schema, error) {
	rows, err := q.Query(ctx, schemasSQL, interestArg(opts))
	if err != nil {
		return nil, err
	}
	var (
		schemas   []Schema
		s         Schema
		grantee   *string
		privilege *string
		grantable *bool
	)
	_, err = pgx.ForEachRow(rows, []any{&s.Name, &s.Owner, &s.Tables, &s.Sequences, &s.Routines, &s.Creators,
		&grantee, &privilege, &grantable}, func() error {
		if n := len(schemas); n == 0 || schemas[n-1].Name != s.Name {
			creators := s.Creators
			if len(creators) == 0 {
				creators = nil
			}
			schemas = append(schemas, Schema{Name: s.Name, Owner: s.Owner, Tables: s.Tables,
				Sequences: s.Sequences, Routines: s.Routines, Creators: creators})
		}
		if grantee != nil {
			last := &schemas[len(schemas)-1]
			last.ACL = append(last.ACL, Grant{Grantee: *grantee, Privilege: *privilege, Grantable: *grantable})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(schemas, func(a, b Schema) int { return strings.Compare(a.Name, b.Name) })
	for i := range schemas {
		sortGrants(schemas[i].ACL)
	}
	return schemas, nil
}

// findSchema returns the schema named name in schemas (sorted by name),
// or nil when it was created after the schemas query.
func findSchema(schemas []Schema, name string) *Schema {
	i, ok := slices.BinarySearchFunc(schemas, name, func(s Schema, name string) int { return strings.Compare(s.Name, name) })
	if !ok {
		return nil
	}
	return &schemas[i]
}

func inspectObjectGrants(ctx context.Context, q Querier, opts Options, schemas []Schema) error {
	rows, err := q.Query(ctx, objectGrantsSQL, interestArg(opts))
	if err != nil {
		return err
	}
	var (
		schema, kind string
		g            ObjectGrant
	)
	_, err = pgx.ForEachRow(rows, []any{&schema, &kind, &g.Grantee, &g.Privilege, &g.Objects, &g.Grantable}, func() error {
		s := findSchema(schemas, schema)
		if s == nil {
			return nil // created after the schemas query; seen next time
		}
		switch kind {
		case "table":
			s.TableGrants = append(s.TableGrants, g)
		case "sequence":
			s.SequenceGrants = append(s.SequenceGrants, g)
		case "routine":
			s.RoutineGrants = append(s.RoutineGrants, g)
		default:
			return fmt.Errorf("unknown object kind %q", kind)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i := range schemas {
		for _, l := range [][]ObjectGrant{schemas[i].TableGrants, schemas[i].SequenceGrants, schemas[i].RoutineGrants} {
			slices.SortFunc(l, func(a, b ObjectGrant) int {
				return cmp.Or(strings.Compare(a.Grantee, b.Grantee), strings.Compare(a.Privilege, b.Privilege))
			})
		}
	}
	return nil
}

// inspectDefaultGrants files the per-schema default privileges under their
// schema and returns the database-wide ones.
func inspectDefaultGrants(ctx context.Context, q Querier, opts Options, schemas []Schema) ([]DefaultGrant, error) {
	rows, err := q.Query(ctx, defaultGrantsSQL, interestArg(opts))
	if err != nil {
		return nil, err
	}
	var (
		global []DefaultGrant
		schema string
		g      DefaultGrant
	)
	_, err = pgx.ForEachRow(rows, []any{&schema, &g.Creator, &g.Objects, &g.Grantee, &g.Privilege, &g.Grantable}, func() error {
		if schema == "" {
			global = append(global, g)
			return nil
		}
		if s := findSchema(schemas, schema); s != nil {
			s.DefaultGrants = append(s.DefaultGrants, g)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sortDefaultGrants(global)
	for i := range schemas {
		sortDefaultGrants(schemas[i].DefaultGrants)
	}
	return global, nil
}

func sortDefaultGrants(l []DefaultGrant) {
	slices.SortFunc(l, func(a, b DefaultGrant) int {
		return cmp.Or(strings.Compare(a.Creator, b.Creator), strings.Compare(a.Objects, b.Objects),
			strings.Compare(a.Grantee, b.Grantee), strings.Compare(a.Privilege, b.Privilege))
	})
}

func sortGrants(grants []Grant) {
	slices.SortFunc(grants, func(a, b Grant) int {
		return cmp.Or(strings.Compare(a.Grantee, b.Grantee), strings.Compare(a.Privilege, b.Privilege))
	})
}
