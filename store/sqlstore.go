package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// dialect is what differs between the SQL backends. Both take $1, $2, ...
// placeholders (SQLite binds $N to the N-th argument).
type dialect struct {
	// timeArg encodes a normalised time for a timestamp column: int64
	// microseconds for SQLite, time.Time for timestamptz.
	timeArg func(time.Time) any
	// agg is a scalar subquery returning the sorted values of column col of
	// table for session s as a JSON array (never NULL).
	agg func(table, col string) string
	// forUpdate is appended to a SELECT that a write transaction reads and
	// then updates on ("" where the transaction is already exclusive).
	forUpdate string
	// readTx are the options of a consistent read-only transaction.
	readTx *sql.TxOptions
	// lockRole, when set, serialises the numbering of one role's
	// credential versions across concurrent transactions.
	lockRole func(ctx context.Context, tx *sql.Tx, roleName string) error
	// dbNow is the database clock in a timestamp column's encoding, and
	// dbNowPlus(param) that plus param microseconds: leases expire by the
	// database's clock, whatever the clocks of the daemons sharing it.
	dbNow     string
	dbNowPlus func(param string) string
	// migrations is the directory of the backend's migrations.
	migrations string
	// migrationLock is run first in the migration transaction ("" for none).
	migrationLock string
	// migrationsTable creates schema_migrations if it does not exist.
	migrationsTable string
}

// sqlStore implements Store over database/sql for both backends.
type sqlStore struct {
	write *sql.DB // writes; SQLite: one connection, BEGIN IMMEDIATE
	read  *sql.DB // reads; PostgreSQL: the same pool as write
	d     *dialect
}

// Close closes the connection pools.
func (s *sqlStore) Close() error {
	err := s.write.Close()
	if s.read != s.write {
		err = errors.Join(err, s.read.Close())
	}
	return err
}

// inTx runs fn in a write transaction, committed when fn returns nil.
func (s *sqlStore) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return runTx(ctx, s.write, nil, fn)
}

// inReadTx runs fn in a read-only transaction.
func (s *sqlStore) inReadTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return runTx(ctx, s.read, s.d.readTx, fn)
}

// runTx runs fn in a transaction of db, committed when fn returns nil.
func runTx(ctx context.Context, db *sql.DB, opts *sql.TxOptions, fn func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("beginning transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		return errors.Join(err, ignoreDone(tx.Rollback()))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	return nil
}

// normTime is how every time is stored: UTC, microsecond precision, no
// monotonic reading. Both backends return exactly this value.
func normTime(t time.Time) time.Time {
	return t.UTC().Truncate(time.Microsecond)
}

// nowIfZero returns the normalised t, or the current time when t is zero.
func nowIfZero(t time.Time) time.Time {
	if t.IsZero() {
		t = time.Now()
	}
	return normTime(t)
}

// nullTime encodes t for a nullable timestamp column: NULL when zero.
func (d *dialect) nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return d.timeArg(t)
}

// timeScanner reads a timestamp column of either backend into t: int64
// microseconds (SQLite), time.Time (PostgreSQL), or NULL (the zero time).
type timeScanner struct{ t *time.Time }

// Scan implements sql.Scanner.
func (ts timeScanner) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		*ts.t = time.Time{}
	case int64:
		*ts.t = time.UnixMicro(x).UTC()
	case time.Time:
		*ts.t = x.UTC()
	default:
		return fmt.Errorf("unexpected time value of type %T", v)
	}
	return nil
}

// detailArg validates a JSON document and encodes it for a detail column:
// the exact bytes as text, NULL when empty.
func detailArg(detail json.RawMessage) (any, error) {
	if len(detail) == 0 {
		return nil, nil
	}
	if !json.Valid(detail) {
		return nil, errors.New("detail is not valid JSON")
	}
	return string(detail), nil
}

// sortedSet returns the distinct values of v, sorted; nil when empty.
func sortedSet(v []string) []string {
	if len(v) == 0 {
		return nil
	}
	out := slices.Clone(v)
	slices.Sort(out)
	return slices.Compact(out)
}

// rowScanner is one row to scan: *sql.Row or *sql.Rows.
type rowScanner interface{ Scan(...any) error }

// queryer runs queries: *sql.DB or *sql.Tx.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// queryAll runs query and scans every row with scan; errors say what was
// being read.
func queryAll[T any](ctx context.Context, q queryer, what string, scan func(rowScanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}
