// Package applier applies a reviewed plan document, exactly or not at all.
// The cost follows the work, not roles x databases: each database's
// statements run in a transaction that first re-inspects the cluster and
// that database once, re-plans every role of the plan from that snapshot
// and compares each role's statements with the reviewed ones, so an outside
// change since the plan refuses that role ("live state drifted"), there and
// in later databases, instead of being overwritten; the other roles run.
// Roles needing the same statement share one (GRANT ... TO r1, r2, ...),
// recorded once with the roles it served. A session-level advisory lock in
// the maintenance database serialises rolecd appliers on a cluster. A lost
// connection is reopened and its transaction retried once. Generated
// passwords are stored encrypted before PostgreSQL sees their SCRAM
// verifier, never the plaintext, which goes into the statement the planner
// marked. A removed role is dropped last, after every database has
// reassigned and dropped what it owns, and its stored passwords are then
// deleted.
package applier

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"github.com/rolecd/rolecd/applier/report"
	"github.com/rolecd/rolecd/planner"
	"github.com/rolecd/rolecd/planner/catalog"
	"github.com/rolecd/rolecd/planner/spec"
	"github.com/rolecd/rolecd/store"
)

// LockKey is the pg_advisory_lock key every rolecd applier takes in a
// cluster's maintenance database ("rolecd" in ASCII).
const LockKey int64 = 0x726f6c656364

// ErrDrifted marks a role refused because the live state changed since the plan.
var ErrDrifted = errors.New("live state drifted since plan")

// Store is what apply records into.
type Store interface {
	CreateSession(ctx context.Context, s *store.Session) error
	AppendStatements(ctx context.Context, sid string, sts []store.Statement) error
	FinishSession(ctx context.Context, sid string, status store.Status, detail json.RawMessage, errMsg string, finishedAt time.Time) error
	// KeepSessionAlive says the apply's process is alive (a session whose
	// process died is marked interrupted by the store's next open).
	KeepSessionAlive(ctx context.Context, sid string) error
	// PutPendingCredentials stores passwords before PostgreSQL sees their
	// verifiers, in one store transaction; ActivateCredentials marks them
	// active once the transaction that set them committed.
	PutPendingCredentials(ctx context.Context, cs []store.Credential) ([]int, error)
	ActivateCredentials(ctx context.Context, versions map[string]int) error
	// DeleteCredentials forgets a role's stored passwords once it is dropped.
	DeleteCredentials(ctx context.Context, roleName string) error
}

// Secrets makes the credentials of a role whose plan sets a password.
type Secrets interface {
	// NewPassword returns a fresh password, its SCRAM-SHA-256 verifier and
	// its ciphertext for the store.
	NewPassword(roleName string) (verifier string, ciphertext []byte, err error)
}

// Connector opens an admin connection to a database of a resource.
type Connector func(ctx context.Context, res spec.Resource, database string) (*pgx.Conn, error)

// Options configures Apply.
type Options struct {
	Store   Store
	Secrets Secrets
	Connect Connector
	// Resources gives connection settings by name (the plan document holds
	// none).
	Resources map[string]spec.Resource
	SID       string // the apply session's id
	Actor     string
	Now       func() time.Time
	Log       zerolog.Logger
	// Progress, when set, is told after each transaction how far the apply
	// is (for a terminal; never called concurrently).
	Progress func(Progress)
	// ResourceTimeout, when positive, bounds each resource's apply (lock
	// wait included): past it, the transaction in flight is rolled back and
	// the resource fails with that reason; the next resources still run.
	ResourceTimeout time.Duration
}

// Progress is how far an apply is: within a resource, the transactions
// (one per database) done out of all, and the roles settled.
type Progress struct {
	Resource  string
	Database  string
	Step      int // transactions done in this resource
	Steps     int
	RolesDone int // roles applied, refused or failed so far
	Roles     int // roles of the resource that require migration
}

// Apply applies doc and records an apply session with every statement.
func Apply(ctx context.Context, doc *planner.Document, opts Options) (*report.Report, error) {
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	if err := opts.Store.CreateSession(ctx, applySession(doc, opts, now().UTC())); err != nil {
		return nil, fmt.Errorf("recording apply session: %w", err)
	}
	stopAlive := keepAlive(ctx, opts)
	a := &applier{opts: opts, now: now, planSID: doc.SID}
	rep := &report.Report{SID: opts.SID, PlanSID: doc.SID, Resources: a.resources(ctx, doc.Resources)}
	rep.Interrupted = a.interrupted
	stopAlive()
	return rep, a.finishSession(ctx, rep)
}

