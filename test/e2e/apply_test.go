package e2e

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/rolecd/rolecd/adminconn"
	"github.com/rolecd/rolecd/applier"
	"github.com/rolecd/rolecd/credentials"
	"github.com/rolecd/rolecd/planner"
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

type testSecrets struct{ cipher *credentials.Cipher }

func (s testSecrets) NewPassword(role string) (string, []byte, error) {
	pw, err := credentials.GeneratePassword()
	if err != nil {
		return "", nil, err
	}
	v, err := credentials.SCRAMVerifier(pw)
	if err != nil {
		return "", nil, err
	}
	sealed, err := s.cipher.Seal([]byte(pw), "role:"+role)
	return v, sealed, err
}

func (h *applyHarness) options(tree *spec.Tree) applier.Options {
	dialer := adminconn.Dialer{Getenv: env(h.clusters), Policy: credentialPolicy}
	resources := map[string]spec.Resource{}
	for _, r := range tree.Resources {
		resources[r.Name] = r
	}
	return applier.Options{
		Store: h.store, Secrets: testSecrets{h.cipher}, Resources: resources, SID: uuid.NewString(), Actor: "test",
		Connect: func(ctx context.Context, res spec.Resource, db string) (*pgx.Conn, error) {
			return dialer.Connect(ctx, res, db)
		},
	}
}

func (h *applyHarness) apply(t *testing.T, doc *planner.Document, tree *spec.Tree) *applier.Report {
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
			pw, err := h.cipher.Open(c.Ciphertext, "role:"+role)
			if err != nil {
				t.Fatal(err)
			}
			return string(pw), c.Version
		}
	}
	t.Fatalf("no active credential for %s: %+v", role, versions)
	return "", 0
}

func roleStatus(rep *applier.Report, label string) applier.RoleReport {
	for _, rr := range rep.Resources {
		for _, r := range rr.Roles {
			if r.Label == label {
				return r
			}
		}
	}
	return applier.RoleReport{}
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
	if rr.Status != applier.RoleRefused || !strings.Contains(rr.Reason, "live state drifted since plan "+reviewed.SID) {
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
	if rr := roleStatus(rep, "ro"); rr.Status != applier.RoleApplied {
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
	if rr := roleStatus(rep, "ro"); rr.Status != applier.RoleRefused || !strings.Contains(rr.Reason, "edited") {
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
	reps := make([]*applier.Report, 2)
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
			if rr.Status == applier.RoleFailed {
				t.Errorf("role %s failed: %s", label, rr.Reason)
			}
		}
		applied := strings.Count(strings.Join(outcomes, " "), applier.RoleApplied)
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

// A connection killed in the middle of an apply leaves nothing half-applied
// inside a database; the session says what happened; a second apply
// converges.
func TestKilledConnectionMidApply(t *testing.T) {
	c, clusters := setup(t, pgtest.Config{}, "a", "b")
	c.Exec(t, "a", `CREATE TABLE t (id int)`)
	c.Exec(t, "b", `CREATE TABLE t (id int); CREATE ROLE blocker`)
	h := newApplyHarness(t, clusters)
	tree := mustTree(t, c, "roles:\n  - {resource: app, role: ro, scopes: [a, b], privileges: [SELECT]}\n")
	doc := plan(t, tree, clusters)

	// Hold an uncommitted update of b's "public" schema row: the apply's
	// GRANT USAGE ON SCHEMA public in b waits for it.
	ctx := context.Background()
	blocker := c.Connect(t, "b")
	btx, err := blocker.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := btx.Exec(ctx, `GRANT USAGE ON SCHEMA public TO blocker`); err != nil {
		t.Fatal(err)
	}
	done := make(chan *applier.Report, 1)
	go func() {
		rep, err := applier.Apply(ctx, doc, h.options(tree))
		if err != nil {
			t.Errorf("apply: %v", err)
		}
		done <- rep
	}()
	admin := c.Connect(t, "postgres")
	var pid int
	deadline := time.Now().Add(30 * time.Second)
	for pid == 0 {
		err := admin.QueryRow(ctx, `SELECT pid FROM pg_stat_activity WHERE application_name = 'rolecd' AND datname = 'b' AND wait_event_type = 'Lock'`).Scan(&pid)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("the apply never waited on the held lock in database b")
		}
	}
	if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend($1)`, pid); err != nil {
		t.Fatal(err)
	}
	rep := <-done
	if err := btx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	rr := roleStatus(rep, "ro")
	if rr.Status != applier.RoleFailed || !strings.Contains(rr.Reason, `database "b"`) {
		t.Fatalf("role = %+v, want failed in database b", rr)
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
	second := plan(t, tree, clusters)
	sql := allSQL(second)
	if strings.Contains(sql, "[postgres]") || strings.Contains(sql, "[a]") || !strings.Contains(sql, "[b]") {
		t.Fatalf("the second plan should only finish database b:\n%s", sql)
	}
	if rep := h.apply(t, second, tree); rep.Status() != store.StatusApplied {
		t.Fatalf("second apply: %+v", rep)
	}
	requireEmpty(t, plan(t, tree, clusters))
}
