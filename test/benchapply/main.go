// Command benchapply measures plan and first apply at organisation scale:
//
//	go run ./test/benchapply [-dbs D] [-schemas S] [-tables T] [-roles R]
//
// It starts a throwaway cluster (package pgtest), builds D databases x S
// schemas x T tables and declares R managed roles scoped to every database
// (half readers with SELECT, half writers with SELECT, INSERT, UPDATE,
// DELETE). It then prints, for the plan and for the first apply: wall time,
// statements, catalog queries, transactions and the process's peak RSS;
// re-plans and checks that the plan is empty; plans a second resource of
// the same cluster that declares no role (plan-0); and measures the physical
// floor: the same privileges granted to R other roles on an identical copy
// of the databases by one multi-role statement per privilege set, through
// pgx. It is a measurement, not a test: run it with `make bench-apply`.
package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"github.com/rolecd/rolecd/applier"
	"github.com/rolecd/rolecd/applier/report"
	"github.com/rolecd/rolecd/internal/cluster"
	"github.com/rolecd/rolecd/internal/credentials"
	"github.com/rolecd/rolecd/planner"
	"github.com/rolecd/rolecd/planner/catalog"
	"github.com/rolecd/rolecd/planner/spec"
	"github.com/rolecd/rolecd/store"
	"github.com/rolecd/rolecd/test/pgtest"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "benchapply:", err)
		os.Exit(1)
	}
}

type workload struct{ dbs, schemas, tables, roles int }

func (w workload) String() string {
	return fmt.Sprintf("%d database(s) x %d schemas x %d tables, %d roles", w.dbs, w.schemas, w.tables, w.roles)
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("benchapply", flag.ContinueOnError)
	var w workload
	fs.IntVar(&w.dbs, "dbs", 1, "databases")
	fs.IntVar(&w.schemas, "schemas", 5, "schemas per database")
	fs.IntVar(&w.tables, "tables", 200, "tables per schema")
	fs.IntVar(&w.roles, "roles", 50, "declared roles")
	floor := fs.Bool("floor", true, "also measure the physical floor")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx := context.Background()
	c, err := pgtest.StartCluster(ctx, pgtest.Config{Settings: map[string]string{"max_connections": "50"}})
	if err != nil {
		return err
	}
	defer c.Stop()
	fmt.Fprintf(out, "workload: %s (PostgreSQL %d)\n", w, c.VersionNum)

	start := time.Now()
	if err := build(ctx, c, "bench", w); err != nil {
		return err
	}
	if *floor {
		if err := build(ctx, c, "floor", w); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "built in %s\n", time.Since(start).Round(time.Millisecond))

	tree, err := spec.Parse([]spec.File{
		{Name: "resources.yaml", Data: []byte(fmt.Sprintf("resources:\n"+
			"  - {name: bench, host: %[1]s, port: %[2]d, sslmode: disable, admin: {user: %[3]s, password_env: BENCH_PASSWORD}}\n"+
			"  - {name: empty, host: %[1]s, port: %[2]d, sslmode: disable, admin: {user: %[3]s, password_env: BENCH_PASSWORD}}\n",
			c.Host, c.Port, c.User))},
		{Name: "roles.yaml", Data: []byte(rolesYAML(w))},
	}, spec.Options{})
	if err != nil {
		return fmt.Errorf("role files: %w", err)
	}
	var counter counter
	dialer := cluster.Dialer{Getenv: func(k string) string {
		if k == "BENCH_PASSWORD" {
			return c.Password
		}
		return ""
	}}
	connect := func(ctx context.Context, res spec.Resource, db string) (*pgx.Conn, error) {
		cfg, err := dialer.Config(res, db)
		if err != nil {
			return nil, err
		}
		cfg.Tracer = &counter
		return pgx.ConnectConfig(ctx, cfg)
	}
	planDoc := func(resource string) (*planner.Document, error) {
		return cluster.Plan(ctx, tree, cluster.Options{
			Resources: []string{resource},
			Inspect: func(ctx context.Context, res spec.Resource, roles []string) (*catalog.Snapshot, error) {
				return catalog.Inspect(ctx, func(ctx context.Context, db string) (*pgx.Conn, error) {
					return connect(ctx, res, db)
				}, res.Database, catalog.Options{Roles: roles})
			},
			SID: uuid.NewString(),
		})
	}

	counter.reset()
	start = time.Now()
	doc, err := planDoc("bench")
	if err != nil {
		return err
	}
	if e := doc.Resources[0].Error; e != "" {
		return fmt.Errorf("plan: %s", e)
	}
	measure(out, "plan", time.Since(start), doc.Summary().Statements, &counter)

	dir, err := os.MkdirTemp("", "benchapply")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(dir, "rolecd.db"))
	if err != nil {
		return err
	}
	defer st.Close()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	cipher, err := credentials.NewCipher(key)
	if err != nil {
		return err
	}
	counter.reset()
	start = time.Now()
	engine := &applier.Engine{Store: st, Secrets: credentials.NewKeeper(cipher), Connect: connect, Log: zerolog.Nop()}
	rep, err := engine.Apply(ctx, tree, doc, uuid.NewString(), "bench")
	if err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	applyTook := time.Since(start)
	if s := rep.Status(); s != store.StatusApplied {
		return fmt.Errorf("apply: %s: %s", s, firstProblem(rep))
	}
	measure(out, "apply", applyTook, executed(rep), &counter)

	counter.reset()
	start = time.Now()
	again, err := planDoc("bench")
	if err != nil {
		return err
	}
	n := again.Summary()
	measure(out, "re-plan", time.Since(start), n.Statements, &counter)
	if n.Changes != 0 || n.Statements != 0 || n.FailedResources != 0 {
		return fmt.Errorf("re-plan after apply is not empty: %d role(s) with %d statement(s)", n.Changes, n.Statements)
	}
	fmt.Fprintln(out, "re-plan: empty")

	// A resource declaring no role, on the cluster that now holds the R
	// roles of the other: its inspection must not pay for them.
	counter.reset()
	start = time.Now()
	none, err := planDoc("empty")
	if err != nil {
		return err
	}
	if e := none.Resources[0].Error; e != "" {
		return fmt.Errorf("plan of the resource declaring no role: %s", e)
	}
	measure(out, "plan-0", time.Since(start), none.Summary().Statements, &counter)

	if *floor {
		took, stmts, err := physicalFloor(ctx, c, w)
		if err != nil {
			return fmt.Errorf("physical floor: %w", err)
		}
		fmt.Fprintf(out, "%-8s %9s  %6d statements (one per privilege set and object set, all roles named)\n", "floor", took.Round(time.Millisecond), stmts)
		fmt.Fprintf(out, "apply/floor: %.1fx\n", float64(applyTook)/float64(max(took, 1)))
	}
	return nil
}

