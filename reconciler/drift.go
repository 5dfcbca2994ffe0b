package reconciler

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/rolecd/rolecd/internal/forge"
	"github.com/rolecd/rolecd/planner"
	"github.com/rolecd/rolecd/planner/spec"
	"github.com/rolecd/rolecd/store"
)

// issueDrift keys the one open drift issue.
const issueDrift = "drift"

// reconcileBranch handles a new branch head. Merges come first (every
// tracked pull request is brought up to date, so a merge is applied as a
// reviewed merge), then the new head gets a drift check: what a direct
// push changed is reported as drift, and applied only with
// ApplyUnreviewed. fetch is set when a push webhook announced the head.
func (r *Reconciler) reconcileBranch(ctx context.Context, fetch bool) error {
	var errs []error
	if fetch {
		if err := r.opts.Source.Fetch(ctx); err != nil {
			errs = append(errs, waiting("fetching the repository", err))
		}
	}
	head, err := r.opts.Source.BranchHead()
	if err != nil {
		return errors.Join(append(errs, waiting("reading the branch head", err))...)
	}
	cursor := "branch/" + r.opts.Branch
	last, err := r.opts.Store.GetCursor(ctx, cursor)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return waiting("reading the last branch head", err)
	}
	if head == last {
		return errors.Join(errs...)
	}
	r.log.Info().Str("commit", forge.Short(head)).Str("previous", forge.Short(last)).Msg("branch moved")
	tracked, err := r.opts.Store.ListPullRequests(ctx, store.PROpen, store.PRMergedPending)
	if err != nil {
		return waiting("reading pull requests", err)
	}
	for _, rec := range tracked {
		if err := r.reconcilePR(ctx, rec.Number, false); err != nil && !IsStalled(err) {
			errs = append(errs, fmt.Errorf("pull request #%d: %w", rec.Number, err))
		}
	}
	r.queue.add(driftTask(r.opts.ApplyUnreviewed))
	if err := r.opts.Store.PutCursor(ctx, cursor, head); err != nil {
		errs = append(errs, waiting("storing the branch head", err))
	}
	return errors.Join(errs...)
}

// driftRun is the state of one checkDrift run, filled in by its steps.
type driftRun struct {
	remediate  bool
	head       string
	log        zerolog.Logger
	tree       *spec.Tree
	started    time.Time
	doc        *planner.Document
	previous   map[string]store.Drift // stored drift by resource
	wasDrifted bool
	nowDrifted bool
	failed     []string // resources that could not be planned
	// The outcome, recorded by driftOutcome: the plan's metric; checked
	// once every resource was planned and reported.
	out     outcome
	checked bool
}

// checkDrift re-plans the branch head against every resource. Roles whose
// live state differs become a drift session, a metric, a log line, and the
// drift issue (updated in place, closed when drift is gone). With
// remediate, the plan is applied, unless a merge waits for its apply or
// approval (remediating would apply it unreviewed). The outcome is
// recorded on every exit, by driftOutcome.
func (r *Reconciler) checkDrift(ctx context.Context, remediate bool) error {
	run := &driftRun{remediate: remediate}
	defer r.driftOutcome(run)
	return runSteps(ctx, run, r.driftLoad, r.driftPlan, r.driftPrevious,
		r.driftStore, r.driftSession, r.driftReport, r.driftRemediate, r.driftDone)
}

// driftOutcome records how a checkDrift run ended, whichever step ended
// it: the plan's metric (counted also when storing, reporting or
// remediating failed later), and the checked head, remembered only when
// the whole check succeeded (else the next check runs it again). The
// drift state, the drift session and issue, and a remediation's apply are
// the steps' work, each stopping the check when it fails.
func (r *Reconciler) driftOutcome(run *driftRun) {
	r.count("drift", run.out)
	if run.checked {
		r.mu.Lock()
		r.lastDrift, r.lastDriftRemediate = run.head, run.remediate
		r.mu.Unlock()
	}
}

// driftLoad loads the branch head's role files; invalid ones stall.
func (r *Reconciler) driftLoad(_ context.Context, run *driftRun) (bool, error) {
	head, err := r.opts.Source.BranchHead()
	if err != nil {
		return true, waiting("reading the branch head", err)
	}
	run.head = head
	run.log = r.log.With().Str("commit", forge.Short(head)).Logger()
	tree, problems, err := r.loadTree(head)
	if err != nil {
		return true, err
	}
	if problems != nil {
		run.out.plan = "invalid"
		run.log.Error().Strs("problems", problems).Msg("drift check impossible: the branch has invalid role files")
		return true, stalled("drift check: invalid role files on the branch", errors.New(strings.Join(problems, "; ")))
	}
	run.tree = tree
	return false, nil
}