// applySession is the apply session of doc, running from started.
func applySession(doc *planner.Document, opts Options, started time.Time) *store.Session {
	sess := &store.Session{
		SID: opts.SID, Kind: store.KindApply, Status: store.StatusRunning, Actor: opts.Actor,
		Commit: doc.Source.Commit, PullRequest: doc.Source.PullRequest, PlanSID: doc.SID,
		Checksum: doc.Digest(), StartedAt: started,
	}
	for _, rp := range doc.Resources {
		sess.Resources = append(sess.Resources, rp.Resource)
		for _, r := range rp.Roles {
			sess.Roles = append(sess.Roles, r.Config.RoleName)
		}
	}
	return sess
}

// resources applies each resource of the plan in order; once the apply
// is interrupted, the remaining ones are reported not applied.
func (a *applier) resources(ctx context.Context, plans []planner.ResourcePlan) []report.Resource {
	var out []report.Resource
	for _, rp := range plans {
		if ctx.Err() != nil {
			a.interrupted = true
			out = append(out, report.Resource{Resource: rp.Resource, Roles: []report.Role{},
				Error: "not applied: the apply was interrupted"})
			continue
		}
		out = append(out, a.resource(ctx, rp))
	}
	return out
}

// finishSession records the apply's outcome, even when ctx was cancelled
// mid-apply.
func (a *applier) finishSession(ctx context.Context, rep *report.Report) error {
	detail, err := json.Marshal(rep)
	if err != nil {
		return fmt.Errorf("encoding apply report: %w", err)
	}
	var errMsg string
	if st := rep.Status(); st != store.StatusApplied {
		errMsg = summary(rep)
	}
	if err := a.opts.Store.FinishSession(context.WithoutCancel(ctx), a.opts.SID, rep.Status(), detail, errMsg, a.now().UTC()); err != nil {
		return fmt.Errorf("recording apply outcome: %w", err)
	}
	return nil
}

// keepAlive renews the apply session's lease while the apply runs; the
// returned function stops it.
func keepAlive(ctx context.Context, opts Options) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(store.SessionLeaseTTL / 4)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if err := opts.Store.KeepSessionAlive(ctx, opts.SID); err != nil && ctx.Err() == nil {
					opts.Log.Warn().Err(err).Str("sid", opts.SID).Msg("renewing the apply session's lease")
				}
			}
		}
	}()
	return func() { cancel(); <-done }
}

func summary(rep *report.Report) string {
	applied, skipped, refused, failed := rep.Counts()
	return fmt.Sprintf("%d applied, %d skipped, %d refused, %d failed", applied, skipped, refused, failed)
}

type applier struct {
	opts        Options
	now         func() time.Time
	seq         int
	planSID     string
	interrupted bool
}

// record appends statement outcomes to the session, in order.
func (a *applier) record(ctx context.Context, resource, role string, stmts []report.Statement) {
	recs := make([]store.Statement, 0, len(stmts))
	for _, s := range stmts {
		a.seq++
		recs = append(recs, store.Statement{
			Seq: a.seq, Resource: resource, Role: role, Database: s.Database, SQL: s.SQL,
			Outcome: s.Outcome, Error: s.Error, Duration: s.Duration, At: a.now().UTC(),
		})
	}
	a.append(ctx, recs)
}

// append records statements in the session, in one store transaction.
func (a *applier) append(ctx context.Context, recs []store.Statement) {
	if len(recs) == 0 {
		return
	}
	if err := a.opts.Store.AppendStatements(context.WithoutCancel(ctx), a.opts.SID, recs); err != nil {
		a.opts.Log.Error().Err(err).Str("sid", a.opts.SID).Int("statements", len(recs)).Msg("recording statements")
	}
}

// resource applies one resource's roles and reports them: every role
// that could run is checked (newRun), then applied step by step under
// the apply lock, then settled (finish) and logged. A resource that
// cannot be applied, or failed before any role ran, reports only its
// error.
func (a *applier) resource(ctx context.Context, rp planner.ResourcePlan) report.Resource {
	out := report.Resource{Resource: rp.Resource, Roles: []report.Role{}}
	res, problem := a.resourceOf(rp)
	if problem != "" {
		out.Error = problem
		return out
	}
	log := a.opts.Log.With().Str("resource", rp.Resource).Str("sid", a.opts.SID).Logger()
	c, pending := newCluster(res, rp.Roles)
	if pending > 0 {
		defer c.close(ctx)
		if err := a.applyCluster(ctx, c, log); err != nil {
			out.Error = err.Error()
			if ctx.Err() != nil {
				a.interrupted = true
			}
			if !c.started() {
				// Nothing ran (unreachable, the lock not taken): the
				// resource's error says it all, as no role was tried.
				return out
			}
		}
	}
	a.settle(ctx, c, log, &out)
	return out
}

