package store_test

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/rolecd/rolecd/store"
	"github.com/rolecd/rolecd/store/storetest"
	"github.com/rolecd/rolecd/test/pgtest"
)

// pgURL returns the postgres:// URL of database on c as its superuser.
func pgURL(c *pgtest.Cluster, database string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(c.User, c.Password),
		Host:     c.Host + ":" + strconv.Itoa(c.Port),
		Path:     "/" + database,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// postgresFixture hands out fresh databases of one cluster.
type postgresFixture struct {
	cluster *pgtest.Cluster
	mu      sync.Mutex
	n       int
}

// newDatabase creates a fresh database and returns its URL.
func (f *postgresFixture) newDatabase(t *testing.T) string {
	t.Helper()
	f.mu.Lock()
	f.n++
	name := fmt.Sprintf("store_%d", f.n)
	f.mu.Unlock()
	f.cluster.CreateDatabase(t, name)
	return pgURL(f.cluster, name)
}

// open opens the store at url, closed on cleanup.
func openURL(t *testing.T, url string) store.Store {
	t.Helper()
	s, err := store.Open(t.Context(), url)
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

// TestPostgres runs every PostgreSQL test against one throwaway cluster.
func TestPostgres(t *testing.T) {
	f := &postgresFixture{cluster: pgtest.Start(t)}
	t.Run("Conformance", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) store.Store { return openURL(t, f.newDatabase(t)) })
	})
	t.Run("TwoHandlesWriteConcurrently", func(t *testing.T) {
		u := f.newDatabase(t)
		storetest.ConcurrentWriters(t, openURL(t, u), openURL(t, u))
	})
	t.Run("PostgresqlScheme", func(t *testing.T) {
		u := strings.Replace(f.newDatabase(t), "postgres://", "postgresql://", 1)
		s := openURL(t, u)
		if _, err := s.ListSessions(t.Context(), store.Filter{}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("ReopenIsIdempotent", func(t *testing.T) { testPostgresReopen(t, f) })
	t.Run("ConcurrentFirstOpen", func(t *testing.T) { testPostgresConcurrentFirstOpen(t, f) })
	t.Run("RefusesNewerSchema", func(t *testing.T) { testPostgresNewerSchema(t, f) })
	t.Run("OpenErrorsHidePassword", func(t *testing.T) { testPostgresOpenErrors(t, f) })
}

// rawPostgres connects to url directly, closed on cleanup.
func rawPostgres(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(t.Context()) })
	return conn
}

// pgMigrations returns the names in schema_migrations, in order.
func pgMigrations(t *testing.T, url string) []string {
	t.Helper()
	rows, err := rawPostgres(t, url).Query(t.Context(), `SELECT name FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// shippedMigrations names the PostgreSQL migrations in the source tree,
// in order: what every migrated database records.
func shippedMigrations(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("migrations", "postgres", "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("listing migrations: %v, %v", files, err)
	}
	var names []string
	for _, f := range files {
		names = append(names, strings.TrimSuffix(filepath.Base(f), ".sql"))
	}
	slices.Sort(names)
	return names
}

func testPostgresReopen(t *testing.T, f *postgresFixture) {
	u := f.newDatabase(t)
	reopenThrice(t, u)
	interruptedOnOpen(t, f.newDatabase(t))
	if got, want := pgMigrations(t, u), shippedMigrations(t); !slices.Equal(got, want) {
		t.Errorf("schema_migrations = %v, want %v", got, want)
	}
}

func testPostgresConcurrentFirstOpen(t *testing.T, f *postgresFixture) {
	u := f.newDatabase(t)
	const handles = 6
	var wg sync.WaitGroup
	for i := range handles {
		wg.Go(func() {
			s, err := store.Open(t.Context(), u)
			if err != nil {
				t.Errorf("handle %d: %v", i, err)
				return
			}
			sess := store.Session{SID: fmt.Sprintf("h%d", i), Kind: store.KindHealth, Status: store.StatusOK}
			if err := errors.Join(s.CreateSession(t.Context(), &sess), s.Close()); err != nil {
				t.Errorf("handle %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	list, err := openURL(t, u).ListSessions(t.Context(), store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != handles {
		t.Errorf("got %d sessions, want %d", len(list), handles)
	}
	if got, want := pgMigrations(t, u), shippedMigrations(t); !slices.Equal(got, want) {
		t.Errorf("schema_migrations = %v, want %v", got, want)
	}
}

func testPostgresNewerSchema(t *testing.T, f *postgresFixture) {
	u := f.newDatabase(t)
	if err := openURL(t, u).Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := rawPostgres(t, u).Exec(t.Context(),
		`INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '999_future', now())`); err != nil {
		t.Fatal(err)
	}
	_, err := store.Open(t.Context(), u)
	if !errors.Is(err, store.ErrSchemaNewer) {
		t.Fatalf("Open of a newer schema: got %v, want ErrSchemaNewer", err)
	}
	for _, want := range []string{"999", "upgrade rolecd", "127.0.0.1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if strings.Contains(err.Error(), f.cluster.Password) {
		t.Errorf("error %q contains the password", err)
	}
}

func testPostgresOpenErrors(t *testing.T, f *postgresFixture) {
	c := f.cluster
	const secret = "Sup3r-s3cret-pw"
	host := c.Host + ":" + strconv.Itoa(c.Port)
	tests := []struct {
		name, url string
		secrets   []string // must not appear in the error
		want      string   // must appear in the error
	}{
		{"wrong password", fmt.Sprintf("postgres://%s:%s@%s/postgres?sslmode=disable", c.User, secret, host), []string{secret}, host},
		{"password in the query", fmt.Sprintf("postgres://%s@%s/postgres?sslmode=disable&password=%s", c.User, host, secret), []string{secret}, "password=xxxxx"},
		{"missing database", strings.Replace(pgURL(c, "no_such_db"), "sslmode", "application_name=x&sslmode", 1), []string{c.Password}, "no_such_db"},
		{"nothing listening", fmt.Sprintf("postgres://u:%s@127.0.0.1:1/db?sslmode=disable", secret), []string{secret}, "127.0.0.1:1"},
		{"bad port", fmt.Sprintf("postgres://u:%s@127.0.0.1:notaport/db", secret), []string{secret}, "opening store postgres://u:xxxxx@"},
		{"unencoded slash in password", "postgres://u:Sup3r/s3cret@127.0.0.1:1/db", []string{"Sup3r", "s3cret"}, "opening store"},
		{"bad percent escape", "postgres://u:Sup3r%zzs3cret@127.0.0.1:1/db", []string{"Sup3r", "s3cret"}, "opening store"},
		{"bad sslmode", fmt.Sprintf("postgres://u:%s@127.0.0.1:1/db?sslmode=bogus", secret), []string{secret}, "sslmode"},
		{"quoted keyword form", fmt.Sprintf("host=127.0.0.1 password='%s'", secret), []string{secret}, "no scheme"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := store.Open(t.Context(), tc.url)
			if err == nil {
				_ = s.Close()
				t.Fatalf("Open succeeded")
			}
			for _, secret := range tc.secrets {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error contains the secret %q: %v", secret, err)
				}
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}
