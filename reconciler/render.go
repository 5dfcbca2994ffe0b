package reconciler

import (
	"github.com/rolecd/rolecd/applier/report"
	"github.com/rolecd/rolecd/internal/inventory"
	"github.com/rolecd/rolecd/planner"
	"github.com/rolecd/rolecd/reporter"
)

// planComment renders a plan (or, with doc nil, invalid role files) as the
// parts of one pull-request comment.
func (r *Reconciler) planComment(doc *planner.Document, commit string, pr int, onMerge string, problems []string) []string {
	if doc == nil {
		doc = &planner.Document{Version: planner.DocumentVersion, Source: planner.Source{Commit: commit, PullRequest: pr}, Resources: []planner.ResourcePlan{}}
	}
	return reporter.PlanComment(doc, reporter.CommentInfo{
		Commit: commit, PR: pr, OnMerge: onMerge, Errors: problems, MaxLen: r.opts.MaxCommentLen,
	})
}

// inventoryComment renders a pull request's plan with the inventory
// changes that were not connected.
func (r *Reconciler) inventoryComment(doc *planner.Document, commit string, pr int, onMerge string, inv inventory.Diff) []string {
	info := reporter.CommentInfo{Commit: commit, PR: pr, OnMerge: onMerge, MaxLen: r.opts.MaxCommentLen}
	if !inv.Empty() {
		info.Inventory = &inv
	}
	return reporter.PlanComment(doc, info)
}

// applyComment renders an apply result.
func (r *Reconciler) applyComment(rep *report.Report, planSID string) string {
	return reporter.ApplyComment(rep, planSID)
}

// driftIssue renders the drift issue of a plan reduced to drifted roles.
func (r *Reconciler) driftIssue(doc *planner.Document) (title, body string) {
	return reporter.DriftIssue(doc)
}
