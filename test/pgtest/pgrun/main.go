// Command pgrun runs a command against a throwaway PostgreSQL cluster:
//
//	go run ./test/pgtest/pgrun [-port N]... [-db NAME]... [-sql [DB=]FILE]... -- CMD ARGS...
//
// It starts a cluster (see package pgtest), one per -port when ports are
// given (all sharing one superuser password; PGPORTS lists their ports),
// creates the databases in the first one, runs each
// SQL file (in database DB, default postgres; files are sent as one simple
// query, so psql meta-commands such as \connect do not work), then runs CMD
// with PGHOST, PGPORT, PGUSER, PGPASSWORD, PGSSLMODE and PGDATABASE=postgres
// set, streams its output, stops the cluster (also on SIGINT or SIGTERM) and
// exits with CMD's exit code.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"

	"github.com/rolecd/rolecd/test/pgtest"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// sqlFile is one -sql argument.
type sqlFile struct{ database, path string }

// parseSQLFile splits "DB=FILE"; without "=", the database is postgres.
func parseSQLFile(arg string) sqlFile {
	if db, path, ok := strings.Cut(arg, "="); ok && db != "" {
		return sqlFile{database: db, path: path}
	}
	return sqlFile{database: "postgres", path: arg}
}

// run is main without the exit, for tests. It returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pgrun", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var dbs, sqls, ports listFlag
	fs.Var(&ports, "port", "start a cluster on 127.0.0.1 `PORT` (repeatable; default: one cluster on a free port)")
	fs.Var(&dbs, "db", "create database `NAME` (repeatable)")
	fs.Var(&sqls, "sql", "run `[DB=]FILE` in database DB, default postgres (repeatable, in order)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: pgrun [-db NAME]... [-sql [DB=]FILE]... -- CMD ARGS...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	command := fs.Args()
	if len(command) == 0 {
		fs.Usage()
		return 2
	}

	ctx, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stopSignals()

	if len(ports) == 0 {
		ports = listFlag{"0"}
	}
	var clusters []*pgtest.Cluster
	code := 0
	for _, p := range ports {
		port, err := strconv.Atoi(p)
		if err != nil || port < 0 || port > 65535 {
			fmt.Fprintf(stderr, "pgrun: -port %q: want a TCP port\n", p)
			code = 2
			break
		}
		cluster, err := pgtest.StartCluster(ctx, pgtest.Config{Port: port})
		if err != nil {
			fmt.Fprintf(stderr, "pgrun: %v\n", err)
			code = 1
			break
		}
		clusters = append(clusters, cluster)
	}
	if code == 0 {
		code = runWithClusters(ctx, clusters, dbs, sqls, command, stdout, stderr)
	}
	for _, cluster := range clusters {
		if err := cluster.Stop(); err != nil {
			fmt.Fprintf(stderr, "pgrun: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}
	return code
}

func runWithClusters(ctx context.Context, clusters []*pgtest.Cluster, dbs, sqls []string, command []string, stdout, stderr io.Writer) int {
	c := clusters[0]
	portList := make([]string, len(clusters))
	for i, cl := range clusters {
		portList[i] = strconv.Itoa(cl.Port)
	}
	if err := prepare(ctx, c, dbs, sqls); err != nil {
		fmt.Fprintf(stderr, "pgrun: %v\n", err)
		return 1
	}
	cmd := exec.Command(command[0], command[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, stdout, stderr
	cmd.Env = append(os.Environ(),
		"PGHOST="+c.Host,
		"PGPORT="+strconv.Itoa(c.Port),
		"PGUSER="+c.User,
		"PGPASSWORD="+c.Password,
		"PGDATABASE=postgres",
		"PGSSLMODE=disable",
		"PGPORTS="+strings.Join(portList, " "),
	)
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "pgrun: %v\n", err)
		return 127
	}
	// Forward SIGINT/SIGTERM to the command and let it finish; the cluster
	// is stopped once it has exited.
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(signals)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		select {
		case sig := <-signals:
			_ = cmd.Process.Signal(sig)
		case err := <-done:
			return exitCode(err, stderr)
		}
	}
}

// exitCode maps the command's outcome to pgrun's exit code (128+n when the
// command died of signal n, as shells do).
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return exitErr.ExitCode()
	}
	fmt.Fprintf(stderr, "pgrun: %v\n", err)
	return 1
}

// prepare creates the databases and runs the SQL files.
func prepare(ctx context.Context, c *pgtest.Cluster, dbs, sqls []string) error {
	for _, name := range dbs {
		if err := execIn(ctx, c, "postgres", "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
			return fmt.Errorf("creating database %q: %w", name, err)
		}
	}
	for _, arg := range sqls {
		f := parseSQLFile(arg)
		sql, err := os.ReadFile(f.path)
		if err != nil {
			return fmt.Errorf("reading SQL file: %w", err)
		}
		if err := execIn(ctx, c, f.database, string(sql)); err != nil {
			return fmt.Errorf("running %s in database %q: %w", f.path, f.database, err)
		}
	}
	return nil
}

func execIn(ctx context.Context, c *pgtest.Cluster, database, sql string) error {
	conn, err := pgx.Connect(ctx, c.ConnString(database))
	if err != nil {
		return fmt.Errorf("connecting: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, sql); err != nil {
		return err
	}
	return nil
}
