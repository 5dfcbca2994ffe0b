package pgtest

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// opTimeout bounds each helper's database round trips.
const opTimeout = 60 * time.Second

// Start starts a cluster for a test and stops and removes it on cleanup. It
// fails the test (never skips it) when no cluster can start.
func Start(t testing.TB, cfg ...Config) *Cluster {
	t.Helper()
	var c Config
	if len(cfg) > 0 {
		c = cfg[0]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*opTimeout)
	defer cancel()
	cluster, err := StartCluster(ctx, c)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if err := cluster.Stop(); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return cluster
}

// Connect opens a superuser connection to database, closed on cleanup.
func (c *Cluster) Connect(t testing.TB, database string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.ConnString(database))
	if err != nil {
		t.Fatalf("pgtest: connecting to %q: %v", database, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		_ = conn.Close(ctx)
	})
	return conn
}

// Exec runs each SQL string (several statements each, if wanted) in
// database as the superuser, failing the test on the first error.
func (c *Cluster) Exec(t testing.TB, database string, sql ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.ConnString(database))
	if err != nil {
		t.Fatalf("pgtest: connecting to %q: %v", database, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for _, s := range sql {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("pgtest: in database %q: %v\nSQL: %s", database, err, s)
		}
	}
}

// CreateDatabase creates a database; name is quoted, so any name works.
func (c *Cluster) CreateDatabase(t testing.TB, name string) {
	t.Helper()
	c.Exec(t, "postgres", "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
}
