package e2e

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

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

// applyHarness applies plan documents as `rolecd apply` does: a real
// SQLite store, a real cipher, real admin connections.
type applyHarness struct {
	store    store.Store
	cipher   *credentials.Cipher
	clusters map[string]*pgtest.Cluster
}

func newApplyHarness(t *testing.T, clusters map[string]*pgtest.Cluster) *applyHarness {
	t.Helper()
	st, err := store.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "rolecd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	cipher, err := credentials.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	return &applyHarness{store: st, cipher: cipher, clusters: clusters}
}

func (h *applyHarness) options(tree *spec.Tree) applier.Options {
	dialer := cluster.Dialer{Getenv: env(h.clusters), Policy: credentialPolicy}
	return applier.Options{
		Store: h.store, Secrets: credentials.NewKeeper(h.cipher), Resources: tree.ResourcesByName(), SID: uuid.NewString(), Actor: "test",
		Connect: dialer.Connect,
	}
}

func (h *applyHarness) apply(t *testing.T, doc *planner.Document, tree *spec.Tree) *report.Report {
	t.Helper()
	rep, err := applier.Apply(context.Background(), doc, h.options(tree))
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	return rep
}

// password returns the stored active password of a role.
func (h *applyHarness) password(t *testing.T, role string) (string, int) {
	t.Helper()
	versions, err := h.store.Credentials(context.Background(), role)
	if err != nil {
		t.Fatalf("credentials of %s: %v", role, err)
	}
	for _, c := range versions {
		if c.State == store.CredentialActive {
			pw, err := credentials.NewKeeper(h.cipher).OpenRole(role, c.Ciphertext)
			if err != nil {
				t.Fatal(err)
			}
			return pw, c.Version
		}
	}
	t.Fatalf("no active credential for %s: %+v", role, versions)
	return "", 0
}

func roleStatus(rep *report.Report, label string) report.Role {
	for _, rr := range rep.Resources {
		for _, r := range rr.Roles {
			if r.Label == label {
				return r
			}
		}
	}
	return report.Role{}
}

func setup(t *testing.T, cfg pgtest.Config, dbs ...string) (*pgtest.Cluster, map[string]*pgtest.Cluster) {
	c := pgtest.Start(t, cfg)
	for _, db := range dbs {
		c.CreateDatabase(t, db)
	}
	return c, map[string]*pgtest.Cluster{"app": c}
}

