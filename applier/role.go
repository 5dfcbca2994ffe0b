package applier

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rolecd/rolecd/applier/report"
	"github.com/rolecd/rolecd/planner"
	"github.com/rolecd/rolecd/planner/catalog"
	"github.com/rolecd/rolecd/planner/spec"
	"github.com/rolecd/rolecd/store"
)

// lockTimeout bounds how long one statement waits for a lock held by
// someone else (a long transaction on a table being granted).
const lockTimeout = "30s"

// cluster is the state of one resource's apply: its connections, the
// session-level lock, and what every role of the plan is doing.
type cluster struct {
	res      spec.Resource
	lock     *pgx.Conn // holds the advisory lock; never runs statements
	conns    map[string]*pgx.Conn
	opts     catalog.Options
	runs     []*run
	declared []spec.Role // the plan's declared roles, for every re-plan
	removed  []string    // the plan's removals, by name
}

// run is one role's progress through an apply.
type run struct {
	plan    planner.RolePlan
	spec    spec.Role // the declared role (zero for a removal)
	removal bool
	// drop is true for a removal that ends with DROP ROLE (run alone, in
	// a last transaction).
	drop bool
	// reset is true when the plan resets an existing role's password
	// without rotate_password: the re-plan must decide the same.
	reset bool
	// passwordSet is true once the maintenance database's transaction
	// that set the password committed.
	passwordSet bool
	report      report.Role
	// done is set when the role was refused or failed: nothing more of it
	// runs, here or in later databases.
	done bool
	// applied counts the transactions that ran its statements;
	// concurrent the ones whose re-plan found nothing left (another
	// apply did it).
	applied, concurrent int
	// ran lists the steps (step.key) whose transaction ran its
	// statements and committed.
	ran      map[string]bool
	verifier string
	version  int // pending credential version, 0 for none
}

func (r *run) name() string { return r.plan.Config.RoleName }

// complete reports whether every transaction of the role committed or
// found nothing left to do.
func (r *run) complete() bool {
	steps := len(r.plan.SQLPlan)
	if r.drop {
		steps++
	}
	return len(r.ran)+r.concurrent >= steps
}

// stop ends the role with a status and reason.
func (r *run) stop(status, reason string) {
	r.done = true
	r.report.Status, r.report.Reason = status, reason
}

// connLostError is a step that failed because its connection broke: the
// transaction is gone, and the step may be retried on a new connection.
type connLostError struct {
	db  string
	err error
}

func (e *connLostError) Error() string {
	return fmt.Sprintf("database %q: connection lost: %v", e.db, e.err)
}

func (e *connLostError) Unwrap() error { return e.err }

// conn returns the open connection to db, opening it when needed.
func (a *applier) conn(ctx context.Context, c *cluster, db string) (*pgx.Conn, error) {
	if conn, ok := c.conns[db]; ok && !conn.IsClosed() {
		return conn, nil
	}
	delete(c.conns, db)
	conn, err := a.opts.Connect(ctx, c.res, db)
	if err != nil {
		return nil, &connLostError{db: db, err: err}
	}
	c.conns[db] = conn
	return conn, nil
}

// started reports whether any role's transaction ran statements or found
// its work done, or any role was refused by a re-plan.
func (c *cluster) started() bool {
	for _, r := range c.runs {
		if r.applied > 0 || r.concurrent > 0 || len(r.report.Statements) > 0 || (r.done && r.report.Status == report.RoleRefused && r.plan.CurrentState.RequiresMigration) {
			return true
		}
	}
	return false
}

func (c *cluster) close(ctx context.Context) {
	for _, conn := range c.conns {
		conn.Close(context.WithoutCancel(ctx))
	}
}

