package reconciler

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/rs/zerolog"

	"github.com/rolecd/rolecd/internal/forge"
	"github.com/rolecd/rolecd/internal/inventory"
	"github.com/rolecd/rolecd/planner"
	"github.com/rolecd/rolecd/planner/spec"
	"github.com/rolecd/rolecd/store"
)

// Commit status contexts.
const (
	StatusPlan  = "rolecd/plan"
	StatusApply = "rolecd/apply"
)

// commentPlan is the key of the one plan comment per pull request; the
// merge comment (a plan of the merged tree that waits for approval, or an
// invalid merged tree) has its own.
const (
	commentPlan  = "plan"
	commentMerge = "merge"
)

// loadPR returns the stored state of pull request n, or a new open one.
func (r *Reconciler) loadPR(ctx context.Context, n int) (store.PullRequest, bool, error) {
	rec, err := r.opts.Store.GetPullRequest(ctx, n)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.PullRequest{Number: n, State: store.PROpen}, false, nil
	case err != nil:
		return rec, false, waiting("reading pull request state", err)
	}
	return rec, true, nil
}

func (r *Reconciler) putPR(ctx context.Context, rec *store.PullRequest) error {
	rec.UpdatedAt = r.opts.Now()
	if err := r.opts.Store.PutPullRequest(ctx, rec, r.fence()); err != nil {
		return waiting("storing pull request state", err)
	}
	return nil
}

// reconcilePR brings pull request n up to date: plan its head when it is
// open (once per head unless forced), or handle its merge or close.
func (r *Reconciler) reconcilePR(ctx context.Context, n int, force bool) error {
	fpr, err := r.opts.Forge.GetPR(ctx, n)
	if err != nil {
		return r.forgeError("get_pr", err)
	}
	if fpr.BaseRef != r.opts.Branch {
		r.log.Debug().Int("pr", n).Str("base", fpr.BaseRef).Msg("pull request targets another branch: ignored")
		return nil
	}
	rec, found, err := r.loadPR(ctx, n)
	if err != nil {
		return err
	}
	if fpr.State != "open" {
		if fpr.Merged {
			return r.reconcileMerged(ctx, rec, found, fpr, force)
		}
		if found && rec.State == store.PROpen {
			rec.State = store.PRClosed
			return r.putPR(ctx, &rec)
		}
		return nil
	}
	if rec.State != store.PROpen {
		// Reopened after a close.
		rec.State, rec.PlannedSHA = store.PROpen, ""
	}
	rec.HeadSHA = fpr.HeadSHA
	if !force && found && rec.PlannedSHA == fpr.HeadSHA {
		return nil // planned at this head already: a coalesced burst ends here
	}
	return r.planPR(ctx, &rec, fpr)
}

// prRun is the state of one planPR run, filled in by its steps.
type prRun struct {
	rec     *store.PullRequest
	fpr     forge.PR
	head    string
	log     zerolog.Logger
	src     planner.Source
	base    string         // the branch head
	tree    *spec.Tree     // the pull request's role files
	planned *spec.Tree     // tree with the branch head's connections
	inv     inventory.Diff // what the pull request changes in the inventory
	doc     *planner.Document
	failed  []string // resources that could not be planned
	// The outcome, recorded by prRecord: the plan's metric; save when a
	// step settled rec (to be stored); headPlanned when the head is planned.
	out         outcome
	save        bool
	headPlanned bool
}

// planPR plans an open pull request at its head: fetch, validate, plan,
// report. Invalid role files are reported (comment and failure status) and
// stall; a resource that cannot be planned is reported and retried. The
// outcome is recorded on every exit, by prRecord.
func (r *Reconciler) planPR(ctx context.Context, rec *store.PullRequest, fpr forge.PR) (err error) {
	run := &prRun{
		rec: rec, fpr: fpr, head: fpr.HeadSHA,
		log: r.log.With().Int("pr", fpr.Number).Str("commit", forge.Short(fpr.HeadSHA)).Logger(),
		src: planner.Source{Commit: fpr.HeadSHA, PullRequest: fpr.Number},
	}
	defer func() { err = r.prRecord(ctx, run, err) }()
	return runSteps(ctx, run, r.prFetch, r.prValidate, r.prTrust, r.prPlan, r.prComment, r.prFailed, r.prSucceeded)
}