func measure(out io.Writer, what string, took time.Duration, statements int, c *counter) {
	fmt.Fprintf(out, "%-8s %9s  %6d statements  %4d catalog queries  %5d transactions  %4d other queries  peak RSS %s\n",
		what, took.Round(time.Millisecond), statements, c.catalog.Load(), c.tx.Load(), c.other.Load(), peakRSS())
}

func executed(rep *report.Report) int {
	seen := map[string]bool{}
	n := 0
	for _, rr := range rep.Resources {
		for _, r := range rr.Roles {
			for _, s := range r.Statements {
				if s.Outcome != "ok" {
					continue
				}
				// A shared statement appears in each role it served.
				k := fmt.Sprint(s.Seq)
				if !seen[k] {
					seen[k] = true
					n++
				}
			}
		}
	}
	return n
}

func firstProblem(rep *report.Report) string {
	for _, rr := range rep.Resources {
		if rr.Error != "" {
			return rr.Error
		}
		for _, r := range rr.Roles {
			if r.Status != report.RoleApplied {
				return r.RoleName + ": " + r.Status + ": " + r.Reason
			}
		}
	}
	return ""
}

// rolesYAML declares the roles: even ones read, odd ones write, every
// database of the workload in scope.
func rolesYAML(w workload) string {
	var scopes []string
	for d := range w.dbs {
		scopes = append(scopes, fmt.Sprintf("bench_%d", d))
	}
	var b strings.Builder
	b.WriteString("roles:\n")
	for i := range w.roles {
		privs := "[SELECT]"
		if i%2 == 1 {
			privs = "[SELECT, INSERT, UPDATE, DELETE]"
		}
		fmt.Fprintf(&b, "  - {resource: bench, role: r%03d, scopes: [%s], privileges: %s}\n", i, strings.Join(scopes, ", "), privs)
	}
	return b.String()
}

