package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rolecd/rolecd/store"
	"github.com/rolecd/rolecd/store/storetest"
)

// helperEnv, when set, makes the test binary a helper process that opens
// the SQLite store at this path, records one session and exits.
const helperEnv = "ROLECD_STORE_TEST_HELPER_DB"

// helperLockEnv, when set, makes the test binary a helper process that
// prints "locked" when another process holds a SQLite lock on the database
// file at this path (probeLocked), "unlocked" otherwise.
const helperLockEnv = "ROLECD_STORE_TEST_HELPER_LOCK_DB"

func TestMain(m *testing.M) {
	if path := os.Getenv(helperEnv); path != "" {
		if err := openAndRecord(path, fmt.Sprintf("process-%d", os.Getpid())); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if path := os.Getenv(helperLockEnv); path != "" {
		locked, err := probeLocked(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(map[bool]string{true: "locked", false: "unlocked"}[locked])
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// openAndRecord opens the store at path and records session sid.
func openAndRecord(path, sid string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := store.Open(ctx, "sqlite://"+path)
	if err != nil {
		return err
	}
	sess := store.Session{SID: sid, Kind: store.KindHealth, Status: store.StatusOK}
	return errors.Join(s.CreateSession(ctx, &sess), s.Close())
}

// openSQLite opens the SQLite store at path, closed on cleanup.
func openSQLite(t *testing.T, path string) store.Store {
	t.Helper()
	s, err := store.Open(t.Context(), "sqlite://"+path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// rawSQLite opens path with the SQLite driver directly, closed on cleanup.
func rawSQLite(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func TestSQLiteConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openSQLite(t, filepath.Join(t.TempDir(), "rolecd.db"))
	})
}

func TestSQLiteTwoHandlesWriteConcurrently(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rolecd.db")
	storetest.ConcurrentWriters(t, openSQLite(t, path), openSQLite(t, path))
}

func TestSQLiteCreatesFilesPrivately(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	tests := []struct {
		name, url, path string
	}{
		{"relative", "sqlite://.rolecd/rolecd.db", filepath.Join(dir, ".rolecd", "rolecd.db")},
		{"absolute", "sqlite://" + filepath.Join(dir, "abs", "deeper", "state.db"), filepath.Join(dir, "abs", "deeper", "state.db")},
		{"space and question mark", "sqlite://odd dir/a?b#c.db", filepath.Join(dir, "odd dir", "a?b#c.db")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := store.Open(t.Context(), tc.url)
			if err != nil {
				t.Fatalf("Open(%q): %v", tc.url, err)
			}
			sess := store.Session{SID: "x", Kind: store.KindHealth, Status: store.StatusOK}
			if err := s.CreateSession(t.Context(), &sess); err != nil {
				t.Fatal(err)
			}
			// SQLite gives the WAL files the database file's mode.
			for _, suffix := range []string{"-wal", "-shm"} {
				if fi, err := os.Stat(tc.path + suffix); err != nil {
					t.Errorf("WAL file: %v", err)
				} else if mode := fi.Mode().Perm(); mode != 0o600 {
					t.Errorf("%s mode = %v, want 0600", suffix, mode)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(tc.path)
			if err != nil {
				t.Fatalf("database file: %v", err)
			}
			if mode := fi.Mode().Perm(); mode != 0o600 {
				t.Errorf("database file mode = %v, want 0600", mode)
			}
			di, err := os.Stat(filepath.Dir(tc.path))
			if err != nil {
				t.Fatal(err)
			}
			if mode := di.Mode().Perm(); mode != 0o700 {
				t.Errorf("directory mode = %v, want 0700", mode)
			}
			// The data is in that file: a second handle reads it back.
			s2 := openSQLite(t, tc.path)
			if _, err := s2.GetSession(t.Context(), "x"); err != nil {
				t.Errorf("reopened store: %v", err)
			}
		})
	}
}

func TestSQLiteInterruptedOnOpen(t *testing.T) {
	interruptedOnOpen(t, "sqlite://"+filepath.Join(t.TempDir(), "rolecd.db"))
}

func TestSQLiteReopenIsIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rolecd.db")
	reopenThrice(t, "sqlite://"+path)
	assertMigrations(t, rawSQLite(t, path), "migrations/sqlite")
}

// assertMigrations checks that schema_migrations lists every embedded
// migration of dir exactly once.
func assertMigrations(t *testing.T, db *sql.DB, dir string) {
	t.Helper()
	files, err := fs.Glob(os.DirFS("."), dir+"/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("migration files: %v, %v", files, err)
	}
	var want []string
	for _, f := range files {
		want = append(want, strings.TrimSuffix(filepath.Base(f), ".sql"))
	}
	rows, err := db.QueryContext(t.Context(), `SELECT name FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		got = append(got, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("schema_migrations = %v, want %v", got, want)
	}
}

func TestSQLiteConcurrentFirstOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new", "rolecd.db")
	const processes, handles = 3, 3
	var wg sync.WaitGroup
	for i := range processes {
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), helperEnv+"="+path)
		wg.Go(func() {
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("helper process %d: %v\n%s", i, err, out)
			}
		})
	}
	for i := range handles {
		wg.Go(func() {
			if err := openAndRecord(path, fmt.Sprintf("handle-%d", i)); err != nil {
				t.Errorf("handle %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	list, err := openSQLite(t, path).ListSessions(t.Context(), store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != processes+handles {
		t.Errorf("got %d sessions, want %d (one per process and handle)", len(list), processes+handles)
	}
	assertMigrations(t, rawSQLite(t, path), "migrations/sqlite")
}

func TestSQLiteRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rolecd.db")
	s := openSQLite(t, path)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := rawSQLite(t, path).ExecContext(t.Context(),
		`INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '999_future', 0)`); err != nil {
		t.Fatal(err)
	}
	_, err := store.Open(t.Context(), "sqlite://"+path)
	if !errors.Is(err, store.ErrSchemaNewer) {
		t.Fatalf("Open of a newer schema: got %v, want ErrSchemaNewer", err)
	}
	for _, want := range []string{path, "999", "upgrade rolecd"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestSQLiteOpenErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	notDB := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(notDB, []byte(strings.Repeat("not a database ", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, url, want string
	}{
		{"empty path", "sqlite://", "empty database path"},
		{"path is a directory", "sqlite://" + dir, dir},
		{"parent is a file", "sqlite://" + filepath.Join(file, "x.db"), "creating directory"},
		{"not a database", "sqlite://" + notDB, notDB},
		{"no scheme", "rolecd.db", "no scheme"},
		{"unsupported scheme", "mysql://u:pw@h/db", `unsupported URL scheme "mysql"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := store.Open(t.Context(), tc.url)
			if err == nil {
				_ = s.Close()
				t.Fatalf("Open(%q) succeeded", tc.url)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open(%q) = %q, want it to mention %q", tc.url, err, tc.want)
			}
			if strings.Contains(err.Error(), "pw@") {
				t.Errorf("error %q shows a password", err)
			}
		})
	}
}