func mustTree(t *testing.T, c *pgtest.Cluster, roles string) *spec.Tree {
	t.Helper()
	tree, err := parseTree(t, map[string]string{"resources.yaml": resourceYAML("app", c), "roles.yaml": roles})
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

// A change between plan and apply that changes the SQL is refused and
// changes nothing; one that leaves the SQL identical applies.
func TestApplyRefusesDrift(t *testing.T) {
	c, clusters := setup(t, pgtest.Config{}, "app")
	c.Exec(t, "app", `CREATE SCHEMA s; CREATE TABLE s.t (id int); CREATE SCHEMA s2; CREATE TABLE s2.a (id int)`)
	h := newApplyHarness(t, clusters)
	tree := mustTree(t, c, "roles:\n  - {resource: app, role: ro, scopes: [app.s], privileges: [SELECT]}\n")
	h.apply(t, plan(t, tree, clusters), tree)

	wider := mustTree(t, c, "roles:\n  - {resource: app, role: ro, scopes: [app.s, app.s2], privileges: [SELECT]}\n")
	reviewed := plan(t, wider, clusters)

	// Out of band: a grant the reviewed plan does not revoke.
	c.Exec(t, "app", expand(`GRANT UPDATE ON s.t TO {app:ro}`))
	rep := h.apply(t, reviewed, wider)
	rr := roleStatus(rep, "ro")
	if rr.Status != report.RoleRefused || !strings.Contains(rr.Reason, "live state drifted since plan "+reviewed.SID) {
		t.Fatalf("role = %+v, want refused for drift", rr)
	}
	if rep.Status() != store.StatusRefused {
		t.Errorf("report status %s", rep.Status())
	}
	if queryBool(t, c, "app", expand(`SELECT has_schema_privilege('{app:ro}', 's2', 'USAGE')`)) {
		t.Error("refused apply granted USAGE on s2")
	}
	if !queryBool(t, c, "app", directTableCheck("s.t", expand("{app:ro}"), "UPDATE")) {
		t.Error("refused apply touched the out-of-band grant")
	}
	sess, err := h.store.GetSession(context.Background(), rep.SID)
	if err != nil || sess.Status != store.StatusRefused || sess.PlanSID != reviewed.SID {
		t.Errorf("session = %+v, %v", sess, err)
	}

	// Undo the drift; a new table in a scope schema leaves the SQL
	// identical (ON ALL TABLES): the reviewed plan applies.
	c.Exec(t, "app", expand(`REVOKE UPDATE ON s.t FROM {app:ro}; CREATE TABLE s2.b (id int)`))
	rep = h.apply(t, reviewed, wider)
	if rr := roleStatus(rep, "ro"); rr.Status != report.RoleApplied {
		t.Fatalf("role = %+v, want applied", rr)
	}
	if !queryBool(t, c, "app", directTableCheck("s2.b", expand("{app:ro}"), "SELECT")) {
		t.Error("the table created after the plan was not granted")
	}
	requireEmpty(t, plan(t, wider, clusters))
}

// A plan document edited after planning is refused.
func TestApplyRefusesEditedPlan(t *testing.T) {
	c, clusters := setup(t, pgtest.Config{}, "app")
	h := newApplyHarness(t, clusters)
	tree := mustTree(t, c, "roles:\n  - {resource: app, role: ro, scopes: [app], privileges: [SELECT]}\n")
	doc := plan(t, tree, clusters)
	r := &doc.Resources[0].Roles[0]
	r.SQLPlan["app"] = append(r.SQLPlan["app"], `GRANT CREATE ON SCHEMA "public" TO "`+r.Config.RoleName+`"`)
	rep := h.apply(t, doc, tree)
	if rr := roleStatus(rep, "ro"); rr.Status != report.RoleRefused || !strings.Contains(rr.Reason, "edited") {
		t.Fatalf("role = %+v", rr)
	}
	if queryBool(t, c, "postgres", expand(`SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{app:ro}')`)) {
		t.Error("the role was created from an edited plan")
	}
}

// Two applies of the same plan at once: one applies, the other finds
// nothing to do; no PostgreSQL error.
func TestConcurrentApplies(t *testing.T) {
	c, clusters := setup(t, pgtest.Config{}, "app", "other")
	c.Exec(t, "app", `CREATE SCHEMA s; CREATE TABLE s.t (id int)`)
	h := newApplyHarness(t, clusters)
	tree := mustTree(t, c, "roles:\n  - {resource: app, role: ro, scopes: [app, other], privileges: [SELECT]}\n  - {resource: app, role: rw, scopes: [app.s], privileges: [SELECT, INSERT]}\n")
	doc := plan(t, tree, clusters)
	var wg sync.WaitGroup
	reps := make([]*report.Report, 2)
	errs := make([]error, 2)
	start := make(chan struct{})
	for i := range reps {
		wg.Go(func() {
			<-start
			reps[i], errs[i] = applier.Apply(context.Background(), doc, h.options(tree))
		})
	}
	close(start)
	wg.Wait()
	for _, label := range []string{"ro", "rw"} {
		var outcomes []string
		for i, rep := range reps {
			if errs[i] != nil {
				t.Fatalf("apply %d: %v", i, errs[i])
			}
			rr := roleStatus(rep, label)
			outcomes = append(outcomes, rr.Status)
			if rr.Status == report.RoleFailed {
				t.Errorf("role %s failed: %s", label, rr.Reason)
			}
		}
		applied := strings.Count(strings.Join(outcomes, " "), report.RoleApplied)
		if applied != 1 {
			t.Errorf("role %s: outcomes %v, want exactly one applied", label, outcomes)
		}
	}
	requireEmpty(t, plan(t, tree, clusters))
}

// Generated passwords never reach the server log; the stored one logs in;
// rotation replaces it.
func TestPasswordsNeverInServerLog(t *testing.T) {
	c, clusters := setup(t, pgtest.Config{Settings: map[string]string{"log_statement": "all", "log_min_duration_statement": "0"}}, "app")
	h := newApplyHarness(t, clusters)
	tree := mustTree(t, c, "roles:\n  - {resource: app, role: ro, scopes: [app], privileges: [SELECT]}\n  - {resource: app, type: external, role: bi, source_role: pg_monitor}\n")
	rep := h.apply(t, plan(t, tree, clusters), tree)
	if rep.Status() != store.StatusApplied {
		t.Fatalf("apply: %+v", rep)
	}
	ro := expand("{app:ro}")
	pw, v1 := h.password(t, ro)
	bipw, _ := h.password(t, expand("{app:bi}"))
	login := func(user, password string) error {
		conn, err := pgx.Connect(context.Background(), fmt.Sprintf("host=%s port=%d user=%s password=%s dbname=app sslmode=disable", c.Host, c.Port, user, password))
		if err == nil {
			conn.Close(context.Background())
		}
		return err
	}
	if err := login(ro, pw); err != nil {
		t.Fatalf("the stored password does not log in: %v", err)
	}

	// Rotation together with a change in another database: the password is
	// set once, in the first transaction, and the rest still applies.
	c.Exec(t, "app", `CREATE TABLE t (id int)`)
	rotate := mustTree(t, c, "roles:\n  - {resource: app, role: ro, scopes: [app], privileges: [SELECT, INSERT], rotate_password: true}\n  - {resource: app, type: external, role: bi, source_role: pg_monitor}\n")
	doc := plan(t, rotate, clusters)
	if !strings.Contains(allSQL(doc), "WITH PASSWORD '<redacted>'") {
		t.Fatalf("rotation not planned:\n%s", allSQL(doc))
	}
	if rep := h.apply(t, doc, rotate); rep.Status() != store.StatusApplied {
		t.Fatalf("rotation with grants: %+v", rep)
	}
	pw2, v2 := h.password(t, ro)
	if v2 <= v1 || pw2 == pw {
		t.Fatalf("rotation kept version %d", v1)
	}
	if err := login(ro, pw2); err != nil {
		t.Errorf("the rotated password does not log in: %v", err)
	}
	if login(ro, pw) == nil {
		t.Error("the old password still logs in after rotation")
	}

	log, err := c.ServerLog()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log, "statement: ") && !strings.Contains(log, "execute ") {
		t.Fatalf("log_statement=all logged nothing; the check below would prove nothing:\n%s", log)
	}
	for _, secret := range []string{pw, pw2, bipw, "SCRAM-SHA-256$"} {
		if strings.Contains(log, secret) {
			t.Errorf("the server log contains %q", secret[:min(len(secret), 16)])
		}
	}
}