// prRecord records how a planPR run ended, whichever step ended it, and
// returns the flow's error: the plan's metric (counted also when a later
// forge call failed), the pull request's record when a step settled it
// (its store error then replaces the step's), and the "planned" log line
// once that record is stored. A step that failed before settling the
// record (fetching, planning, a comment or status the forge refused)
// leaves it as stored, so the head is planned again.
func (r *Reconciler) prRecord(ctx context.Context, run *prRun, err error) error {
	err = r.settle(ctx, "pr", run.out, run.save, run.rec, err)
	if run.headPlanned && err == nil { // the last step planned the head, and its record is stored
		run.log.Info().Int("changes", run.doc.Summary().Changes).Str("digest", run.doc.Digest()).Msg("pull request planned")
	}
	return err
}

// prFetch makes sure the head is here and ends the flow when the pull
// request does not touch the role files.
func (r *Reconciler) prFetch(ctx context.Context, run *prRun) (bool, error) {
	if err := r.ensureCommit(ctx, run.head, run.fpr.Number, run.fpr.HeadRef); err != nil {
		return true, err
	}
	base, err := r.opts.Source.BranchHead()
	if err != nil {
		return true, waiting("reading the branch head", err)
	}
	run.base = base
	touches, err := r.opts.Source.Touches(base, run.head)
	if err != nil {
		return true, waiting("comparing with the branch", err)
	}
	if touches {
		return false, nil
	}
	if run.rec.PlanSID != "" {
		// An earlier head changed the role files; this one does not.
		if err := r.upsertComment(ctx, run.fpr.Number, commentPlan, []string{noChangesComment(run.head, r.opts.Path)}); err != nil {
			return true, err
		}
		if err := r.setStatus(ctx, run.head, StatusPlan, "success", "no role-file changes"); err != nil {
			return true, err
		}
	}
	run.log.Info().Msg("pull request does not touch the role files")
	run.rec.PlannedSHA, run.rec.PlanSID, run.rec.Digest, run.rec.Checksums = run.head, "", "", nil
	run.save = true
	return true, nil
}

// prValidate loads the head's role files; invalid ones are reported and
// stall.
func (r *Reconciler) prValidate(ctx context.Context, run *prRun) (bool, error) {
	tree, problems, err := r.loadTree(run.head)
	if err != nil {
		return true, err
	}
	if problems == nil {
		run.tree = tree
		return false, nil
	}
	return true, r.reportInvalid(ctx, run.src, problems, invalidTree{
		out: &run.out, pr: run.fpr.Number, commit: run.head, comment: commentPlan,
		status:     StatusPlan,
		statusDesc: "invalid role files: " + plural(len(problems), "problem"),
		stall:      "invalid role files",
		warn:       &run.log,
		keep: func(sid string) {
			run.rec.PlannedSHA, run.rec.PlanSID, run.rec.Digest, run.rec.Checksums = run.head, sid, "", nil
			run.save = true
		},
	})
}

// prTrust takes connections from the branch head, never from the PR.
func (r *Reconciler) prTrust(_ context.Context, run *prRun) (bool, error) {
	planned, inv, err := r.reviewedConnections(run.base, run.tree)
	if err != nil {
		return true, err
	}
	run.planned, run.inv = planned, inv
	if !inv.Empty() {
		run.log.Warn().Int("not_connected", inv.NotConnected()).Int("changes", len(inv.Changes)).
			Msg("pull request changes the inventory: new or changed resources are not connected until merged")
	}
	return false, nil
}

// prPlan plans the trusted tree and records the plan session.
func (r *Reconciler) prPlan(ctx context.Context, run *prRun) (bool, error) {
	doc, err := r.plan(ctx, run.planned, run.src, store.KindPlan)
	if err != nil {
		return true, err
	}
	run.doc = doc
	run.log = run.log.With().Str("sid", doc.SID).Logger()
	run.failed = failedResources(doc)
	return false, nil
}

