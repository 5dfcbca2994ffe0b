package catalog_test

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rolecd/rolecd/planner/catalog"
	"github.com/rolecd/rolecd/test/pgtest"
)

var (
	_ catalog.Querier = (*pgx.Conn)(nil)
	_ catalog.Querier = pgx.Tx(nil)
)

// Names that must round-trip exactly: upper case, spaces, dots, quotes.
const (
	oddRole   = `Odd "Role".x`
	grantor   = "Gr Antor"
	marked    = "rolecd_marked"
	appDB     = `app db.1"q`
	marker    = `rolecd: {"resource":"a","label":"b","type":"managed"}`
	mixed     = "Mixed Case"
	withDot   = "with.dot"
	quoted    = `quo"te`
	publicNsp = "public"
)

func ident(name string) string { return pgx.Identifier{name}.Sanitize() }

// connector connects as the cluster's superuser, optionally with a tracer.
func connector(c *pgtest.Cluster, tracer pgx.QueryTracer) catalog.Connector {
	return func(ctx context.Context, database string) (*pgx.Conn, error) {
		cfg, err := pgx.ParseConfig(c.ConnString(database))
		if err != nil {
			return nil, err
		}
		cfg.Tracer = tracer
		return pgx.ConnectConfig(ctx, cfg)
	}
}

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// setupScenario builds the cluster every field of the Snapshot is checked
// against.
func setupScenario(t *testing.T, c *pgtest.Cluster) {
	t.Helper()
	c.Exec(t, "postgres", `
		CREATE ROLE app_ro LOGIN CONNECTION LIMIT 5;
		CREATE ROLE `+ident(oddRole)+` NOLOGIN;
		CREATE ROLE `+marked+` SUPERUSER CREATEDB CREATEROLE REPLICATION BYPASSRLS NOINHERIT CONNECTION LIMIT 2;
		COMMENT ON ROLE `+marked+` IS '`+marker+`';
		CREATE ROLE other_role LOGIN;
		COMMENT ON ROLE other_role IS 'someone else''s';
		CREATE ROLE almost_marked;
		COMMENT ON ROLE almost_marked IS 'rolecd:{}';
		CREATE ROLE `+ident(grantor)+`;
		GRANT other_role TO app_ro WITH ADMIN OPTION;
		GRANT app_ro TO `+ident(grantor)+` WITH ADMIN OPTION;
		SET ROLE `+ident(grantor)+`;
		GRANT app_ro TO `+ident(oddRole)+`;
		RESET ROLE;
		ALTER ROLE app_ro VALID UNTIL '2030-01-02 03:04:05.6+02';
		ALTER ROLE app_ro SET statement_timeout = '5s';
		ALTER ROLE app_ro SET search_path = '$user', 'Odd Schema';
		ALTER ROLE app_ro IN DATABASE postgres SET work_mem = '1MB';
		ALTER ROLE other_role VALID UNTIL 'infinity';`)
	if c.VersionNum >= 160000 {
		c.Exec(t, "postgres", "GRANT other_role TO "+ident(oddRole)+" WITH INHERIT FALSE, SET FALSE")
	}
	c.CreateDatabase(t, appDB)
	c.Exec(t, "postgres",
		"CREATE DATABASE second OWNER "+marked,
		"CREATE DATABASE closed",
		"GRANT CONNECT, TEMPORARY ON DATABASE "+ident(appDB)+" TO app_ro",
		"GRANT CONNECT ON DATABASE "+ident(appDB)+" TO other_role",
		"GRANT CREATE ON DATABASE "+ident(appDB)+" TO "+ident(oddRole)+" WITH GRANT OPTION",
		"GRANT CONNECT ON DATABASE closed TO app_ro",
		"ALTER DATABASE closed ALLOW_CONNECTIONS false",
	)
	m := ident(mixed)
	c.Exec(t, appDB, `
		CREATE SCHEMA `+m+`;
		CREATE SCHEMA `+ident(withDot)+` AUTHORIZATION `+ident(oddRole)+`;
		CREATE SCHEMA `+ident(quoted)+`;
		CREATE SCHEMA empty;
		GRANT USAGE ON SCHEMA `+m+` TO app_ro, other_role, PUBLIC;
		GRANT USAGE, CREATE ON SCHEMA `+m+` TO `+ident(oddRole)+` WITH GRANT OPTION;

		-- one relation of each table-like kind, and some that are not
		CREATE TABLE `+m+`."T1" (id int);
		CREATE TABLE `+m+`."Parted" (id int) PARTITION BY RANGE (id);
		CREATE TABLE `+m+`."Parted_1" PARTITION OF `+m+`."Parted" FOR VALUES FROM (0) TO (10);
		CREATE VIEW `+m+`."V" AS SELECT id FROM `+m+`."T1";
		CREATE MATERIALIZED VIEW `+m+`."MV" AS SELECT 1 AS x;
		CREATE FOREIGN DATA WRAPPER dummy;
		CREATE SERVER s FOREIGN DATA WRAPPER dummy;
		CREATE FOREIGN TABLE `+m+`."F" (a int) SERVER s;
		CREATE SEQUENCE `+m+`.seq;
		CREATE INDEX ON `+m+`."T1" (id);
		CREATE TYPE `+m+`.comp AS (a int);

		GRANT SELECT ON ALL TABLES IN SCHEMA `+m+` TO app_ro, other_role;
		GRANT SELECT ON ALL SEQUENCES IN SCHEMA `+m+` TO app_ro;
		GRANT INSERT, UPDATE ON `+m+`."T1" TO app_ro WITH GRANT OPTION;
		GRANT SELECT ON `+m+`."T1" TO PUBLIC;
		GRANT DELETE ON `+m+`."V" TO `+ident(oddRole)+`;
		GRANT TRUNCATE ON `+m+`."Parted_1" TO `+marked+`;
		-- a second grantor of SELECT on T1 to app_ro, with grant option
		GRANT SELECT ON `+m+`."T1" TO `+ident(grantor)+` WITH GRANT OPTION;
		SET ROLE `+ident(grantor)+`;
		GRANT SELECT ON `+m+`."T1" TO app_ro WITH GRANT OPTION;
		RESET ROLE;

		CREATE TABLE `+ident(withDot)+`."t.x" (id int);
		ALTER TABLE `+ident(withDot)+`."t.x" OWNER TO `+ident(oddRole)+`;

		-- routines: EXECUTE to app_ro on one; a procedure owned by oddRole
		CREATE FUNCTION `+m+`.f() RETURNS int LANGUAGE sql AS 'SELECT 1';
		CREATE FUNCTION `+m+`.g() RETURNS int LANGUAGE sql AS 'SELECT 2';
		CREATE PROCEDURE `+m+`.p() LANGUAGE sql AS 'SELECT 1';
		ALTER PROCEDURE `+m+`.p() OWNER TO `+ident(oddRole)+`;
		GRANT EXECUTE ON FUNCTION `+m+`.f() TO app_ro WITH GRANT OPTION;

		-- default privileges: per schema and database-wide
		ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA `+m+` GRANT SELECT, INSERT ON TABLES TO app_ro;
		ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA `+m+` GRANT USAGE ON SEQUENCES TO app_ro WITH GRANT OPTION;
		ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA `+m+` GRANT SELECT ON TABLES TO other_role;
		ALTER DEFAULT PRIVILEGES FOR ROLE `+ident(oddRole)+` GRANT EXECUTE ON FUNCTIONS TO `+marked+`;
		ALTER DEFAULT PRIVILEGES FOR ROLE `+ident(oddRole)+` GRANT USAGE ON TYPES TO app_ro;
		ALTER DEFAULT PRIVILEGES FOR ROLE `+ident(oddRole)+` REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

		CREATE VIEW `+ident(quoted)+`.v AS SELECT 1 AS x;
		GRANT USAGE ON SCHEMA `+ident(quoted)+` TO `+marked+`;
		GRANT SELECT ON `+ident(quoted)+`.v TO `+marked+`;

		CREATE TABLE public.other_t (id int);
		ALTER TABLE public.other_t OWNER TO other_role;
		GRANT SELECT ON public.other_t TO PUBLIC;`)
	c.Exec(t, "second", "CREATE TABLE t (id int); GRANT SELECT ON t TO app_ro")
}