// specRole rebuilds the declared role from the plan's config, so apply
// re-plans exactly what was reviewed.
func specRole(resource string, c planner.Config) (spec.Role, error) {
	r := spec.Role{Resource: resource, Type: spec.Type(c.Type), Label: c.Label, Name: c.RoleName,
		Privileges: c.Privileges, SourceRole: c.SourceRole, RotatePassword: c.RotatePassword,
		Functions: c.Functions, ConnectionLimit: c.ConnectionLimit, ValidUntil: c.ValidUntil, Options: c.Options}
	if r.Type == "" {
		r.Type = spec.Managed
	}
	for _, s := range c.Scopes {
		sc, err := spec.ParseScope(s)
		if err != nil {
			return r, fmt.Errorf("scope %q: %w", s, err)
		}
		r.Scopes = append(r.Scopes, sc)
	}
	return r, nil
}

// newRun checks one role of the plan before anything runs. A role that
// cannot run is returned done.
func newRun(res spec.Resource, r planner.RolePlan) *run {
	ru := &run{plan: r, report: report.Role{RoleName: r.Config.RoleName, Label: r.Config.Label}}
	if !r.CurrentState.RequiresMigration {
		ru.stop(report.RoleSkipped, "in sync at plan time")
		return ru
	}
	if got := planner.Checksum(res.Name, r.Config.RoleName, r.SQLPlan); got != r.Checksum {
		ru.stop(report.RoleRefused, "the plan document's checksum does not match its SQL: it was edited after planning")
		return ru
	}
	ru.drop = planner.IsRemoval(r.SQLPlan, res.Database)
	ru.removal = ru.drop || r.CurrentState.Remove
	if ru.removal {
		return ru
	}
	role, err := specRole(res.Name, r.Config)
	if err != nil {
		ru.stop(report.RoleFailed, "invalid role config in the plan: "+err.Error())
		return ru
	}
	ru.spec = role
	// A password statement for a role that existed at plan time, without
	// rotate_password, is a reset the plan decided on (a CREATE ROLE
	// always sets one).
	ru.reset = !role.RotatePassword && r.CurrentState.Exists && len(r.PasswordStatements[res.Database]) > 0
	return ru
}

// step is one transaction of an apply: a database's statements of every
// role, or (last) the DROP ROLE of the removed roles.
type step struct {
	db   string
	drop bool
}

// steps lists the transactions of the apply in order: the maintenance
// database first, then the others by name, then the drops.
func (c *cluster) steps() []step {
	seen := map[string]bool{}
	var dbs []string
	drop := false
	for _, r := range c.runs {
		if r.done {
			continue
		}
		drop = drop || r.drop
		for db := range r.plan.SQLPlan {
			if !seen[db] {
				seen[db] = true
				dbs = append(dbs, db)
			}
		}
	}
	maint := c.res.Database
	slices.SortFunc(dbs, func(a, b string) int {
		switch {
		case a == b:
			return 0
		case a == maint:
			return -1
		case b == maint:
			return 1
		}
		return strings.Compare(a, b)
	})
	var out []step
	for _, db := range dbs {
		out = append(out, step{db: db})
	}
	if drop {
		out = append(out, step{db: maint, drop: true})
	}
	return out
}

// reviewed returns what the plan runs of r in st: its reviewed statements
// of that database, cut to the step (inStep).
func (c *cluster) reviewed(r *run, st step) []string {
	return inStep(c, r, st, r.plan.SQLPlan[st.db])
}

// inStep is the part of r's statements in st's database that step st
// runs: all of them, for a removal all but its DROP ROLE (the last
// statement of the maintenance database), and in the drop step only that.
func inStep[T any](c *cluster, r *run, st step, stmts []T) []T {
	switch {
	case st.drop && !r.drop:
		return nil
	case st.drop:
		return stmts[len(stmts)-1:]
	case r.drop && st.db == c.res.Database:
		return stmts[:len(stmts)-1]
	}
	return stmts
}

