package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// Advisory lock classes (the first key of the two-int form), "rolc" and
// "rold": the schema migration lock and per-role credential numbering.
const (
	pgLockMigrate    = 0x726f6c63
	pgLockCredential = 0x726f6c64
)

// postgresMaxConns bounds the connections of the PostgreSQL pool.
const postgresMaxConns = 8

// postgresDialect stores times as timestamptz.
func postgresDialect() *dialect {
	return &dialect{
		timeArg: func(t time.Time) any { return t },
		agg: func(table, col string) string {
			return fmt.Sprintf("(SELECT COALESCE(json_agg(%[2]s ORDER BY %[2]s), '[]'::json) FROM %[1]s x WHERE x.sid = s.sid)", table, col)
		},
		forUpdate: " FOR UPDATE",
		dbNow:     "now()",
		dbNowPlus: func(param string) string { return "(now() + " + param + "::bigint * interval '1 microsecond')" },
		readTx:    &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead},
		lockRole: func(ctx context.Context, tx *sql.Tx, roleName string) error {
			_, err := tx.ExecContext(ctx, fmt.Sprintf("SELECT pg_advisory_xact_lock(%d, hashtext($1))", pgLockCredential), roleName)
			return err
		},
		migrations:    "migrations/postgres",
		migrationLock: fmt.Sprintf("SELECT pg_advisory_xact_lock(%d, 0)", pgLockMigrate),
		migrationsTable: `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    integer PRIMARY KEY,
			name       text NOT NULL,
			applied_at timestamptz NOT NULL
		)`,
	}
}

// openPostgres connects to the PostgreSQL database of url (a pgx
// connection URL) and migrates its schema. Errors never contain the
// password (see scrub).
func openPostgres(ctx context.Context, url string) (Store, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parsing URL: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(postgresMaxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		return nil, scrub(errors.Join(fmt.Errorf("connecting: %w", err), db.Close()), cfg.Password)
	}
	d := postgresDialect()
	if err := migrate(ctx, db, d); err != nil {
		return nil, scrub(errors.Join(fmt.Errorf("migrating schema: %w", err), db.Close()), cfg.Password)
	}
	st := &sqlStore{write: db, read: db, d: d}
	if _, err := st.markInterrupted(ctx); err != nil {
		return nil, scrub(errors.Join(err, db.Close()), cfg.Password)
	}
	return st, nil
}
