package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// sqliteBusyTimeout is how long a SQLite writer waits for another
// connection's (or process's) write lock before failing.
const sqliteBusyTimeout = 5 * time.Second

// sqliteReaders bounds the connections of the read pool.
const sqliteReaders = 4

// sqliteDialect stores times as int64 microseconds since the Unix epoch.
// sqliteNow is SQLite's clock as microseconds since the Unix epoch (one
// value per statement).
const sqliteNow = `CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)`

func sqliteDialect() *dialect {
	return &dialect{
		timeArg: func(t time.Time) any { return t.UnixMicro() },
		agg: func(table, col string) string {
			return fmt.Sprintf("(SELECT json_group_array(%[2]s ORDER BY %[2]s) FROM %[1]s x WHERE x.sid = s.sid)", table, col)
		},
		readTx:     &sql.TxOptions{ReadOnly: true},
		dbNow:      sqliteNow,
		dbNowPlus:  func(param string) string { return "(" + sqliteNow + " + " + param + ")" },
		migrations: "migrations/sqlite",
		migrationsTable: `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER PRIMARY KEY,
			name       TEXT NOT NULL,
			applied_at INTEGER NOT NULL
		) STRICT`,
	}
}

// openSQLite opens (creating it 0600, in a 0700 directory, if needed) the
// SQLite database at path, relative to the working directory unless
// absolute. Writes go through one connection whose transactions begin
// IMMEDIATE, so they queue in-process and wait (busy_timeout) for other
// processes instead of failing; reads use a separate pool, which WAL mode
// lets run beside a writer.
func openSQLite(ctx context.Context, path string) (Store, error) {
	if path == "" {
		return nil, errors.New("empty database path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("resolving path: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("creating directory: %w", err)
	}
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("creating database file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("creating database file: %w", err)
	}

	base := "file:" + (&url.URL{Path: abs}).EscapedPath()
	busy := fmt.Sprintf("_pragma=busy_timeout(%d)", sqliteBusyTimeout.Milliseconds())
	write, err := sql.Open("sqlite", base+"?"+busy+"&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("opening database: %w", err)
	}
	write.SetMaxOpenConns(1)
	d := sqliteDialect()
	unlock, err := lockFile(abs + ".lock")
	if err != nil {
		return nil, errors.Join(err, write.Close())
	}
	err = migrate(ctx, write, d)
	unlock()
	if err != nil {
		return nil, errors.Join(fmt.Errorf("migrating schema: %w", err), write.Close())
	}
	read, err := sql.Open("sqlite", base+"?"+busy+"&_pragma=foreign_keys(1)&_pragma=query_only(1)")
	if err != nil {
		return nil, errors.Join(fmt.Errorf("opening database: %w", err), write.Close())
	}
	read.SetMaxOpenConns(sqliteReaders)
	st := &sqlStore{write: write, read: read, d: d}
	if _, err := st.markInterrupted(ctx); err != nil {
		return nil, errors.Join(err, st.Close())
	}
	return st, nil
}