// killedApply starts an apply of a role scoped to databases a and b while
// an uncommitted transaction holds b's "public" schema row, so the apply's
// GRANT USAGE in b waits on it. It returns the running apply's report
// channel, the blocker's transaction and a function that waits for the
// apply's backend blocked in b (one not seen before) and, with terminate,
// terminates it.
func killedApply(t *testing.T) (c *pgtest.Cluster, h *applyHarness, tree *spec.Tree, done chan *report.Report, btx pgx.Tx, kill func(terminate bool)) {
	c, clusters := setup(t, pgtest.Config{}, "a", "b")
	c.Exec(t, "a", `CREATE TABLE t (id int)`)
	c.Exec(t, "b", `CREATE TABLE t (id int); CREATE ROLE blocker`)
	h = newApplyHarness(t, clusters)
	tree = mustTree(t, c, "roles:\n  - {resource: app, role: ro, scopes: [a, b], privileges: [SELECT]}\n")
	doc := plan(t, tree, clusters)

	ctx := context.Background()
	blocker := c.Connect(t, "b")
	btx, err := blocker.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := btx.Exec(ctx, `GRANT USAGE ON SCHEMA public TO blocker`); err != nil {
		t.Fatal(err)
	}
	done = make(chan *report.Report, 1)
	go func() {
		rep, err := applier.Apply(ctx, doc, h.options(tree))
		if err != nil {
			t.Errorf("apply: %v", err)
		}
		done <- rep
	}()
	admin := c.Connect(t, "postgres")
	killed := map[int]bool{}
	kill = func(terminate bool) {
		t.Helper()
		var pid int
		deadline := time.Now().Add(30 * time.Second)
		for pid == 0 || killed[pid] {
			pid = 0
			err := admin.QueryRow(ctx, `SELECT pid FROM pg_stat_activity WHERE application_name = 'rolecd' AND datname = 'b' AND wait_event_type = 'Lock'`).Scan(&pid)
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				t.Fatal(err)
			}
			if time.Now().After(deadline) {
				t.Fatal("the apply never waited on the held lock in database b")
			}
		}
		killed[pid] = true
		if !terminate {
			return
		}
		if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend($1)`, pid); err != nil {
			t.Fatal(err)
		}
	}
	return c, h, tree, done, btx, kill
}

// A connection killed in the middle of an apply is reopened, the database
// re-inspected and its transaction retried once: the apply completes.
func TestKilledConnectionIsRetried(t *testing.T) {
	_, h, tree, done, btx, kill := killedApply(t)
	kill(true)
	// The retry waits on the same lock again: let it through.
	kill(false)
	if err := btx.Rollback(context.Background()); err != nil {
		t.Fatal(err)
	}
	rep := <-done
	rr := roleStatus(rep, "ro")
	if rr.Status != report.RoleApplied || rep.Status() != store.StatusApplied {
		t.Fatalf("role = %+v, want applied after the retry", rr)
	}
	outcomes := map[string]string{}
	for _, s := range rr.Statements {
		outcomes[s.Database] += s.Outcome + " "
	}
	if !strings.Contains(outcomes["b"], "failed") || !strings.Contains(outcomes["b"], "ok") {
		t.Errorf("statement outcomes in b = %q, want the killed attempt and the retry", outcomes["b"])
	}
	requireEmpty(t, plan(t, tree, h.clusters))
}

// A database whose connection is killed again on the retry stops the
// resource with one reason; nothing is half-applied inside a database; the
// session says what happened; a second apply converges.
func TestKilledConnectionTwiceStops(t *testing.T) {
	c, h, tree, done, btx, kill := killedApply(t)
	kill(true)
	kill(true)
	rep := <-done
	ctx := context.Background()
	if err := btx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	rr := roleStatus(rep, "ro")
	if rr.Status != report.RoleFailed || !strings.Contains(rr.Reason, `database "b" unreachable`) {
		t.Fatalf("role = %+v, want failed: database b unreachable", rr)
	}
	if e := rep.Resources[0].Error; !strings.Contains(e, "after one retry") {
		t.Errorf("resource error = %q, want one clear reason", e)
	}
	outcomes := map[string]string{}
	for _, s := range rr.Statements {
		outcomes[s.Database] += s.Outcome + " "
	}
	if strings.Contains(outcomes["b"], "ok") || !strings.Contains(outcomes["a"], "ok") || !strings.Contains(outcomes["postgres"], "ok") {
		t.Errorf("statement outcomes per database = %v", outcomes)
	}
	sess, err := h.store.GetSession(ctx, rep.SID)
	if err != nil || sess.Status != store.StatusFailed || len(sess.Statements) != len(rr.Statements) {
		t.Fatalf("session = %+v, %v", sess, err)
	}
	// Nothing half-applied in b: no CONNECT, no USAGE, no SELECT.
	ro := expand("{app:ro}")
	if queryBool(t, c, "b", fmt.Sprintf(`SELECT has_database_privilege('%s', 'b', 'CONNECT') AND EXISTS (SELECT 1 FROM pg_database d, aclexplode(d.datacl) x WHERE d.datname = 'b' AND x.grantee = '%s'::regrole)`, ro, ro)) {
		t.Error("CONNECT on b was granted by the killed transaction")
	}
	if !queryBool(t, c, "b", noDirectTable("t", ro, "SELECT")) {
		t.Error("SELECT on b.t was granted by the killed transaction")
	}
	// The credential of the role created before the failure is stored.
	if pw, _ := h.password(t, ro); pw == "" {
		t.Error("no stored password for the role created by the failed apply")
	}
	second := plan(t, tree, h.clusters)
	sql := allSQL(second)
	if strings.Contains(sql, "[postgres]") || strings.Contains(sql, "[a]") || !strings.Contains(sql, "[b]") {
		t.Fatalf("the second plan should only finish database b:\n%s", sql)
	}
	if rep := h.apply(t, second, tree); rep.Status() != store.StatusApplied {
		t.Fatalf("second apply: %+v", rep)
	}
	requireEmpty(t, plan(t, tree, h.clusters))
}

// catalogCounter counts the catalog queries (the embedded inspection SQL,
// which starts with a comment) sent to each database.
type catalogCounter struct {
	mu      sync.Mutex
	queries map[string]int
	begins  map[string]int // transactions per database
}

func (cc *catalogCounter) TraceQueryStart(ctx context.Context, conn *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	switch sql := strings.TrimSpace(d.SQL); {
	case strings.HasPrefix(sql, "--"):
		cc.queries[conn.Config().Database]++
	case strings.EqualFold(sql, "begin") && cc.begins != nil:
		cc.begins[conn.Config().Database]++
	}
	return ctx
}

func (cc *catalogCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// An apply inspects the cluster and each database once, whatever the
// number of roles: the catalog queries per apply do not grow with them.
func TestApplyQueryCountIsFixed(t *testing.T) {
	c, clusters := setup(t, pgtest.Config{}, "a", "b")
	c.Exec(t, "a", `CREATE SCHEMA s; CREATE TABLE s.t (id int); CREATE TABLE public.u (id int)`)
	c.Exec(t, "b", `CREATE TABLE t (id int)`)
	h := newApplyHarness(t, clusters)
	count := func(roles int) map[string]int {
		t.Helper()
		var b strings.Builder
		b.WriteString("roles:\n")
		for i := range roles {
			privs := "[SELECT]"
			if i%2 == 1 {
				privs = "[SELECT, INSERT]"
			}
			fmt.Fprintf(&b, "  - {resource: app, role: r%d, scopes: [a, b], privileges: %s}\n", i, privs)
		}
		tree := mustTree(t, c, b.String())
		doc := plan(t, tree, clusters)
		cc := &catalogCounter{queries: map[string]int{}}
		opts := h.options(tree)
		dialer := cluster.Dialer{Getenv: env(clusters)}
		opts.Connect = func(ctx context.Context, res spec.Resource, db string) (*pgx.Conn, error) {
			cfg, err := dialer.Config(res, db)
			if err != nil {
				return nil, err
			}
			cfg.Tracer = cc
			return pgx.ConnectConfig(ctx, cfg)
		}
		var last applier.Progress
		opts.Progress = func(p applier.Progress) { last = p }
		rep, err := applier.Apply(context.Background(), doc, opts)
		if err != nil || rep.Status() != store.StatusApplied {
			t.Fatalf("apply of %d roles: %v %+v", roles, err, rep)
		}
		if last.Step != last.Steps || last.RolesDone != last.Roles || last.Roles == 0 {
			t.Errorf("last progress = %+v, want every transaction and role done", last)
		}
		return cc.queries
	}
	per := catalog.QueriesPerCluster + catalog.QueriesPerDatabase
	want := map[string]int{"postgres": per, "a": per, "b": per}
	// Each apply adds roles to the ones already applied (no removal).
	for _, roles := range []int{1, 2, 8} {
		if got := count(roles); !reflect.DeepEqual(got, want) {
			t.Errorf("%d roles: catalog queries per database %v, want %v", roles, got, want)
		}
	}
}

// Roles needing the same privileges share statements, recorded once with
// the roles they served; a role that drifted is refused while the others
// apply; a role option equal to the password placeholder is applied as
// the literal it is, never replaced by a verifier.
func TestApplySharedStatementsAndDrift(t *testing.T) {
	c, clusters := setup(t, pgtest.Config{}, "app")
	c.Exec(t, "app", `CREATE SCHEMA s; CREATE TABLE s.t (id int); CREATE TABLE s.u (id int)`)
	h := newApplyHarness(t, clusters)
	roles := "roles:\n" +
		"  - {resource: app, role: a, scopes: [app.s], privileges: [SELECT]}\n" +
		"  - {resource: app, role: b, scopes: [app.s], privileges: [SELECT]}\n" +
		"  - {resource: app, role: c, scopes: [app.s], privileges: [SELECT], options: {application_name: \"<redacted>\"}}\n"
	tree := mustTree(t, c, roles)
	rep := h.apply(t, plan(t, tree, clusters), tree)
	if rep.Status() != store.StatusApplied {
		t.Fatalf("apply: %+v", rep)
	}
	a, b, cc := expand("{app:a}"), expand("{app:b}"), expand("{app:c}")
	sess, err := h.store.GetSession(context.Background(), rep.SID)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`GRANT SELECT ON ALL TABLES IN SCHEMA "s" TO "%s", "%s", "%s"`, a, b, cc)
	found := 0
	for _, st := range sess.Statements {
		if st.SQL == want {
			found++
			if st.Role != strings.Join([]string{a, b, cc}, ", ") || !slices.Equal(st.Roles, []string{a, b, cc}) || st.Outcome != "ok" {
				t.Errorf("shared statement recorded as %+v", st)
			}
		}
	}
	if found != 1 {
		t.Fatalf("the shared GRANT was recorded %d times, want once:\n%v", found, sess.Statements)
	}
	seqOf := map[int]string{}
	for _, st := range sess.Statements {
		seqOf[st.Seq] = st.SQL
	}
	for label, name := range map[string]string{"a": a, "b": b, "c": cc} {
		rr := roleStatus(rep, label)
		own := fmt.Sprintf(`GRANT SELECT ON ALL TABLES IN SCHEMA "s" TO "%s"`, name)
		if !slices.ContainsFunc(rr.Statements, func(s report.Statement) bool {
			return s.SQL == own && s.Roles == 3 && seqOf[s.Seq] == want
		}) {
			t.Errorf("role %s's report does not list its own statement and the shared one it ran in: %+v", label, rr.Statements)
		}
	}
	if !queryBool(t, c, "postgres", fmt.Sprintf(`SELECT rolconfig = ARRAY['application_name=<redacted>'] FROM pg_roles WHERE rolname = '%s'`, cc)) {
		t.Error("the option equal to the placeholder was not applied literally")
	}
	if !queryBool(t, c, "postgres", fmt.Sprintf(`SELECT rolpassword LIKE 'SCRAM-SHA-256$%%' FROM pg_authid WHERE rolname = '%s'`, cc)) {
		t.Error("the role's password is not a SCRAM verifier")
	}
	requireEmpty(t, plan(t, tree, clusters))

	// A new table and a wider privilege for all; then b drifts.
	wider := mustTree(t, c, strings.ReplaceAll(roles, "privileges: [SELECT]", "privileges: [SELECT, INSERT]"))
	reviewed := plan(t, wider, clusters)
	c.Exec(t, "app", fmt.Sprintf(`GRANT UPDATE ON s.t TO "%s"`, b))
	rep = h.apply(t, reviewed, wider)
	if rr := roleStatus(rep, "b"); rr.Status != report.RoleRefused || !strings.Contains(rr.Reason, "drifted") {
		t.Errorf("b = %+v, want refused", rr)
	}
	for _, label := range []string{"a", "c"} {
		if rr := roleStatus(rep, label); rr.Status != report.RoleApplied {
			t.Errorf("%s = %+v, want applied", label, rr)
		}
	}
	if queryBool(t, c, "app", fmt.Sprintf(`SELECT has_table_privilege('%s', 's.u', 'INSERT')`, b)) {
		t.Error("the refused role was granted INSERT")
	}
	if !queryBool(t, c, "app", fmt.Sprintf(`SELECT has_table_privilege('%s', 's.u', 'INSERT') AND has_table_privilege('%s', 's.u', 'INSERT')`, a, cc)) {
		t.Error("the roles that did not drift were not granted INSERT")
	}
}

// Roles needing many different privilege sets on the same tables are
// applied in several transactions, so that no transaction rewrites a
// table's catalog row more than a handful of times; the result is exact.
func TestApplyBatchesDistinctPrivilegeSets(t *testing.T) {
	c, clusters := setup(t, pgtest.Config{}, "app")
	c.Exec(t, "app", `CREATE TABLE t1 (id int); CREATE TABLE t2 (id int)`)
	h := newApplyHarness(t, clusters)
	privs := []string{"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"}
	var b strings.Builder
	b.WriteString("roles:\n")
	for i := 1; i <= 24; i++ {
		var p []string
		for bit, name := range privs {
			if i&(1<<bit) != 0 {
				p = append(p, name)
			}
		}
		fmt.Fprintf(&b, "  - {resource: app, role: r%d, scopes: [app.public], privileges: [%s]}\n", i, strings.Join(p, ", "))
	}
	tree := mustTree(t, c, b.String())
	doc := plan(t, tree, clusters)
	cc := &catalogCounter{queries: map[string]int{}, begins: map[string]int{}}
	opts := h.options(tree)
	dialer := cluster.Dialer{Getenv: env(clusters)}
	opts.Connect = func(ctx context.Context, res spec.Resource, db string) (*pgx.Conn, error) {
		cfg, err := dialer.Config(res, db)
		if err != nil {
			return nil, err
		}
		cfg.Tracer = cc
		return pgx.ConnectConfig(ctx, cfg)
	}
	rep, err := applier.Apply(context.Background(), doc, opts)
	if err != nil || rep.Status() != store.StatusApplied {
		t.Fatalf("apply: %v %+v", err, rep)
	}
	if cc.begins["app"] < 2 || cc.queries["app"] != catalog.QueriesPerCluster+catalog.QueriesPerDatabase {
		t.Errorf("database app: %d transactions, %d catalog queries; want several transactions and one inspection", cc.begins["app"], cc.queries["app"])
	}
	requireEmpty(t, plan(t, tree, clusters))
}

// An apply cancelled (Ctrl-C, SIGTERM) while a database's transaction
// waits rolls that transaction back, runs nothing after it, and records
// the session interrupted with what ran.
func TestApplyInterrupted(t *testing.T) {
	c, clusters := setup(t, pgtest.Config{}, "a", "b")
	c.Exec(t, "a", `CREATE TABLE t (id int)`)
	c.Exec(t, "b", `CREATE TABLE t (id int); CREATE ROLE blocker`)
	h := newApplyHarness(t, clusters)
	tree := mustTree(t, c, "roles:\n  - {resource: app, role: ro, scopes: [a, b], privileges: [SELECT]}\n")
	doc := plan(t, tree, clusters)
	bg := context.Background()
	btx, err := c.Connect(t, "b").Begin(bg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := btx.Exec(bg, `GRANT USAGE ON SCHEMA public TO blocker`); err != nil {
		t.Fatal(err)
	}
	defer btx.Rollback(bg)
	ctx, cancel := context.WithCancel(bg)
	done := make(chan *report.Report, 1)
	go func() {
		rep, err := applier.Apply(ctx, doc, h.options(tree))
		if err != nil {
			t.Errorf("apply: %v", err)
		}
		done <- rep
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !queryBool(t, c, "postgres", `SELECT EXISTS (SELECT FROM pg_stat_activity WHERE application_name = 'rolecd' AND datname = 'b' AND wait_event_type = 'Lock')`) {
		if time.Now().After(deadline) {
			t.Fatal("the apply never waited in database b")
		}
	}
	cancel()
	rep := <-done
	if !rep.Interrupted || rep.Status() != store.StatusInterrupted {
		t.Fatalf("report = %+v, want interrupted", rep)
	}
	sess, err := h.store.GetSession(bg, rep.SID)
	if err != nil || sess.Status != store.StatusInterrupted {
		t.Fatalf("session = %+v, %v; want interrupted", sess, err)
	}
	ok := map[string]bool{}
	for _, st := range sess.Statements {
		if st.Outcome == "ok" {
			ok[st.Database] = true
		}
	}
	if !ok["postgres"] || !ok["a"] || ok["b"] {
		t.Errorf("databases with statements run: %v, want postgres and a, not b", ok)
	}
	ro := expand("{app:ro}")
	if queryBool(t, c, "b", fmt.Sprintf(`SELECT has_database_privilege('%s', 'b', 'CONNECT') AND EXISTS (SELECT 1 FROM pg_database d, aclexplode(d.datacl) x WHERE d.datname = 'b' AND x.grantee = '%s'::regrole)`, ro, ro)) {
		t.Error("the interrupted transaction in b committed")
	}
}