// resourceOf returns the connection settings of rp's resource, or why
// it cannot be applied.
func (a *applier) resourceOf(rp planner.ResourcePlan) (spec.Resource, string) {
	if rp.Error != "" {
		return spec.Resource{}, "not applied: the plan has an error for this resource: " + rp.Error
	}
	res, ok := a.opts.Resources[rp.Resource]
	if !ok {
		return res, fmt.Sprintf("resource %q is not in the role files", rp.Resource)
	}
	if rp.MaintenanceDatabase != "" && rp.MaintenanceDatabase != res.Database {
		return res, fmt.Sprintf("maintenance database changed since plan (%q, now %q)", rp.MaintenanceDatabase, res.Database)
	}
	return res, ""
}

// newCluster is the apply state of resource res for roles, each checked
// (newRun), with how many of them are still to run.
func newCluster(res spec.Resource, roles []planner.RolePlan) (*cluster, int) {
	c := &cluster{res: res, conns: map[string]*pgx.Conn{}}
	pending := 0
	var interest []string
	for _, r := range roles {
		ru := newRun(res, r)
		c.runs = append(c.runs, ru)
		if ru.done {
			continue
		}
		pending++
		interest = append(interest, r.Config.RoleName)
		if r.Config.SourceRole != "" {
			interest = append(interest, r.Config.SourceRole)
		}
		if ru.removal {
			c.removed = append(c.removed, ru.name())
		} else {
			c.declared = append(c.declared, ru.spec)
		}
	}
	c.opts = catalog.Options{Roles: interest}
	return c, pending
}

// applyCluster runs the resource's steps (bounded by ResourceTimeout)
// and then releases the apply lock.
func (a *applier) applyCluster(ctx context.Context, c *cluster, log zerolog.Logger) error {
	rctx := ctx
	if a.opts.ResourceTimeout > 0 {
		var cancel context.CancelFunc
		rctx, cancel = context.WithTimeout(ctx, a.opts.ResourceTimeout)
		defer cancel()
	}
	err := a.resourceSteps(rctx, c)
	a.unlock(ctx, c, log)
	return err
}

// unlock releases the apply lock and closes its connection.
func (a *applier) unlock(ctx context.Context, c *cluster, log zerolog.Logger) {
	if c.lock == nil {
		return
	}
	if _, err := c.lock.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", LockKey); err != nil {
		log.Warn().Err(err).Msg("releasing the apply lock (it goes with the connection)")
	}
	c.lock.Close(context.WithoutCancel(ctx))
}

// settle settles every role of the resource (finish), logs its outcome
// and adds its report to out.
func (a *applier) settle(ctx context.Context, c *cluster, log zerolog.Logger, out *report.Resource) {
	for _, r := range c.runs {
		a.finish(ctx, c, r, out.Error)
		rr := r.report
		ev := log.Info().Str("role", rr.RoleName).Str("status", rr.Status)
		if rr.Reason != "" {
			ev = ev.Str("reason", rr.Reason)
		}
		ev.Msg("apply")
		out.Roles = append(out.Roles, rr)
	}
}

// finish settles one role's outcome once its resource is done: the
// statements that never ran are recorded as skipped, and a dropped role's
// stored passwords are deleted.
func (a *applier) finish(ctx context.Context, c *cluster, r *run, resourceErr string) {
	if !r.done {
		switch {
		case resourceErr != "" && !r.complete():
			r.stop(report.RoleFailed, resourceErr)
		case r.applied > 0:
			r.report.Status = report.RoleApplied
		default:
			r.report.Status, r.report.Reason = report.RoleSkipped, "already in sync (applied concurrently)"
		}
	}
	if r.report.Status == report.RoleSkipped && r.applied == 0 && r.concurrent == 0 {
		return // nothing of it was meant to run
	}
	if report.NotApplied(r.report.Status) {
		var later []report.Statement
		for _, db := range planner.OrderedDatabases(r.plan.SQLPlan, c.res.Database) {
			if r.ran[db] {
				continue
			}
			for _, s := range r.plan.SQLPlan[db] {
				later = append(later, report.Statement{Database: db, SQL: s, Outcome: "skipped"})
			}
		}
		r.report.Statements = append(r.report.Statements, later...)
		a.record(ctx, c.res.Name, r.name(), later)
		return
	}
	if r.removal && r.report.Status == report.RoleApplied && r.drop {
		// The role is gone: so are its passwords.
		if err := a.opts.Store.DeleteCredentials(context.WithoutCancel(ctx), r.name()); err != nil && !errors.Is(err, store.ErrNotFound) {
			r.report.Reason = "dropped, but its stored credentials were not deleted: " + err.Error()
			a.opts.Log.Error().Err(err).Str("role", r.name()).Msg("deleting the stored credentials of a dropped role")
		}
	}
}
