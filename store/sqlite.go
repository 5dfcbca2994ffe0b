package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
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
// absolute. Creating the file, switching it to WAL mode and migrating
// happen under lockFile; Go never opens an existing database file
// (createPrivately). Writes go through one connection whose transactions begin
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
	unlock, err := lockFile(abs + ".lock")
	if err != nil {
		return nil, err
	}
	write, err := createAndMigrate(ctx, abs, sqliteDSN(abs))
	unlock()
	if err != nil {
		return nil, err
	}
	read, err := sql.Open("sqlite", sqliteDSN(abs)+"&_pragma=foreign_keys(1)&_pragma=query_only(1)")
	if err != nil {
		return nil, errors.Join(fmt.Errorf("opening database: %w", err), write.Close())
	}
	read.SetMaxOpenConns(sqliteReaders)
	st := &sqlStore{write: write, read: read, d: sqliteDialect()}
	if _, err := st.markInterrupted(ctx); err != nil {
		return nil, errors.Join(err, st.Close())
	}
	return st, nil
}

// sqliteDSN is the DSN of the database file abs with the options every
// connection gets.
func sqliteDSN(abs string) string {
	return fmt.Sprintf("file:%s?_pragma=busy_timeout(%d)", (&url.URL{Path: abs}).EscapedPath(), sqliteBusyTimeout.Milliseconds())
}

// createAndMigrate creates the database file abs if it is missing, opens
// the write pool on it (dsn), switches it to WAL mode and migrates it. The
// caller holds lockFile(abs + ".lock").
func createAndMigrate(ctx context.Context, abs, dsn string) (*sql.DB, error) {
	if err := createPrivately(abs); err != nil {
		return nil, err
	}
	write, err := sql.Open("sqlite", dsn+"&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("opening database: %w", err)
	}
	write.SetMaxOpenConns(1)
	if err := migrate(ctx, write, sqliteDialect()); err != nil {
		return nil, errors.Join(fmt.Errorf("migrating schema: %w", err), write.Close())
	}
	return write, nil
}

// createPrivately creates the database file abs, 0600, unless it exists
// (SQLite would create it with the umask's mode). It never opens an
// existing file: closing any descriptor of a file drops every POSIX lock
// this process holds on it, so close(open(path)) while another handle of
// this process uses the database would silently release that handle's
// SQLite locks. Another process could then think itself the database's
// only user, checkpoint and delete the WAL while this handle still writes
// to it, and those commits would be lost. A file created here with O_EXCL
// is a new inode that no SQLite connection of this process has open: every
// opener of this process creates it under the lock file the caller holds.
func createPrivately(abs string) error {
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("creating database file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("creating database file: %w", err)
	}
	return nil
}