// prComment comments the plan and keeps it in the record. When the
// comment cannot be queued the run ends before its outcome is set: the
// plan session is recorded but no plan is counted (as before the outcome
// was deferred; kept so).
func (r *Reconciler) prComment(ctx context.Context, run *prRun) (bool, error) {
	doc := run.doc
	if err := r.upsertComment(ctx, run.fpr.Number, commentPlan, r.inventoryComment(doc, run.head, run.fpr.Number, onMergeText(doc, run.inv), run.inv)); err != nil {
		return true, err
	}
	run.rec.PlanSID, run.rec.Digest, run.rec.Checksums = doc.SID, doc.Digest(), checksumsOf(doc)
	return false, nil
}

// prFailed reports resources that could not be planned and retries.
func (r *Reconciler) prFailed(ctx context.Context, run *prRun) (bool, error) {
	if len(run.failed) == 0 {
		return false, nil
	}
	run.out.plan = "error"
	if err := r.setStatus(ctx, run.head, StatusPlan, "failure", plural(len(run.failed), "resource")+" could not be planned; retrying"); err != nil {
		return true, err
	}
	run.rec.PlannedSHA = "" // re-planned on the next attempt
	run.save = true
	return true, waiting("planning", errors.New(strings.Join(run.failed, "; ")))
}

// prSucceeded sets the success status and marks the head planned.
func (r *Reconciler) prSucceeded(ctx context.Context, run *prRun) (bool, error) {
	doc, sum := run.doc, run.doc.Summary()
	desc := "no changes"
	run.out.plan = "no-changes"
	if sum.Changes > 0 {
		run.out.plan = "changes"
		desc = fmt.Sprintf("%s to change, digest %s", plural(sum.Changes, "role"), doc.Digest()[:12])
	}
	if n := run.inv.NotConnected(); n > 0 {
		desc += fmt.Sprintf("; %s not connected until merged", plural(n, "resource"))
	}
	if err := r.setStatus(ctx, run.head, StatusPlan, "success", desc); err != nil {
		return true, err
	}
	run.rec.PlannedSHA = run.head
	run.save, run.headPlanned = true, true
	return true, nil
}

// onMergeText tells reviewers what happens on merge.
func onMergeText(doc *planner.Document, inv inventory.Diff) string {
	if inv.NotConnected() > 0 {
		return "On merge, rolecd connects to the new or changed resources for the first time and plans the merged tree; " +
			"their roles were not reviewed here, so it comments the new plan and waits for `/rolecd apply <digest>` from a user with the required permission."
	}
	if doc.Summary().Changes == 0 {
		return "On merge: nothing to apply; every role is in sync."
	}
	return "On merge, rolecd plans the merged tree and applies it only if every role's checksum equals the one above; " +
		"otherwise it comments the new plan here and waits for `/rolecd apply <digest>` from a user with the required permission."
}

// reviewedConnections restricts the pull request's tree to the resources
// whose connection equals the one at the branch head base, each with the
// branch head's connection (inventory.Restrict). When the branch head's
// role files are invalid nothing is trusted: no resource is connected.
func (r *Reconciler) reviewedConnections(base string, proposed *spec.Tree) (*spec.Tree, inventory.Diff, error) {
	trusted, problems, err := r.loadTree(base)
	if err != nil {
		return nil, inventory.Diff{}, err
	}
	if problems != nil {
		r.log.Warn().Str("commit", forge.Short(base)).Strs("problems", problems).
			Msg("the branch head has invalid role files: no connection of a pull request is trusted")
		trusted = nil
	}
	planned, diff := inventory.Restrict(trusted, proposed)
	return planned, diff, nil
}

// noChangesComment replaces an earlier plan comment when the head no
// longer touches the role files.
func noChangesComment(head, dir string) string {
	if dir == "" {
		dir = "the repository root"
	}
	return fmt.Sprintf("**rolecd**: commit `%s` changes nothing under `%s`; there is nothing to plan.", forge.Short(head), dir)
}