// driftPlan plans the branch head.
func (r *Reconciler) driftPlan(ctx context.Context, run *driftRun) (bool, error) {
	run.started = time.Now().UTC()
	doc, err := r.opts.Planner.Plan(ctx, run.tree, planner.Source{Commit: run.head}, uuid.NewString())
	if err != nil {
		return true, waiting("drift check", err)
	}
	run.doc = doc
	run.log = run.log.With().Str("sid", doc.SID).Logger()
	return false, nil
}

// driftPrevious reads the stored drift.
func (r *Reconciler) driftPrevious(ctx context.Context, run *driftRun) (bool, error) {
	run.previous = map[string]store.Drift{}
	if list, err := r.opts.Store.ListDrift(ctx); err == nil {
		for _, d := range list {
			run.previous[d.Resource] = d
		}
	} else {
		return true, waiting("reading drift state", err)
	}
	for _, d := range run.previous {
		run.wasDrifted = run.wasDrifted || len(d.Roles) > 0
	}
	return false, nil
}

// driftStore stores each planned resource's drift and its metric.
func (r *Reconciler) driftStore(ctx context.Context, run *driftRun) (bool, error) {
	for _, rp := range run.doc.Resources {
		if rp.Error != "" {
			run.failed = append(run.failed, rp.Resource+": "+rp.Error)
			run.log.Warn().Str("resource", rp.Resource).Str("error", rp.Error).Msg("drift check: resource not planned")
			continue
		}
		if err := r.opts.Store.PutDrift(ctx, r.resourceDrift(run, rp)); err != nil {
			return true, waiting("storing drift state", err)
		}
	}
	return false, nil
}

// resourceDrift is the drift of one planned resource (setting its metric).
func (r *Reconciler) resourceDrift(run *driftRun, rp planner.ResourcePlan) store.Drift {
	var roles []string
	for _, role := range rp.Roles {
		if role.CurrentState.RequiresMigration {
			roles = append(roles, role.Config.RoleName)
		}
	}
	r.metrics.drift.WithLabelValues(rp.Resource).Set(float64(len(roles)))
	d := store.Drift{Resource: rp.Resource, Roles: roles, Commit: run.head, SID: run.doc.SID, CheckedAt: r.opts.Now()}
	if len(roles) > 0 {
		run.nowDrifted = true
		d.Digest = driftDigest(rp)
		d.Since = run.previous[rp.Resource].Since
		if d.Since.IsZero() {
			d.Since = r.opts.Now()
		}
		run.log.Warn().Str("resource", rp.Resource).Strs("roles", roles).Msg("drift: live state differs from the branch")
	}
	return d
}

// driftSession counts the check and records a drift session. A check
// in which a resource could not be planned counts as changes or
// no-changes by the others (never as error, unlike the pull request and
// merge flows; kept so), then driftDone retries it.
func (r *Reconciler) driftSession(ctx context.Context, run *driftRun) (bool, error) {
	run.out.plan = "no-changes"
	if run.nowDrifted {
		run.out.plan = "changes"
	}
	if run.nowDrifted || run.wasDrifted || len(run.failed) > 0 {
		// A drift session when there is drift, and when it went away.
		if err := r.record(ctx, PlanSession(run.doc, store.KindDrift, r.opts.Actor, run.started)); err != nil {
			return true, err
		}
	}
	return false, nil
}

// driftReport updates the drift issue, or closes it when drift is gone.
func (r *Reconciler) driftReport(ctx context.Context, run *driftRun) (bool, error) {
	switch {
	case run.nowDrifted:
		title, body := r.driftIssue(driftOnly(run.doc))
		if err := r.upsertIssue(ctx, issueDrift, title, body); err != nil {
			return true, err
		}
	case run.wasDrifted && len(run.failed) == 0:
		run.log.Info().Msg("drift is gone")
		if err := r.closeIssue(ctx, issueDrift, fmt.Sprintf("No drift at `%s`: every role matches the branch (drift session `%s`).", forge.Short(run.head), run.doc.SID)); err != nil {
			return true, err
		}
	}
	return false, nil
}

