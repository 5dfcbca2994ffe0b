package reconciler

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

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
	r.log.Info().Str("commit", short(head)).Str("previous", short(last)).Msg("branch moved")
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

// checkDrift re-plans the branch head against every resource. Roles whose
// live state differs become a drift session, a metric, a log line, and the
// drift issue (updated in place, closed when drift is gone). With
// remediate, the plan is applied, unless a merge waits for its apply or
// approval (remediating would apply it unreviewed).
func (r *Reconciler) checkDrift(ctx context.Context, remediate bool) error {
	head, err := r.opts.Source.BranchHead()
	if err != nil {
		return waiting("reading the branch head", err)
	}
	log := r.log.With().Str("commit", short(head)).Logger()
	tree, problems, err := r.loadTree(head)
	if err != nil {
		return err
	}
	if problems != nil {
		r.metrics.plans.WithLabelValues("drift", "invalid").Inc()
		log.Error().Strs("problems", problems).Msg("drift check impossible: the branch has invalid role files")
		return stalled("drift check: invalid role files on the branch", errors.New(strings.Join(problems, "; ")))
	}
	started := time.Now().UTC()
	doc, err := r.opts.Planner.Plan(ctx, tree, planner.Source{Commit: head}, uuid.NewString())
	if err != nil {
		return waiting("drift check", err)
	}
	log = log.With().Str("sid", doc.SID).Logger()
	previous := map[string]store.Drift{}
	if list, err := r.opts.Store.ListDrift(ctx); err == nil {
		for _, d := range list {
			previous[d.Resource] = d
		}
	} else {
		return waiting("reading drift state", err)
	}
	wasDrifted := false
	for _, d := range previous {
		wasDrifted = wasDrifted || len(d.Roles) > 0
	}

	drifted := driftOnly(doc)
	var failed []string
	nowDrifted := false
	for _, rp := range doc.Resources {
		if rp.Error != "" {
			failed = append(failed, rp.Resource+": "+rp.Error)
			log.Warn().Str("resource", rp.Resource).Str("error", rp.Error).Msg("drift check: resource not planned")
			continue
		}
		var roles []string
		for _, role := range rp.Roles {
			if role.CurrentState.RequiresMigration {
				roles = append(roles, role.Config.RoleName)
			}
		}
		r.metrics.drift.WithLabelValues(rp.Resource).Set(float64(len(roles)))
		d := store.Drift{Resource: rp.Resource, Roles: roles, Commit: head, SID: doc.SID, CheckedAt: r.opts.Now()}
		if len(roles) > 0 {
			nowDrifted = true
			d.Digest = driftDigest(rp)
			d.Since = previous[rp.Resource].Since
			if d.Since.IsZero() {
				d.Since = r.opts.Now()
			}
			log.Warn().Str("resource", rp.Resource).Strs("roles", roles).Msg("drift: live state differs from the branch")
		}
		if err := r.opts.Store.PutDrift(ctx, d); err != nil {
			return waiting("storing drift state", err)
		}
	}
	outcome := "no-changes"
	if nowDrifted {
		outcome = "changes"
	}
	r.metrics.plans.WithLabelValues("drift", outcome).Inc()
	if nowDrifted || wasDrifted || len(failed) > 0 {
		// A drift session when there is drift, and when it went away.
		if err := r.record(ctx, PlanSession(doc, store.KindDrift, r.opts.Actor, started)); err != nil {
			return err
		}
	}
	switch {
	case nowDrifted:
		title, body := r.driftIssue(drifted)
		if err := r.upsertIssue(ctx, issueDrift, title, body); err != nil {
			return err
		}
	case wasDrifted && len(failed) == 0:
		log.Info().Msg("drift is gone")
		if err := r.closeIssue(ctx, issueDrift, fmt.Sprintf("No drift at `%s`: every role matches the branch (drift session `%s`).", short(head), doc.SID)); err != nil {
			return err
		}
	}
	if nowDrifted && remediate {
		if err := r.remediate(ctx, tree, doc, head); err != nil {
			return err
		}
	}
	if len(failed) > 0 {
		return waiting("drift check", errors.New(strings.Join(failed, "; ")))
	}
	r.mu.Lock()
	r.lastDrift, r.lastDriftRemediate = head, remediate
	r.mu.Unlock()
	return nil
}

// remediate applies a drift plan, unless a merge is pending.
func (r *Reconciler) remediate(ctx context.Context, tree *spec.Tree, doc *planner.Document, head string) error {
	pending, err := r.opts.Store.ListPullRequests(ctx, store.PRMergedPending, store.PRWaitingApproval)
	if err != nil {
		return waiting("reading pull requests", err)
	}
	if len(pending) > 0 {
		var nums []string
		for _, pr := range pending {
			nums = append(nums, fmt.Sprintf("#%d", pr.Number))
		}
		r.log.Warn().Strs("prs", nums).Msg("drift remediation deferred: merges wait for their apply or approval")
		return nil
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
	for _, rp := range doc.Resources {
		if rp.Error != "" {
			continue
		}
		r.metrics.drift.WithLabelValues(rp.Resource).Set(0)
		if err := r.opts.Store.PutDrift(ctx, store.Drift{Resource: rp.Resource, Commit: head, SID: sid, CheckedAt: r.opts.Now()}); err != nil {
			return waiting("storing drift state", err)
		}
	}
	return r.closeIssue(ctx, issueDrift, fmt.Sprintf("Drift remediated at `%s` by apply session `%s` (%d role(s) applied).", short(head), sid, applied))
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