// resourceSteps applies every role of one resource: one transaction per
// database, each re-inspecting that database and re-planning every role.
// A lost connection is reopened and its transaction retried once; an
// error is returned only when the resource cannot go on (unreachable,
// the lock lost for good, interrupted).
func (a *applier) resourceSteps(ctx context.Context, c *cluster) error {
	steps := c.steps()
	progress := a.progress(c, len(steps))
	for i, st := range steps {
		progress(i, st.db)
		runs := c.stepRuns(st)
		if len(runs) == 0 {
			continue
		}
		if err := a.runStep(ctx, c, st, runs); err != nil {
			return err
		}
		progress(i+1, st.db)
	}
	return nil
}

// progress returns the function that tells Options.Progress, when set,
// that the resource's step i of steps (in database db) is next.
func (a *applier) progress(c *cluster, steps int) func(i int, db string) {
	pending := 0
	for _, r := range c.runs {
		if r.plan.CurrentState.RequiresMigration {
			pending++
		}
	}
	return func(i int, db string) {
		if a.opts.Progress == nil {
			return
		}
		settled := 0
		for _, r := range c.runs {
			if r.plan.CurrentState.RequiresMigration && (r.done || r.complete()) {
				settled++
			}
		}
		a.opts.Progress(Progress{Resource: c.res.Name, Database: db, Step: i, Steps: steps, RolesDone: settled, Roles: pending})
	}
}

// stepRuns lists the roles still running that have statements in st.
func (c *cluster) stepRuns(st step) []*run {
	var runs []*run
	for _, r := range c.runs {
		if !r.done && len(c.reviewed(r, st)) > 0 {
			runs = append(runs, r)
		}
	}
	return runs
}

// runStep runs step st of runs under the apply lock, retrying it once
// when its connection broke. It returns an error only when the resource
// cannot go on; a step that failed otherwise (before its roles'
// statements ran: begin, inspection) fails every role still waiting
// there.
func (a *applier) runStep(ctx context.Context, c *cluster, st step, runs []*run) error {
	if err := a.ensureLock(ctx, c); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("timed out waiting for the apply lock (another apply holds it): %w", err)
		}
		return err
	}
	err := a.step(ctx, c, st, runs)
	if connLost(ctx, err) != nil {
		var stop error
		if err, stop = a.retryStep(ctx, c, st, runs, err); stop != nil {
			return stop
		}
	}
	if err := interruption(ctx, st.db); err != nil {
		return err
	}
	if err != nil {
		for _, r := range runs {
			if !r.done && !r.ran[st.key()] {
				r.stop(report.RoleFailed, err.Error())
			}
		}
	}
	return nil
}

// retryStep runs st again after its connection broke (lost): the lock
// is taken again when it went with the connection, and the step runs on
// a new connection. It returns the retry's error, or stop when the
// resource cannot go on (the lock not taken, the connection lost again).
func (a *applier) retryStep(ctx context.Context, c *cluster, st step, runs []*run, lost error) (err, stop error) {
	a.opts.Log.Warn().Err(lost).Str("resource", c.res.Name).Str("database", st.db).Msg("connection lost: reconnecting, re-inspecting and retrying the transaction once")
	if err := a.ensureLock(ctx, c); err != nil {
		return nil, err
	}
	err = a.step(ctx, c, st, runs)
	if again := connLost(ctx, err); again != nil {
		return nil, fmt.Errorf("database %q unreachable, stopped after one retry: %v", st.db, again.err)
	}
	return err, nil
}

// connLost returns err's lost connection, when the connection broke
// while the apply goes on (not cancelled, not timed out).
func connLost(ctx context.Context, err error) *connLostError {
	var lost *connLostError
	if errors.As(err, &lost) && ctx.Err() == nil {
		return lost
	}
	return nil
}

// interruption says why the resource's apply stopped in database db when
// ctx is done: its timeout, or the apply was interrupted.
func interruption(ctx context.Context, db string) error {
	err := ctx.Err()
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("timed out in database %q (the resource's apply timeout): the transaction in flight was rolled back", db)
	}
	return fmt.Errorf("interrupted in database %q: %w", db, err)
}

