package reconciler

import (
	"context"
	"errors"
	"fmt"
	"strings"

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

// planPR plans an open pull request at its head: fetch, validate, plan,
// report. Invalid role files are reported (comment and failure status) and
// stall; a resource that cannot be planned is reported and retried.
func (r *Reconciler) planPR(ctx context.Context, rec *store.PullRequest, fpr PR) error {
	head := fpr.HeadSHA
	log := r.log.With().Int("pr", fpr.Number).Str("commit", short(head)).Logger()
	src := planner.Source{Commit: head, PullRequest: fpr.Number}

	// fetch
	if err := r.ensureCommit(ctx, head, fpr.Number, fpr.HeadRef); err != nil {
		return err
	}
	base, err := r.opts.Source.BranchHead()
	if err != nil {
		return waiting("reading the branch head", err)
	}
	touches, err := r.opts.Source.Touches(base, head)
	if err != nil {
		return waiting("comparing with the branch", err)
	}
	if !touches {
		if rec.PlanSID != "" {
			// An earlier head changed the role files; this one does not.
			if err := r.upsertComment(ctx, fpr.Number, commentPlan, []string{noChangesComment(head, r.opts.Path)}); err != nil {
				return err
			}
			if err := r.setStatus(ctx, head, StatusPlan, "success", "no role-file changes"); err != nil {
				return err
			}
		}
		log.Info().Msg("pull request does not touch the role files")
		rec.PlannedSHA, rec.PlanSID, rec.Digest, rec.Checksums = head, "", "", nil
		return r.putPR(ctx, rec)
	}

	// validate
	tree, problems, err := r.loadTree(head)
	if err != nil {
		return err
	}
	if problems != nil {
		return r.reportInvalid(ctx, src, problems, invalidTree{
			flow: "pr", pr: fpr.Number, commit: head, comment: commentPlan,
			status:     StatusPlan,
			statusDesc: "invalid role files: " + plural(len(problems), "problem"),
			stall:      "invalid role files",
			warn:       &log,
			keep: func(sid string) error {
				rec.PlannedSHA, rec.PlanSID, rec.Digest, rec.Checksums = head, sid, "", nil
				return r.putPR(ctx, rec)
			},
		})
	}

	// trust: connections come from the branch head, never from the PR
	planned, inv, err := r.reviewedConnections(base, tree)
	if err != nil {
		return err
	}
	if !inv.Empty() {
		log.Warn().Int("not_connected", inv.NotConnected()).Int("changes", len(inv.Changes)).
			Msg("pull request changes the inventory: new or changed resources are not connected until merged")
	}

	// plan
	doc, err := r.plan(ctx, planned, src, store.KindPlan)
	if err != nil {
		return err
	}
	log = log.With().Str("sid", doc.SID).Logger()
	failed := failedResources(doc)
	sum := doc.Summary()

	// report
	if err := r.upsertComment(ctx, fpr.Number, commentPlan, r.inventoryComment(doc, head, fpr.Number, onMergeText(doc, inv), inv)); err != nil {
		return err
	}
	rec.PlanSID, rec.Digest, rec.Checksums = doc.SID, doc.Digest(), checksumsOf(doc)
	if len(failed) > 0 {
		r.metrics.plans.WithLabelValues("pr", "error").Inc()
		if err := r.setStatus(ctx, head, StatusPlan, "failure", plural(len(failed), "resource")+" could not be planned; retrying"); err != nil {
			return err
		}
		rec.PlannedSHA = "" // re-planned on the next attempt
		if err := r.putPR(ctx, rec); err != nil {
			return err
		}
		return waiting("planning", errors.New(strings.Join(failed, "; ")))
	}
	outcome, desc := "no-changes", "no changes"
	if sum.Changes > 0 {
		outcome = "changes"
		desc = fmt.Sprintf("%s to change, digest %s", plural(sum.Changes, "role"), doc.Digest()[:12])
	}
	if n := inv.NotConnected(); n > 0 {
		desc += fmt.Sprintf("; %s not connected until merged", plural(n, "resource"))
	}
	r.metrics.plans.WithLabelValues("pr", outcome).Inc()
	if err := r.setStatus(ctx, head, StatusPlan, "success", desc); err != nil {
		return err
	}
	rec.PlannedSHA = head
	if err := r.putPR(ctx, rec); err != nil {
		return err
	}
	log.Info().Int("changes", sum.Changes).Str("digest", doc.Digest()).Msg("pull request planned")
	return nil
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
		r.log.Warn().Str("commit", short(base)).Strs("problems", problems).
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
	return fmt.Sprintf("**rolecd**: commit `%s` changes nothing under `%s`; there is nothing to plan.", short(head), dir)
}
