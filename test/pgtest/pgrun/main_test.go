package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// helperEnv makes the test binary act as the command pgrun runs.
const helperEnv = "PGRUN_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(helper())
	}
	os.Exit(m.Run())
}

// helper connects with the PG* environment only, reads what the SQL files
// created, prints it, and exits 7 so the test sees the code passed through.
func helper() int {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, "")
	if err != nil {
		fmt.Println("connect:", err)
		return 1
	}
	defer conn.Close(ctx)
	var db string
	var n int
	if err := conn.QueryRow(ctx, "SELECT current_database(), (SELECT count(*) FROM seeded)").Scan(&db, &n); err != nil {
		fmt.Println("query:", err)
		return 1
	}
	fmt.Printf("db=%s seeded=%d\n", db, n)
	other, err := pgx.Connect(ctx, "dbname='app db'")
	if err != nil {
		fmt.Println("connect app db:", err)
		return 1
	}
	defer other.Close(ctx)
	if err := other.QueryRow(ctx, "SELECT count(*) FROM in_app").Scan(&n); err != nil {
		fmt.Println("query app db:", err)
		return 1
	}
	fmt.Printf("in_app=%d\n", n)
	return 7
}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	seed := filepath.Join(dir, "seed.sql")
	app := filepath.Join(dir, "app.sql")
	if err := os.WriteFile(seed, []byte("CREATE TABLE seeded (x int); INSERT INTO seeded VALUES (1), (2);"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(app, []byte("CREATE TABLE in_app AS SELECT generate_series(1, 3) AS x;"), 0o600); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(helperEnv, "1")
	var stdout, stderr bytes.Buffer
	code := run([]string{"-db", "app db", "-sql", seed, "-sql", "app db=" + app, "--", self}, &stdout, &stderr)
	if code != 7 {
		t.Fatalf("exit code %d, want 7\nstdout: %s\nstderr: %s", code, stdout.String(), stderr.String())
	}
	if got, want := stdout.String(), "db=postgres seeded=2\nin_app=3\n"; got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
}

func TestRunErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no command", []string{"-db", "x"}, 2, "usage"},
		{"missing sql file", []string{"-sql", "/nonexistent/x.sql", "--", "true"}, 1, "reading SQL file"},
		{"bad sql", []string{"-sql", writeFile(t, "SELEC 1"), "--", "true"}, 1, `in database "postgres"`},
		{"command not found", []string{"--", "/nonexistent/cmd"}, 127, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tc.args, &stdout, &stderr); code != tc.code {
				t.Fatalf("exit code %d, want %d; stderr: %s", code, tc.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.msg) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tc.msg)
			}
		})
	}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "f.sql")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestParseSQLFile(t *testing.T) {
	for _, tc := range []struct {
		arg  string
		want sqlFile
	}{
		{"a.sql", sqlFile{"postgres", "a.sql"}},
		{"app=a.sql", sqlFile{"app", "a.sql"}},
		{"my db=dir/a=b.sql", sqlFile{"my db", "dir/a=b.sql"}},
		{"=a.sql", sqlFile{"postgres", "=a.sql"}},
	} {
		if got := parseSQLFile(tc.arg); got != tc.want {
			t.Errorf("parseSQLFile(%q) = %+v, want %+v", tc.arg, got, tc.want)
		}
	}
}

// Two fixed ports start two clusters, both answering with the shared
// password; a taken port fails cleanly and stops the clusters started.
func TestRunTwoPorts(t *testing.T) {
	ports := [2]int{}
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	script := `for p in $PGPORTS; do psql -X -At -p "$p" -c "SELECT 'up ' || current_setting('port')" || exit 1; done`
	var stdout, stderr bytes.Buffer
	args := []string{"-port", strconv.Itoa(ports[0]), "-port", strconv.Itoa(ports[1]), "--", "sh", "-c", script}
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout.String(), stderr.String())
	}
	if got, want := stdout.String(), fmt.Sprintf("up %d\nup %d\n", ports[0], ports[1]); got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	stderr.Reset()
	taken := strconv.Itoa(busy.Addr().(*net.TCPAddr).Port)
	if code := run([]string{"-port", taken, "--", "true"}, &stdout, &stderr); code != 1 {
		t.Errorf("taken port: exit %d, want 1; stderr: %s", code, stderr.String())
	}
}