// driftRemediate applies the plan when asked to and there is drift.
func (r *Reconciler) driftRemediate(ctx context.Context, run *driftRun) (bool, error) {
	if run.nowDrifted && run.remediate {
		if err := r.remediate(ctx, run.tree, run.doc, run.head); err != nil {
			return true, err
		}
	}
	return false, nil
}

// driftDone retries when a resource could not be planned, else marks the
// head checked.
func (r *Reconciler) driftDone(_ context.Context, run *driftRun) (bool, error) {
	if len(run.failed) > 0 {
		return true, waiting("drift check", errors.New(strings.Join(run.failed, "; ")))
	}
	run.checked = true
	return true, nil
}

// remediate applies a drift plan, unless a merge is pending.
func (r *Reconciler) remediate(ctx context.Context, tree *spec.Tree, doc *planner.Document, head string) error {
	if deferred, err := r.remediationDeferred(ctx); deferred || err != nil {
		return err
	}
	// No store write precedes this apply: check the lease is still ours.
	if err := r.opts.Store.CheckFence(ctx, r.fence()); err != nil {
		return waiting("checking the lease before remediating", err)
	}
	sid := uuid.NewString()
	log := r.log.With().Str("sid", sid).Str("plan_sid", doc.SID).Logger()
	rep, err := r.opts.Applier.Apply(ctx, tree, doc, sid, r.opts.Actor+" (drift remediation)")
	if rep == nil {
		return waiting("remediating drift", err)
	}
	r.sessionDone(ctx, sid)
	status := rep.Status()
	r.metrics.applies.WithLabelValues("drift", string(status)).Inc()
	applied, _, refused, failed := rep.Counts()
	log.Info().Str("status", string(status)).Int("applied", applied).Int("refused", refused).Int("failed", failed).Msg("drift remediated")
	if status != store.StatusApplied {
		return nil // the issue stays open; the next check reports what is left
	}
	return r.driftRemediated(ctx, doc, head, sid, applied)
}

// remediationDeferred reports whether merges wait for their apply or
// approval: remediating now would apply them unreviewed.
func (r *Reconciler) remediationDeferred(ctx context.Context) (bool, error) {
	pending, err := r.opts.Store.ListPullRequests(ctx, store.PRMergedPending, store.PRWaitingApproval)
	if err != nil {
		return true, waiting("reading pull requests", err)
	}
	if len(pending) == 0 {
		return false, nil
	}
	var nums []string
	for _, pr := range pending {
		nums = append(nums, fmt.Sprintf("#%d", pr.Number))
	}
	r.log.Warn().Strs("prs", nums).Msg("drift remediation deferred: merges wait for their apply or approval")
	return true, nil
}

// driftRemediated stores that every planned resource of doc is in sync
// after apply session sid, and closes the drift issue.
func (r *Reconciler) driftRemediated(ctx context.Context, doc *planner.Document, head, sid string, applied int) error {
	for _, rp := range doc.Resources {
		if rp.Error != "" {
			continue
		}
		r.metrics.drift.WithLabelValues(rp.Resource).Set(0)
		if err := r.opts.Store.PutDrift(ctx, store.Drift{Resource: rp.Resource, Commit: head, SID: sid, CheckedAt: r.opts.Now()}); err != nil {
			return waiting("storing drift state", err)
		}
	}
	return r.closeIssue(ctx, issueDrift, fmt.Sprintf("Drift remediated at `%s` by apply session `%s` (%d role(s) applied).", forge.Short(head), sid, applied))
}

// driftOnly is doc reduced to the roles that differ from the branch (and
// the resources that could not be checked).
func driftOnly(doc *planner.Document) *planner.Document {
	out := *doc
	out.Resources = nil
	for _, rp := range doc.Resources {
		if rp.Error != "" {
			out.Resources = append(out.Resources, rp)
			continue
		}
		keep := rp
		keep.Roles = nil
		for _, role := range rp.Roles {
			if role.CurrentState.RequiresMigration {
				keep.Roles = append(keep.Roles, role)
			}
		}
		if len(keep.Roles) > 0 {
			out.Resources = append(out.Resources, keep)
		}
	}
	return &out
}

// driftDigest is the digest of one resource's drifted roles.
func driftDigest(rp planner.ResourcePlan) string {
	d := planner.Document{Resources: []planner.ResourcePlan{rp}}
	return driftOnly(&d).Digest()
}