// build creates the databases prefix_0.. with their schemas and tables.
func build(ctx context.Context, c *pgtest.Cluster, prefix string, w workload) error {
	admin, err := pgx.Connect(ctx, c.ConnString("postgres"))
	if err != nil {
		return err
	}
	defer admin.Close(ctx)
	for d := range w.dbs {
		db := fmt.Sprintf("%s_%d", prefix, d)
		if _, err := admin.Exec(ctx, "CREATE DATABASE "+db); err != nil {
			return err
		}
		conn, err := pgx.Connect(ctx, c.ConnString(db))
		if err != nil {
			return err
		}
		for s := range w.schemas {
			var b strings.Builder
			fmt.Fprintf(&b, "CREATE SCHEMA s%d;", s)
			for t := range w.tables {
				fmt.Fprintf(&b, "CREATE TABLE s%d.t%d (id int);", s, t)
			}
			if _, err := conn.Exec(ctx, b.String()); err != nil {
				conn.Close(ctx)
				return err
			}
		}
		if _, err := conn.Exec(ctx, "VACUUM ANALYZE"); err != nil {
			conn.Close(ctx)
			return err
		}
		conn.Close(ctx)
	}
	return nil
}

// physicalFloor grants what the plan grants, on the floor_* copy, to R
// fresh roles, with one statement naming all roles of a privilege set per
// kind of object, each database in one transaction: the least work
// PostgreSQL can do for it.
func physicalFloor(ctx context.Context, c *pgtest.Cluster, w workload) (time.Duration, int, error) {
	admin, err := pgx.Connect(ctx, c.ConnString("postgres"))
	if err != nil {
		return 0, 0, err
	}
	defer admin.Close(ctx)
	var readers, writers []string
	for i := range w.roles {
		name := fmt.Sprintf("floor_%03d", i)
		if i%2 == 1 {
			writers = append(writers, name)
		} else {
			readers = append(readers, name)
		}
	}
	all := append(append([]string{}, readers...), writers...)
	var schemas []string
	for s := range w.schemas {
		schemas = append(schemas, fmt.Sprintf("s%d", s))
	}
	sch := strings.Join(schemas, ", ")
	start := time.Now()
	stmts := 0
	for _, r := range all {
		if _, err := admin.Exec(ctx, "CREATE ROLE "+r+" LOGIN"); err != nil {
			return 0, 0, err
		}
		stmts++
	}
	sets := []struct {
		roles []string
		privs string
	}{{readers, "SELECT"}, {writers, "SELECT, INSERT, UPDATE, DELETE"}}
	for d := range w.dbs {
		db := fmt.Sprintf("floor_%d", d)
		conn, err := pgx.Connect(ctx, c.ConnString(db))
		if err != nil {
			return 0, 0, err
		}
		batch := []string{
			"GRANT CONNECT ON DATABASE " + db + " TO " + strings.Join(all, ", "),
			"GRANT USAGE ON SCHEMA " + sch + " TO " + strings.Join(all, ", "),
		}
		for _, set := range sets {
			if len(set.roles) == 0 {
				continue
			}
			to := strings.Join(set.roles, ", ")
			batch = append(batch,
				"GRANT "+set.privs+" ON ALL TABLES IN SCHEMA "+sch+" TO "+to,
				"ALTER DEFAULT PRIVILEGES IN SCHEMA "+sch+" GRANT "+set.privs+" ON TABLES TO "+to)
		}
		tx, err := conn.Begin(ctx)
		if err != nil {
			conn.Close(ctx)
			return 0, 0, err
		}
		for _, s := range batch {
			if _, err := tx.Exec(ctx, s); err != nil {
				conn.Close(ctx)
				return 0, 0, fmt.Errorf("%s: %w", s, err)
			}
			stmts++
		}
		if err := tx.Commit(ctx); err != nil {
			conn.Close(ctx)
			return 0, 0, err
		}
		conn.Close(ctx)
	}
	return time.Since(start), stmts, nil
}

// counter counts what rolecd sends: catalog queries (the embedded catalog
// SQL, which starts with a comment), transactions (BEGIN) and the rest.
type counter struct {
	catalog, tx, other atomic.Int64
}

func (c *counter) reset() { c.catalog.Store(0); c.tx.Store(0); c.other.Store(0) }

// TraceQueryStart classifies one query.
func (c *counter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	sql := strings.TrimSpace(d.SQL)
	switch {
	case strings.HasPrefix(sql, "--"):
		c.catalog.Add(1)
	case strings.EqualFold(sql, "begin"):
		c.tx.Add(1)
	default:
		c.other.Add(1)
	}
	return ctx
}

// TraceQueryEnd is required by pgx.QueryTracer.
func (c *counter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// peakRSS is this process's VmHWM from /proc (Linux), or "?".
func peakRSS() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "?"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}
