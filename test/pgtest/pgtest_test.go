package pgtest_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rolecd/rolecd/test/pgtest"
)

func TestTwoClustersAtOnce(t *testing.T) {
	t.Parallel()
	var (
		wg       sync.WaitGroup
		clusters [2]*pgtest.Cluster
	)
	for i := range clusters {
		wg.Go(func() { clusters[i] = pgtest.Start(t) })
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	a, b := clusters[0], clusters[1]
	if a.Port == b.Port {
		t.Fatalf("both clusters on port %d", a.Port)
	}
	if a.DataDir == b.DataDir {
		t.Fatalf("both clusters in %s", a.DataDir)
	}
	// Each answers on its own port, and the data really is separate.
	a.Exec(t, "postgres", "CREATE TABLE only_in_a (x int)")
	for _, tc := range []struct {
		cluster *pgtest.Cluster
		want    bool
	}{{a, true}, {b, false}} {
		conn := tc.cluster.Connect(t, "postgres")
		var port int
		var exists bool
		err := conn.QueryRow(context.Background(),
			"SELECT current_setting('port')::int, to_regclass('only_in_a') IS NOT NULL").Scan(&port, &exists)
		if err != nil {
			t.Fatal(err)
		}
		if port != tc.cluster.Port || exists != tc.want {
			t.Errorf("cluster on %d: port %d, only_in_a exists %v, want %v", tc.cluster.Port, port, exists, tc.want)
		}
		if tc.cluster.VersionNum < 100000 {
			t.Errorf("VersionNum = %d", tc.cluster.VersionNum)
		}
	}
}

func TestStopRemovesEverything(t *testing.T) {
	t.Parallel()
	c, err := pgtest.StartCluster(context.Background(), pgtest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(c.DataDir, "postmaster.pid")); err != nil {
		_ = c.Stop()
		t.Fatalf("running cluster has no postmaster.pid: %v", err)
	}
	if err := c.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if _, err := os.Stat(filepath.Dir(c.DataDir)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cluster directory still there after Stop: %v", err)
	}
	if err := c.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if conn, err := pgx.Connect(ctx, c.ConnString("postgres")); err == nil {
		_ = conn.Close(ctx)
		t.Error("stopped cluster still accepts connections")
	}
}

func TestPasswordAuthAndLoopbackOnly(t *testing.T) {
	t.Parallel()
	c := pgtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	wrong := &pgtest.Cluster{Host: c.Host, Port: c.Port, User: c.User, Password: "not-the-password"}
	conn, err := pgx.Connect(ctx, wrong.ConnString("postgres"))
	if err == nil {
		_ = conn.Close(ctx)
		t.Fatal("connected with a wrong password")
	}
	if !strings.Contains(err.Error(), "password authentication failed") {
		t.Errorf("wrong password: %v", err)
	}
	var listen, method string
	if err := c.Connect(t, "postgres").QueryRow(ctx,
		`SELECT current_setting('listen_addresses'),
		        (SELECT string_agg(DISTINCT auth_method, ',') FROM pg_hba_file_rules WHERE type = 'host')`,
	).Scan(&listen, &method); err != nil {
		t.Fatal(err)
	}
	if listen != "127.0.0.1" || method != "scram-sha-256" {
		t.Errorf("listen_addresses %q, host auth %q", listen, method)
	}
}

func TestSettingsAndServerLog(t *testing.T) {
	t.Parallel()
	c := pgtest.Start(t, pgtest.Config{Settings: map[string]string{
		"log_statement":    "all",
		"application_name": `it's a "test"`,
	}})
	c.Exec(t, "postgres", "SELECT 'marker-statement-42'")
	conn := c.Connect(t, "postgres")
	var fsync, name string
	if err := conn.QueryRow(context.Background(),
		"SELECT current_setting('fsync'), current_setting('application_name')").Scan(&fsync, &name); err != nil {
		t.Fatal(err)
	}
	if fsync != "off" {
		t.Errorf("fsync = %q", fsync)
	}
	// pgx sends its own application_name only when asked, so the server
	// default from postgresql.conf shows.
	if name != `it's a "test"` {
		t.Errorf("application_name = %q", name)
	}
	log, err := c.ServerLog()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log, "marker-statement-42") {
		t.Errorf("server log lacks the statement:\n%s", log)
	}
	if strings.Contains(log, c.Password) {
		t.Error("server log contains the superuser password")
	}
}

func TestInvalidSettingName(t *testing.T) {
	t.Parallel()
	_, err := pgtest.StartCluster(context.Background(), pgtest.Config{Settings: map[string]string{"bad name = x": "1"}})
	if err == nil || !strings.Contains(err.Error(), "invalid setting name") {
		t.Fatalf("err = %v", err)
	}
}

func TestCreateDatabaseOddName(t *testing.T) {
	t.Parallel()
	c := pgtest.Start(t)
	const name = `My "odd" db.name\ 'x'`
	c.CreateDatabase(t, name)
	var got string
	if err := c.Connect(t, name).QueryRow(context.Background(), "SELECT current_database()").Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != name {
		t.Errorf("current_database() = %q, want %q", got, name)
	}
}

func TestBinDir(t *testing.T) {
	dir, err := pgtest.BinDir()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, env, want, wantErr string
	}{
		{name: "explicit", env: dir, want: dir},
		{name: "missing programs", env: t.TempDir(), wantErr: "missing initdb"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(pgtest.EnvBinDir, tc.env)
			got, err := pgtest.BinDir()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), pgtest.EnvBinDir) {
					t.Fatalf("err = %v, want it to mention %q and %s", err, tc.wantErr, pgtest.EnvBinDir)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("BinDir() = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