// ensureLock checks that the connection holding the advisory lock is
// alive; when it is not, the lock went with it: it takes it again on a
// new connection before anything else runs.
func (a *applier) ensureLock(ctx context.Context, c *cluster) error {
	if c.lock != nil && !c.lock.IsClosed() {
		if err := c.lock.Ping(ctx); err == nil {
			return nil
		}
		c.lock.Close(context.WithoutCancel(ctx))
	}
	c.lock = nil
	conn, err := a.opts.Connect(ctx, c.res, c.res.Database)
	if err != nil {
		return err // names the resource and what failed
	}
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", LockKey); err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return fmt.Errorf("taking the apply lock: %w", err)
	}
	c.lock = conn
	return nil
}

// key names a step in run.ran.
func (st step) key() string {
	if st.drop {
		return st.db + "\x00drop"
	}
	return st.db
}

// step runs one database's statements: in a first transaction it
// re-inspects the cluster and the database, re-plans every role of the
// plan for that database, refuses the roles whose statements differ from
// the reviewed ones and runs those of the others, shared where roles need
// the same statement. When so many roles need different statements on the
// same objects that a transaction would rewrite a catalog row more than
// planner.MaxRewrites times, the later roles run in further transactions
// (each role's statements in one). It returns a *connLostError when the
// connection broke: the roles not yet committed may be retried.
func (a *applier) step(ctx context.Context, c *cluster, st step, runs []*run) error {
	runs = slices.DeleteFunc(slices.Clone(runs), func(r *run) bool { return r.done || r.ran[st.key()] })
	if len(runs) == 0 {
		return nil
	}
	conn, err := a.conn(ctx, c, st.db)
	if err != nil {
		return err
	}
	tx, err := a.begin(ctx, conn, st.db)
	if err != nil {
		return lostOn(ctx, conn, st.db, err)
	}
	w, err := a.stepWork(ctx, c, st, tx, runs)
	if err != nil {
		err = lostOn(ctx, conn, st.db, err) // before the rollback closes a broken conn
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return err
	}
	a.passwords(ctx, c, &w)
	return a.runBatches(ctx, c, st, conn, tx, w)
}

// lostOn is err, as a *connLostError when it broke conn (to database db)
// while the apply goes on.
func lostOn(ctx context.Context, conn *pgx.Conn, db string, err error) error {
	if conn.IsClosed() && ctx.Err() == nil {
		return &connLostError{db: db, err: err}
	}
	return err
}

// work is what a step runs: each role's statements there, and the roles
// by name.
type work struct {
	perRole [][]planner.Statement
	byName  map[string]*run
}

// stepWork re-inspects st's database in tx, re-plans runs from that
// snapshot and keeps the statements of every role whose re-plan gives its
// reviewed ones (reviewedStatements).
func (a *applier) stepWork(ctx context.Context, c *cluster, st step, tx pgx.Tx, runs []*run) (work, error) {
	live, err := inspect(ctx, tx, c, st.db)
	if err != nil {
		return work{}, err
	}
	now := a.replan(c, live, st.db, runs)
	w := work{byName: map[string]*run{}}
	for _, r := range runs {
		if stmts, ok := a.reviewedStatements(c, st, r, now); ok {
			w.perRole = append(w.perRole, stmts)
			w.byName[r.name()] = r
		}
	}
	return w, nil
}

// reviewedStatements compares r's re-plan in st (from now) with its
// reviewed statements and returns what r runs in st. A role the re-plan
// refused runs nothing; one with nothing left to do was applied by
// another apply (counted concurrent); one whose statements differ is
// refused.
func (a *applier) reviewedStatements(c *cluster, st step, r *run, now map[string][]planner.Statement) ([]planner.Statement, bool) {
	got, ok := now[r.name()]
	if !ok {
		return nil, false // refused by replan
	}
	want := r.plan.SQLPlan[st.db]
	if len(got) == 0 && len(want) > 0 {
		// Nothing left to do: another apply did it.
		r.concurrent++
		return nil, false
	}
	if !slices.Equal(planner.SQLs(got), want) || !slices.Equal(passwordIndexes(got), r.plan.PasswordStatements[st.db]) {
		a.refuse(r, st.db)
		return nil, false
	}
	return inStep(c, r, st, got), true
}