func TestInspect(t *testing.T) {
	t.Parallel()
	c := pgtest.Start(t)
	setupScenario(t, c)
	ctx := testContext(t)
	// A session with a temporary table: its pg_temp_N and pg_toast_temp_N
	// schemas exist while Inspect runs and must not be reported.
	if _, err := c.Connect(t, appDB).Exec(ctx, "CREATE TEMP TABLE tmp (x int); GRANT SELECT ON tmp TO app_ro"); err != nil {
		t.Fatal(err)
	}

	var (
		mu        sync.Mutex
		connected []string
	)
	base := connector(c, nil)
	connect := func(ctx context.Context, database string) (*pgx.Conn, error) {
		mu.Lock()
		connected = append(connected, database)
		mu.Unlock()
		return base(ctx, database)
	}
	got, err := catalog.Inspect(ctx, connect, "postgres",
		catalog.Options{Roles: []string{"app_ro", oddRole, marked, "does_not_exist"}})
	if err != nil {
		t.Fatal(err)
	}
	// Only the roles asked for: a role carrying rolecd's marker is not
	// collected unless named (its cost would grow with unrelated roles).
	only, err := catalog.Inspect(ctx, base, "postgres", catalog.Options{Roles: []string{"app_ro"}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(dump(t, only.Databases), `"Grantee": "`+marked+`"`) {
		t.Errorf("grants of %s, not asked for, were collected", marked)
	}
	// One connection per inspectable database, the maintenance one reused;
	// none to templates or to a database that refuses connections.
	slices.Sort(connected)
	if want := []string{appDB, "postgres", "second"}; !slices.Equal(connected, want) {
		t.Errorf("connected to %q, want %q", connected, want)
	}

	publicOwner := "pg_database_owner"
	if c.VersionNum < 150000 {
		publicOwner = "postgres"
	}
	ownerPrivileges := []string{"DELETE", "INSERT", "REFERENCES", "SELECT", "TRIGGER", "TRUNCATE", "UPDATE"}
	if c.VersionNum >= 170000 {
		ownerPrivileges = []string{"DELETE", "INSERT", "MAINTAIN", "REFERENCES", "SELECT", "TRIGGER", "TRUNCATE", "UPDATE"}
	}
	var ownerGrants []catalog.ObjectGrant
	for _, p := range ownerPrivileges {
		ownerGrants = append(ownerGrants, catalog.ObjectGrant{Grantee: oddRole, Privilege: p, Objects: 1})
	}
	oddMemberOf := []catalog.Membership{{Role: "app_ro", Grantor: grantor, Inherit: true, Set: true}}
	if c.VersionNum >= 160000 {
		oddMemberOf = append(oddMemberOf, catalog.Membership{Role: "other_role", Grantor: "postgres"})
	}
	want := &catalog.Snapshot{
		ServerVersionNum: c.VersionNum,
		ServerVersion:    got.ServerVersion, // checked below
		CurrentUser:      "postgres",
		Admin:            catalog.Admin{Name: "postgres", Superuser: true, CreateRole: true, CreateDB: true, Replication: true, BypassRLS: true},
		Roles: map[string]catalog.Role{
			"postgres": {Name: "postgres", Superuser: true, Inherit: true, CreateRole: true, CreateDB: true,
				Login: true, Replication: true, BypassRLS: true, ConnLimit: -1},
			"app_ro": {Name: "app_ro", Inherit: true, Login: true, ConnLimit: 5, ValidUntil: "2030-01-02T01:04:05Z",
				Settings: map[string]string{"statement_timeout": "5s", "search_path": `"$user", "Odd Schema"`},
				MemberOf: []catalog.Membership{{Role: "other_role", Grantor: "postgres", Admin: true, Inherit: true, Set: true}}},
			oddRole: {Name: oddRole, Inherit: true, ConnLimit: -1, MemberOf: oddMemberOf},
			marked: {Name: marked, Superuser: true, CreateRole: true, CreateDB: true, Replication: true,
				BypassRLS: true, ConnLimit: 2, Comment: marker},
			"other_role":    {Name: "other_role", Inherit: true, Login: true, ConnLimit: -1, Comment: "someone else's"},
			"almost_marked": {Name: "almost_marked", Inherit: true, ConnLimit: -1, Comment: "rolecd:{}"},
			grantor: {Name: grantor, Inherit: true, ConnLimit: -1,
				MemberOf: []catalog.Membership{{Role: "app_ro", Grantor: "postgres", Admin: true, Inherit: true, Set: true}}},
		},
		Databases: []catalog.Database{
			{Name: appDB, Owner: "postgres", AllowConn: true, Inspected: true,
				DefaultGrants: []catalog.DefaultGrant{
					{Creator: oddRole, Objects: "FUNCTIONS", Grantee: marked, Privilege: "EXECUTE"},
					{Creator: oddRole, Objects: "TYPES", Grantee: "app_ro", Privilege: "USAGE"},
				},
				ACL: []catalog.Grant{
					{Grantee: oddRole, Privilege: "CREATE", Grantable: true},
					{Grantee: "app_ro", Privilege: "CONNECT"},
					{Grantee: "app_ro", Privilege: "TEMPORARY"},
				},
				Schemas: []catalog.Schema{
					{Name: mixed, Owner: "postgres", Tables: 6, Sequences: 1, Routines: 3,
						Creators: []string{oddRole, "postgres"},
						ACL: []catalog.Grant{
							{Grantee: oddRole, Privilege: "CREATE", Grantable: true},
							{Grantee: oddRole, Privilege: "USAGE", Grantable: true},
							{Grantee: "app_ro", Privilege: "USAGE"},
						},
						TableGrants: []catalog.ObjectGrant{
							{Grantee: oddRole, Privilege: "DELETE", Objects: 1},
							{Grantee: "app_ro", Privilege: "INSERT", Objects: 1, Grantable: 1},
							{Grantee: "app_ro", Privilege: "SELECT", Objects: 6, Grantable: 1},
							{Grantee: "app_ro", Privilege: "UPDATE", Objects: 1, Grantable: 1},
							{Grantee: marked, Privilege: "TRUNCATE", Objects: 1},
						},
						SequenceGrants: []catalog.ObjectGrant{{Grantee: "app_ro", Privilege: "SELECT", Objects: 1}},
						RoutineGrants: []catalog.ObjectGrant{
							{Grantee: oddRole, Privilege: "EXECUTE", Objects: 1},
							{Grantee: "app_ro", Privilege: "EXECUTE", Objects: 1, Grantable: 1},
						},
						DefaultGrants: []catalog.DefaultGrant{
							{Creator: "postgres", Objects: "SEQUENCES", Grantee: "app_ro", Privilege: "USAGE", Grantable: true},
							{Creator: "postgres", Objects: "TABLES", Grantee: "app_ro", Privilege: "INSERT"},
							{Creator: "postgres", Objects: "TABLES", Grantee: "app_ro", Privilege: "SELECT"},
						}},
					{Name: "empty", Owner: "postgres"},
					{Name: publicNsp, Owner: publicOwner, Tables: 1, Creators: []string{"other_role"}},
					{Name: quoted, Owner: "postgres", Tables: 1, Creators: []string{"postgres"},
						ACL:         []catalog.Grant{{Grantee: marked, Privilege: "USAGE"}},
						TableGrants: []catalog.ObjectGrant{{Grantee: marked, Privilege: "SELECT", Objects: 1}}},
					{Name: withDot, Owner: oddRole, Tables: 1, Creators: []string{oddRole},
						ACL: []catalog.Grant{
							{Grantee: oddRole, Privilege: "CREATE"},
							{Grantee: oddRole, Privilege: "USAGE"},
						},
						TableGrants: ownerGrants},
				}},
			{Name: "closed", Owner: "postgres",
				ACL: []catalog.Grant{{Grantee: "app_ro", Privilege: "CONNECT"}}},
			{Name: "postgres", Owner: "postgres", AllowConn: true, Inspected: true,
				Schemas: []catalog.Schema{{Name: publicNsp, Owner: publicOwner}}},
			{Name: "second", Owner: marked, AllowConn: true, Inspected: true,
				ACL: []catalog.Grant{
					{Grantee: marked, Privilege: "CONNECT"},
					{Grantee: marked, Privilege: "CREATE"},
					{Grantee: marked, Privilege: "TEMPORARY"},
				},
				Schemas: []catalog.Schema{{Name: publicNsp, Owner: publicOwner, Tables: 1, Creators: []string{"postgres"},
					TableGrants: []catalog.ObjectGrant{{Grantee: "app_ro", Privilege: "SELECT", Objects: 1}}}}},
			{Name: "template0", Owner: "postgres", IsTemplate: true},
			{Name: "template1", Owner: "postgres", AllowConn: true, IsTemplate: true},
		},
	}

	t.Logf("PostgreSQL %s", got.ServerVersion)
	if !strings.HasPrefix(got.ServerVersion, "1") || !strings.Contains(got.ServerVersion, ".") {
		t.Errorf("ServerVersion = %q", got.ServerVersion)
	}
	// Built-in pg_* roles vary with the server version: check they are
	// there, then compare the rest exactly.
	monitor, ok := got.Roles["pg_monitor"]
	if !ok || monitor.Login || len(monitor.MemberOf) == 0 {
		t.Errorf("pg_monitor = %+v, %v", monitor, ok)
	}
	for name := range got.Roles {
		if strings.HasPrefix(name, "pg_") {
			delete(got.Roles, name)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Inspect mismatch\n got: %s\nwant: %s", dump(t, got), dump(t, want))
	}
}

func dump(t *testing.T, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// countingTracer counts the queries run per database.
type countingTracer struct {
	mu      sync.Mutex
	queries map[string]int
}

func (ct *countingTracer) TraceQueryStart(ctx context.Context, conn *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	ct.queries[conn.Config().Database]++
	return ctx
}

func (ct *countingTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func TestInspectQueryCountIsFixed(t *testing.T) {
	t.Parallel()
	c := pgtest.Start(t)
	c.Exec(t, "postgres", "CREATE ROLE reader; COMMENT ON ROLE reader IS '"+catalog.MarkerPrefix+"{}'")
	c.CreateDatabase(t, "a")
	c.CreateDatabase(t, "b")
	ctx := testContext(t)
	opts := catalog.Options{Roles: []string{"reader"}}

	count := func() map[string]int {
		t.Helper()
		tracer := &countingTracer{queries: map[string]int{}}
		if _, err := catalog.Inspect(ctx, connector(c, tracer), "postgres", opts); err != nil {
			t.Fatal(err)
		}
		return tracer.queries
	}
	want := map[string]int{
		"postgres": catalog.QueriesPerCluster + catalog.QueriesPerDatabase,
		"a":        catalog.QueriesPerDatabase,
		"b":        catalog.QueriesPerDatabase,
	}
	if got := count(); !reflect.DeepEqual(got, want) {
		t.Fatalf("queries before growth = %v, want %v", got, want)
	}
	// Many more schemas, tables and grants: still the same number.
	c.Exec(t, "a", `DO $$
		BEGIN
			FOR s IN 1..20 LOOP
				EXECUTE format('CREATE SCHEMA s%s', s);
				FOR i IN 1..10 LOOP
					EXECUTE format('CREATE TABLE s%s.t%s (id int)', s, i);
				END LOOP;
				EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA s%s TO reader', s);
				EXECUTE format('CREATE SEQUENCE s%s.q; CREATE FUNCTION s%s.f() RETURNS int LANGUAGE sql AS ''SELECT 1''', s, s);
				EXECUTE format('GRANT USAGE ON ALL SEQUENCES IN SCHEMA s%s TO reader', s);
				EXECUTE format('GRANT EXECUTE ON ALL ROUTINES IN SCHEMA s%s TO reader', s);
				EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA s%s GRANT SELECT ON TABLES TO reader', s);
			END LOOP;
		END $$`)
	c.Exec(t, "postgres", "CREATE ROLE reader2; COMMENT ON ROLE reader2 IS '"+catalog.MarkerPrefix+"{}'; ALTER ROLE reader2 SET work_mem = '1MB'")
	if got := count(); !reflect.DeepEqual(got, want) {
		t.Fatalf("queries after growth = %v, want %v", got, want)
	}
}

func TestInspectInTransaction(t *testing.T) {
	t.Parallel()
	c := pgtest.Start(t)
	c.Exec(t, "postgres", "CREATE ROLE r; CREATE SCHEMA s; CREATE TABLE s.t (); GRANT SELECT ON s.t TO r")
	ctx := testContext(t)
	opts := catalog.Options{Roles: []string{"r"}}
	tx, err := c.Connect(t, "postgres").BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	snap, err := catalog.InspectCluster(ctx, tx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := snap.Roles["r"]; !ok {
		t.Errorf("role r missing from %v", snap.Roles)
	}
	if db, ok := snap.Database("postgres"); !ok || db.Inspected || db.Schemas != nil {
		t.Errorf("InspectCluster filled schemas: %+v", db)
	}
	schemas, global, err := catalog.InspectDatabase(ctx, tx, opts)
	if err != nil || global != nil {
		t.Fatal(err, global)
	}
	want := []catalog.Schema{
		{Name: "public", Owner: "pg_database_owner"},
		{Name: "s", Owner: "postgres", Tables: 1, Creators: []string{"postgres"},
			TableGrants: []catalog.ObjectGrant{{Grantee: "r", Privilege: "SELECT", Objects: 1}}},
	}
	if c.VersionNum < 150000 {
		want[0].Owner = "postgres"
	}
	if !reflect.DeepEqual(schemas, want) {
		t.Errorf("InspectDatabase in a transaction\n got: %s\nwant: %s", dump(t, schemas), dump(t, want))
	}
}

func TestInspectErrors(t *testing.T) {
	t.Parallel()
	c := pgtest.Start(t)
	c.CreateDatabase(t, "ok")
	c.CreateDatabase(t, "gone")
	c.CreateDatabase(t, "broken")
	ctx := testContext(t)
	base := connector(c, nil)

	t.Run("dropped while inspecting", func(t *testing.T) {
		// Drop "gone" after the cluster query listed it, before Inspect
		// connects to it: it is left out, the rest is inspected.
		connect := func(ctx context.Context, database string) (*pgx.Conn, error) {
			if database == "gone" {
				c.Exec(t, "postgres", "DROP DATABASE gone")
			}
			return base(ctx, database)
		}
		snap, err := catalog.Inspect(ctx, connect, "postgres", catalog.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := snap.Database("gone"); ok {
			t.Error("dropped database still in the snapshot")
		}
		if db, ok := snap.Database("ok"); !ok || !db.Inspected {
			t.Errorf("database ok: %+v", db)
		}
	})
	t.Run("failing database is named", func(t *testing.T) {
		connect := func(ctx context.Context, database string) (*pgx.Conn, error) {
			if database == "broken" {
				cfg, err := pgx.ParseConfig(c.ConnString(database))
				if err != nil {
					return nil, err
				}
				cfg.Password = "wrong"
				return pgx.ConnectConfig(ctx, cfg)
			}
			return base(ctx, database)
		}
		_, err := catalog.Inspect(ctx, connect, "postgres", catalog.Options{})
		if err == nil || !strings.Contains(err.Error(), `inspecting database "broken"`) {
			t.Fatalf("err = %v", err)
		}
		if strings.Contains(err.Error(), c.Password) {
			t.Error("error contains the password")
		}
	})
	t.Run("maintenance database missing", func(t *testing.T) {
		_, err := catalog.Inspect(ctx, base, "nope", catalog.Options{})
		if err == nil || !strings.Contains(err.Error(), `connecting to maintenance database "nope"`) {
			t.Fatalf("err = %v", err)
		}
	})
}

// BenchmarkInspect inspects a database of 5,000 tables in 50 schemas, with
// a role of interest granted SELECT on all of them.
func BenchmarkInspect(b *testing.B) {
	c := pgtest.Start(b)
	c.Exec(b, "postgres", "CREATE ROLE reader; COMMENT ON ROLE reader IS '"+catalog.MarkerPrefix+"{}'")
	c.CreateDatabase(b, "big")
	c.Exec(b, "big", `DO $$
		BEGIN
			FOR s IN 1..50 LOOP
				EXECUTE format('CREATE SCHEMA s%s', s);
				FOR i IN 1..100 LOOP
					EXECUTE format('CREATE TABLE s%s.t%s (id int)', s, i);
				END LOOP;
				EXECUTE format('GRANT USAGE ON SCHEMA s%s TO reader', s);
				EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA s%s TO reader', s);
			END LOOP;
		END $$`)
	ctx := testContext(b)
	connect := connector(c, nil)
	opts := catalog.Options{Roles: []string{"app"}}
	for b.Loop() {
		snap, err := catalog.Inspect(ctx, connect, "postgres", opts)
		if err != nil {
			b.Fatal(err)
		}
		db, _ := snap.Database("big")
		if len(db.Schemas) != 51 || db.Schemas[1].Tables != 100 || len(db.Schemas[1].TableGrants) != 1 {
			b.Fatalf("unexpected snapshot of big: %d schemas", len(db.Schemas))
		}
	}
}