// passwords makes the passwords w's roles need (newPasswords). When that
// fails nothing ran: the roles needing a password fail and leave w, the
// others go on.
func (a *applier) passwords(ctx context.Context, c *cluster, w *work) {
	err := a.newPasswords(ctx, c, w.perRole, w.byName)
	if err == nil {
		return
	}
	for i, l := range w.perRole {
		if setsPassword(l) {
			w.byName[l[0].Role].stop(report.RoleFailed, err.Error())
			delete(w.byName, l[0].Role)
			w.perRole[i] = nil
		}
	}
}

// setsPassword reports whether one of stmts sets a password.
func setsPassword(stmts []planner.Statement) bool {
	return slices.ContainsFunc(stmts, func(s planner.Statement) bool { return s.Password })
}

// runBatches runs w's statements, shared, in batches (planner.ShareBatches):
// the first in tx, each further one in a new transaction on conn. A batch
// that fails fails the roles it served; a lost connection or the end of
// ctx stops the step. With nothing to run, tx is rolled back.
func (a *applier) runBatches(ctx context.Context, c *cluster, st step, conn *pgx.Conn, tx pgx.Tx, w work) error {
	batches := planner.ShareBatches(w.perRole, planner.MaxRewrites)
	if len(batches) == 0 {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return nil
	}
	for i, batch := range batches {
		if i > 0 {
			var err error
			if tx, err = a.begin(ctx, conn, st.db); err != nil {
				return lostOn(ctx, conn, st.db, err)
			}
		}
		// batch commits or rolls back tx.
		if err := a.batch(ctx, c, st, tx, batch, w.byName); err != nil {
			if err = lostOn(ctx, conn, st.db, err); errors.As(err, new(*connLostError)) || ctx.Err() != nil {
				return err
			}
			failServed(batch, w.byName, err)
		}
	}
	return nil
}

// failServed fails the roles still running that batch served.
func failServed(batch []planner.Shared, byName map[string]*run, err error) {
	for _, s := range batch {
		for _, role := range s.Roles {
			if r := byName[role]; r != nil && !r.done {
				r.stop(report.RoleFailed, err.Error())
			}
		}
	}
}

// begin starts a transaction with the apply's lock timeout.
func (a *applier) begin(ctx context.Context, conn *pgx.Conn, db string) (pgx.Tx, error) {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("database %q: begin: %w", db, err)
	}
	if _, err := tx.Exec(ctx, "SET LOCAL lock_timeout = '"+lockTimeout+"'"); err != nil {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("database %q: %w", db, err)
	}
	return tx, nil
}

// batch runs shared statements in tx and commits it (or rolls it back on
// the first failure), records every statement once with the roles it
// served, and marks those roles' step done.
func (a *applier) batch(ctx context.Context, c *cluster, st step, tx pgx.Tx, shared []planner.Shared, byName map[string]*run) error {
	committed := false
	defer func() {
		if !committed {
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	results, err := a.execShared(ctx, st.db, tx, shared, byName)
	if err == nil {
		err = commit(ctx, st.db, tx, results)
		committed = err == nil
	}
	a.recordShared(ctx, c, shared[:len(results)], results, byName)
	if err != nil {
		return err
	}
	a.markRan(ctx, c, st, shared, byName)
	return nil
}

// execShared runs shared in tx, in order, and returns each statement's
// outcome. At the first failure it stops: the statements before it are
// rolled back, those after it skipped, and the failure is returned. The
// server log is kept quiet before the first statement with a password.
func (a *applier) execShared(ctx context.Context, db string, tx pgx.Tx, shared []planner.Shared, byName map[string]*run) ([]report.Statement, error) {
	results := make([]report.Statement, 0, len(shared))
	quiet := false
	for i, s := range shared {
		verifier := ""
		if s.Password {
			verifier = byName[s.Roles[0]].verifier
			if !quiet { // SET LOCAL holds for the rest of the transaction
				a.quietLog(ctx, tx)
				quiet = true
			}
		}
		start := time.Now()
		_, execErr := tx.Exec(ctx, s.Exec(verifier))
		rep := report.Statement{Database: db, SQL: s.SQL, Outcome: "ok", Duration: time.Since(start)}
		if execErr != nil {
			rep.Outcome, rep.Error = "failed", scrub(execErr.Error(), verifier)
			return failedAt(results, rep, shared[i+1:]), fmt.Errorf("database %q: %s", db, rep.Error)
		}
		results = append(results, rep)
	}
	return results, nil
}

// failedAt is the outcome of a transaction whose statement failed: the
// statements before it (done) rolled back, then failed, then the rest
// skipped.
func failedAt(done []report.Statement, failed report.Statement, rest []planner.Shared) []report.Statement {
	for j := range done {
		done[j].Outcome = "rolled-back"
	}
	done = append(done, failed)
	for _, s := range rest {
		done = append(done, report.Statement{Database: failed.Database, SQL: s.SQL, Outcome: "skipped"})
	}
	return done
}

// commit commits tx; when that fails, no statement's outcome is known.
func commit(ctx context.Context, db string, tx pgx.Tx, results []report.Statement) error {
	if err := tx.Commit(ctx); err != nil {
		for j := range results {
			results[j].Outcome, results[j].Error = "unknown", "commit failed"
		}
		return fmt.Errorf("database %q: commit: %w (the transaction may or may not have committed; plan again to see)", db, err)
	}
	return nil
}

// markRan marks step st done for every role the committed shared
// statements served, and, for the maintenance database's transaction,
// the roles' passwords set and their stored versions active.
func (a *applier) markRan(ctx context.Context, c *cluster, st step, shared []planner.Shared, byName map[string]*run) {
	served := map[string]bool{}
	for _, s := range shared {
		for _, role := range s.Roles {
			served[role] = true
		}
	}
	activate := map[string]int{}
	for role := range served {
		r := byName[role]
		if r == nil {
			continue
		}
		r.applied++
		if r.ran == nil {
			r.ran = map[string]bool{}
		}
		r.ran[st.key()] = true
		if st.db == c.res.Database && !st.drop && !r.removal {
			r.passwordSet = true
			if r.version > 0 {
				activate[r.name()] = r.version
			}
		}
	}
	a.activate(ctx, activate)
}

// activate marks the stored passwords of versions active (the
// transaction that set them committed); when that fails they stay
// pending, and creds get still finds them.
func (a *applier) activate(ctx context.Context, versions map[string]int) {
	if len(versions) == 0 {
		return
	}
	if err := a.opts.Store.ActivateCredentials(context.WithoutCancel(ctx), versions); err != nil {
		a.opts.Log.Error().Err(err).Int("roles", len(versions)).Msg("activating the stored passwords (they stay pending; creds get still finds them)")
	}
}

func passwordIndexes(stmts []planner.Statement) []int {
	var out []int
	for i, s := range stmts {
		if s.Password {
			out = append(out, i)
		}
	}
	return out
}

// refuse ends a role whose live state no longer gives the reviewed SQL.
func (a *applier) refuse(r *run, db string) {
	reason := fmt.Sprintf("%s %s", ErrDrifted, a.planSID)
	if r.applied > 0 {
		reason += fmt.Sprintf(" (found at database %q, after %d database(s) were applied)", db, r.applied)
	}
	r.stop(report.RoleRefused, reason)
}

// newPasswords makes the password of every role whose statements set one
// and stores them all, pending, in one store transaction: stored before
// PostgreSQL ever sees their verifiers, so never lost. A retried
// transaction reuses the pending ones.
func (a *applier) newPasswords(ctx context.Context, c *cluster, perRole [][]planner.Statement, byName map[string]*run) error {
	var need []*run
	var creds []store.Credential
	var verifiers []string
	for _, l := range perRole {
		if len(l) == 0 || !setsPassword(l) {
			continue
		}
		r := byName[l[0].Role]
		if r == nil || r.verifier != "" {
			continue
		}
		v, ciphertext, err := a.opts.Secrets.NewPassword(r.name())
		if err != nil {
			return fmt.Errorf("generating the password: %w", err)
		}
		need = append(need, r)
		verifiers = append(verifiers, v)
		creds = append(creds, store.Credential{RoleName: r.name(), Resource: c.res.Name, Ciphertext: ciphertext,
			Host: c.res.Host, Port: c.res.Port, Database: r.spec.LoginDatabase(c.res), SSLMode: c.res.SSLMode})
	}
	if len(need) == 0 {
		return nil
	}
	versions, err := a.opts.Store.PutPendingCredentials(ctx, creds)
	if err != nil {
		return fmt.Errorf("storing the password: %w", err)
	}
	for i, r := range need {
		r.verifier, r.version = verifiers[i], versions[i]
	}
	return nil
}

// replan re-plans every still-running role of the plan for database db
// from live and returns each role's statements there. A role whose
// re-plan fails is refused.
func (a *applier) replan(c *cluster, live *catalog.Snapshot, db string, runs []*run) map[string][]planner.Statement {
	in := c.replanInput(live, db)
	rp, err := planner.PlanResource(in)
	if err != nil {
		// One role's problem (a scope's schema dropped since the plan) must
		// not stop the others: re-plan each role alone.
		return a.replanEach(in, db, runs)
	}
	out := make(map[string][]planner.Statement, len(runs))
	for _, p := range rp.Roles {
		out[p.Config.RoleName] = p.Statements[db]
	}
	for _, r := range runs {
		if _, ok := out[r.name()]; !ok {
			out[r.name()] = nil // no longer planned: gone already
		}
	}
	return out
}

// replanInput is the planner's input for re-planning the resource's
// declared roles and removals in database db from live: a password reset
// the plan decided on stays decided until the password is set, and once
// set it is not set again, also with rotate_password.
func (c *cluster) replanInput(live *catalog.Snapshot, db string) planner.Input {
	res := c.res
	res.Complete = false
	in := planner.Input{Resource: res, Roles: slices.Clone(c.declared), Remove: c.removed, Snapshot: live, Database: db,
		PasswordResets: map[string]string{}}
	for _, r := range c.runs {
		if r.reset && !r.passwordSet {
			in.PasswordResets[r.name()] = "planned"
		}
	}
	// The password is set once per apply, also with rotate_password.
	for i := range in.Roles {
		for _, r := range c.runs {
			if r.passwordSet && r.name() == in.Roles[i].Name {
				in.Roles[i].RotatePassword = false
			}
		}
	}
	return in
}

// replanEach re-plans each role of runs alone from in and returns its
// statements in db; a role whose re-plan fails is refused (and has none).
func (a *applier) replanEach(in planner.Input, db string, runs []*run) map[string][]planner.Statement {
	out := make(map[string][]planner.Statement, len(runs))
	for _, r := range runs {
		one := in
		one.Only, one.Roles = r.name(), nil
		for _, d := range in.Roles {
			if d.Name == r.name() {
				one.Roles = []spec.Role{d}
			}
		}
		rp, err := planner.PlanResource(one)
		if err != nil {
			r.stop(report.RoleRefused, fmt.Sprintf("%s %s: re-plan failed: %v", ErrDrifted, a.planSID, err))
			continue
		}
		out[r.name()] = nil
		for _, p := range rp.Roles {
			if p.Config.RoleName == r.name() {
				out[r.name()] = p.Statements[db]
			}
		}
	}
	return out
}

// recordShared appends the outcome of each shared statement to the
// session once, with the roles it served, and to each served role's
// report.
func (a *applier) recordShared(ctx context.Context, c *cluster, shared []planner.Shared, results []report.Statement, byName map[string]*run) {
	recs := make([]store.Statement, 0, len(shared))
	defer func() { a.append(ctx, recs) }()
	for i, s := range shared {
		a.seq++
		res := results[i]
		res.Seq = a.seq
		rec := store.Statement{
			Seq: a.seq, Resource: c.res.Name, Role: strings.Join(s.Roles, ", "), Database: res.Database, SQL: res.SQL,
			Outcome: res.Outcome, Error: res.Error, Duration: res.Duration, At: a.now().UTC(),
		}
		if len(s.Roles) > 1 {
			rec.Roles = slices.Clone(s.Roles)
		}
		recs = append(recs, rec)
		for j, role := range s.Roles {
			if r := byName[role]; r != nil {
				own := res
				if len(s.Roles) > 1 {
					// The role's own statement; the session holds the
					// shared one (Seq) naming every role it served.
					own.SQL, own.Roles = s.Own(j), len(s.Roles)
				}
				r.report.Statements = append(r.report.Statements, own)
			}
		}
	}
}

// inspect reads the cluster-level catalog and database db inside tx: the
// snapshot of one step, db inspected, the other databases only listed.
func inspect(ctx context.Context, tx pgx.Tx, c *cluster, db string) (*catalog.Snapshot, error) {
	live, err := catalog.InspectCluster(ctx, tx, c.opts)
	if err != nil {
		return nil, fmt.Errorf("database %q: re-inspecting: %w", db, err)
	}
	schemas, global, err := catalog.InspectDatabase(ctx, tx, c.opts)
	if err != nil {
		return nil, fmt.Errorf("database %q: re-inspecting: %w", db, err)
	}
	for i := range live.Databases {
		if d := &live.Databases[i]; d.Name == db {
			d.Schemas, d.DefaultGrants, d.Inspected = schemas, global, true
		}
	}
	return live, nil
}

// quietLog keeps the statement that carries a SCRAM verifier out of the
// server log, as CloudNativePG does, where the admin may change these
// settings: they are superuser-only (PGC_SUSET), so for any other admin
// nothing is attempted, and the server log may show the statement with
// the SCRAM verifier (never the password, which never reaches PostgreSQL).
func (a *applier) quietLog(ctx context.Context, tx pgx.Tx) {
	var super bool
	if err := tx.QueryRow(ctx, "SELECT pg_catalog.current_setting('is_superuser') = 'on'").Scan(&super); err != nil || !super {
		a.opts.Log.Debug().Msg("admin is not a superuser: log_statement stays as configured; the server log may show the SCRAM verifier, never the password")
		return
	}
	if _, err := tx.Exec(ctx, "SAVEPOINT rolecd_quiet"); err != nil {
		return
	}
	// log_statement, and the other settings that print statement text:
	// slow statements, and failed ones.
	if _, err := tx.Exec(ctx, "SET LOCAL log_statement = 'none'; SET LOCAL log_min_duration_statement = -1; SET LOCAL log_min_error_statement = 'panic'"); err != nil {
		_, _ = tx.Exec(ctx, "ROLLBACK TO SAVEPOINT rolecd_quiet")
		a.opts.Log.Warn().Msg("cannot set log_statement = 'none': the server log may show the SCRAM verifier, never the password")
		return
	}
	_, _ = tx.Exec(ctx, "RELEASE SAVEPOINT rolecd_quiet")
}

// scrub removes the verifier from an error text.
func scrub(msg, verifier string) string {
	if verifier == "" {
		return msg
	}
	return strings.ReplaceAll(msg, verifier, planner.Redacted)
}
