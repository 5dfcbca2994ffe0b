package reconciler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/rolecd/rolecd/applier/report"
	"github.com/rolecd/rolecd/internal/forge"
	"github.com/rolecd/rolecd/planner"
	"github.com/rolecd/rolecd/planner/spec"
	"github.com/rolecd/rolecd/store"
)

// mergeRun is the state of one reconcileMerged run, filled in by its steps.
type mergeRun struct {
	rec      store.PullRequest
	found    bool // rec was stored before this run
	fpr      forge.PR
	force    bool
	log      zerolog.Logger
	mergeSHA string
	src      planner.Source
	tree     *spec.Tree // the merged role files
	doc      *planner.Document
	// The outcome, recorded by mergeRecord: the plan's metric and the
	// refusal; save when a step settled rec (closed, refused, waiting
	// for approval) for the record to store.
	out  outcome
	save bool
}

// reconcileMerged handles a merged pull request: plan the merged tree;
// apply when every role's checksum equals the reviewed plan's, else report
// the new plan and wait for /rolecd apply <digest>. The state is stored
// before each step, so a daemon killed anywhere resumes here: a finished
// apply is reported, never run again; an unfinished one is re-planned and
// compared again (and the applier's in-transaction checksum gate refuses
// whatever was applied meanwhile). force (/rolecd plan) re-plans a merge
// that waits for approval or was refused. The outcome is recorded on
// every exit, by mergeRecord.
func (r *Reconciler) reconcileMerged(ctx context.Context, rec store.PullRequest, found bool, fpr forge.PR, force bool) (err error) {
	run := &mergeRun{rec: rec, found: found, fpr: fpr, force: force, log: r.log.With().Int("pr", rec.Number).Logger()}
	defer func() { err = r.mergeRecord(ctx, run, err) }()
	return runSteps(ctx, run, r.mergeSettled, r.mergeUnplanned, r.mergeResume,
		r.mergeFetch, r.mergeValidate, r.mergePlan, r.mergeCompare, r.mergeApply)
}

// mergeRecord records how a reconcileMerged run ended, whichever step
// ended it, and returns the flow's error: the plan's metric and the
// refusal (counted also when a later forge call failed), and the pull
// request's record when a step settled it (its store error then replaces
// the step's). Two records are not the outcome's and stay where they
// are: the pending merge mergeFetch stores before planning (so a restart
// resumes), and an apply's own report and record (applyMerge and
// finishApply, shared with /rolecd apply, record them, with the applies
// metric).
func (r *Reconciler) mergeRecord(ctx context.Context, run *mergeRun, err error) error {
	return r.settle(ctx, "merge", run.out, run.save, &run.rec, err)
}

// mergeSettled ends the flow for a merge already handled: applied or
// closed, or waiting for approval or refused unless forced.
func (r *Reconciler) mergeSettled(_ context.Context, run *mergeRun) (bool, error) {
	switch run.rec.State {
	case store.PRApplied, store.PRClosed:
		return true, nil
	case store.PRWaitingApproval, store.PRRefused:
		return !run.force, nil
	}
	return false, nil
}

// mergeUnplanned closes a merge of an open pull request that does not
// touch the role files.
func (r *Reconciler) mergeUnplanned(ctx context.Context, run *mergeRun) (bool, error) {
	rec, fpr := &run.rec, run.fpr
	if rec.State != store.PROpen {
		return false, nil
	}
	if run.found && rec.PlannedSHA == fpr.HeadSHA && rec.PlanSID == "" {
		rec.State = store.PRClosed // merged without touching the role files
		run.save = true
		return true, nil
	}
	if !run.found {
		touches, err := r.prTouches(ctx, fpr)
		if err != nil {
			return true, err
		}
		if !touches {
			rec.State, rec.HeadSHA = store.PRClosed, fpr.HeadSHA
			run.save = true
			return true, nil
		}
		run.log.Warn().Msg("merged pull request was never planned: its merge needs an approval")
	}
	return false, nil
}

// mergeResume reports or resumes the apply a previous run started.
func (r *Reconciler) mergeResume(ctx context.Context, run *mergeRun) (bool, error) {
	rec := &run.rec
	if rec.State != store.PRMergedPending || rec.ApplySID == "" {
		return false, nil
	}
	done, doc, err := r.resumeApply(ctx, rec)
	if done || err != nil {
		return true, err
	}
	if doc != nil {
		if tree, problems, err := r.loadTree(rec.MergeSHA); err == nil && problems == nil {
			// The interrupted apply's own (reviewed) plan, applied
			// again: the applier re-plans each database and runs
			// what remains of every role whose statements there
			// still equal the reviewed ones; the roles it finished
			// find nothing left to do.
			run.log.Info().Str("plan_sid", doc.SID).Msg("resuming the remaining roles of an interrupted apply")
			return true, r.applyMerge(ctx, rec, tree, doc, r.opts.Actor, "resume")
		}
	}
	return false, nil
}

// mergeFetch makes sure the merge commit is here and on the branch, and
// stores the merge as pending.
func (r *Reconciler) mergeFetch(ctx context.Context, run *mergeRun) (bool, error) {
	rec := &run.rec
	mergeSHA := rec.MergeSHA
	if mergeSHA == "" {
		mergeSHA = run.fpr.MergeCommitSHA
	}
	if mergeSHA == "" {
		head, err := r.opts.Source.BranchHead()
		if err != nil {
			return true, waiting("reading the branch head", err)
		}
		mergeSHA = head
	}
	if err := r.ensureCommit(ctx, mergeSHA, 0, ""); err != nil {
		return true, err
	}
	if err := r.onBranch(ctx, mergeSHA, &run.out); err != nil {
		return true, err
	}
	rec.State, rec.MergeSHA, rec.HeadSHA = store.PRMergedPending, mergeSHA, run.fpr.HeadSHA
	if err := r.putPR(ctx, rec); err != nil {
		return true, err
	}
	run.mergeSHA = mergeSHA
	run.log = run.log.With().Str("commit", forge.Short(mergeSHA)).Logger()
	run.src = planner.Source{Commit: mergeSHA, PullRequest: rec.Number}
	return false, nil
}

// mergeValidate loads the merged role files; invalid ones refuse the
// merge and stall.
func (r *Reconciler) mergeValidate(ctx context.Context, run *mergeRun) (bool, error) {
	tree, problems, err := r.loadTree(run.mergeSHA)
	if err != nil {
		return true, err
	}
	if problems == nil {
		run.tree = tree
		return false, nil
	}
	rec := &run.rec
	return true, r.reportInvalid(ctx, run.src, problems, invalidTree{
		out: &run.out, refusal: "invalid-merge", pr: rec.Number, commit: run.mergeSHA, comment: commentMerge,
		preamble:   "**Not applied**: the merged tree has invalid role files. Fix them on the branch; the drift check reports what differs meanwhile.",
		status:     StatusApply,
		statusDesc: "not applied: invalid role files after merge",
		stall:      "invalid role files after merge",
		keep: func(sid string) {
			rec.State, rec.MergePlanSID, rec.MergeDigest = store.PRRefused, sid, ""
			run.save = true
		},
	})
}

// mergePlan plans the merged tree; a resource that cannot be planned is
// retried.
func (r *Reconciler) mergePlan(ctx context.Context, run *mergeRun) (bool, error) {
	doc, err := r.plan(ctx, run.tree, run.src, store.KindPlan)
	if err != nil {
		return true, err
	}
	run.doc = doc
	run.log = run.log.With().Str("sid", doc.SID).Logger()
	if failed := failedResources(doc); len(failed) > 0 {
		run.out.plan = "error"
		return true, waiting("planning the merged tree", errors.New(strings.Join(failed, "; ")))
	}
	run.out.plan = "no-changes"
	if doc.Summary().Changes > 0 {
		run.out.plan = "changes"
	}
	return false, nil
}

// mergeCompare compares with the review: a plan that differs is commented
// and waits for approval.
func (r *Reconciler) mergeCompare(ctx context.Context, run *mergeRun) (bool, error) {
	rec, doc := &run.rec, run.doc
	diff := checksumDiff(rec.Checksums, checksumsOf(doc))
	if len(diff) == 0 {
		return false, nil
	}
	digest := doc.Digest()
	run.out.refusal = "checksum-mismatch"
	run.log.Warn().Strs("differs", diff).Str("digest", digest).Msg("merged plan differs from the reviewed plan: waiting for approval")
	if err := r.upsertComment(ctx, rec.Number, commentMerge, r.planComment(doc, run.mergeSHA, rec.Number, waitingText(*rec, diff, digest), nil)); err != nil {
		return true, err
	}
	if err := r.setStatus(ctx, run.mergeSHA, StatusApply, "pending", "not applied: the plan changed since review; waiting for /rolecd apply "+digest[:12]+"…"); err != nil {
		return true, err
	}
	rec.State, rec.MergePlanSID, rec.MergeDigest = store.PRWaitingApproval, doc.SID, digest
	run.save = true
	return true, nil
}

// mergeApply applies the reviewed plan.
func (r *Reconciler) mergeApply(ctx context.Context, run *mergeRun) (bool, error) {
	return true, r.applyMerge(ctx, &run.rec, run.tree, run.doc, r.opts.Actor, "merge")
}

// waitingText explains why a merge was not applied and how to apply it.
func waitingText(rec store.PullRequest, diff []string, digest string) string {
	var b strings.Builder
	b.WriteString("**Not applied.** ")
	if rec.PlanSID == "" || len(rec.Checksums) == 0 {
		b.WriteString("This pull request was merged without a reviewed plan.")
	} else {
		fmt.Fprintf(&b, "The plan of the merged tree differs from the plan reviewed at `%s` (plan session `%s`):\n", forge.Short(rec.PlannedSHA), rec.PlanSID)
		const maxLines = 20
		for i, d := range diff {
			if i == maxLines {
				fmt.Fprintf(&b, "- … and %d more\n", len(diff)-maxLines)
				break
			}
			fmt.Fprintf(&b, "- `%s`\n", d)
		}
		b.WriteString("\nThe live databases or the branch changed between review and merge.")
	}
	fmt.Fprintf(&b, " Review the plan below; a user with the required repository permission applies exactly this plan by commenting:\n\n```\n/rolecd apply %s\n```\n", digest)
	return b.String()
}

// resumeApply looks at the apply a previous run started for rec. A
// finished, successful apply is reported (done). An interrupted one (the
// daemon was stopped or died while it ran) returns the plan document it
// was applying, to be applied again. Anything else (refused, failed, or no
// plan to resume) means the merge is planned and compared again.
func (r *Reconciler) resumeApply(ctx context.Context, rec *store.PullRequest) (done bool, resume *planner.Document, err error) {
	sess, err := r.opts.Store.GetSession(ctx, rec.ApplySID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false, nil, nil // the daemon died before the applier recorded anything
	case err != nil:
		return false, nil, waiting("reading the apply session", err)
	}
	if sess.Status == store.StatusInterrupted || sess.Status == store.StatusRunning {
		if doc := r.planOf(ctx, sess.PlanSID); doc != nil {
			return false, doc, nil
		}
	}
	if sess.Status != store.StatusApplied {
		r.log.Warn().Int("pr", rec.Number).Str("sid", sess.SID).Str("status", string(sess.Status)).
			Msg("resuming a merge whose apply did not finish: planning it again")
		return false, nil, nil
	}
	var rep report.Report
	if err := json.Unmarshal(sess.Detail, &rep); err != nil {
		return false, nil, fmt.Errorf("reading apply report %s: %w", sess.SID, err)
	}
	r.log.Info().Int("pr", rec.Number).Str("sid", sess.SID).Msg("resuming a merge whose apply finished: reporting it")
	return true, nil, r.finishApply(ctx, rec, &rep, sess.PlanSID, "merge")
}

// planOf returns the plan document of plan session sid, or nil when it
// cannot be read.
func (r *Reconciler) planOf(ctx context.Context, sid string) *planner.Document {
	if sid == "" {
		return nil
	}
	sess, err := r.opts.Store.GetSession(ctx, sid)
	if err != nil || sess.Kind != store.KindPlan {
		return nil
	}
	var doc planner.Document
	if err := json.Unmarshal(sess.Detail, &doc); err != nil || doc.Version != planner.DocumentVersion {
		return nil
	}
	return &doc
}

// applyMerge applies doc for a merged pull request and reports the result.
// The apply session's id is stored first, so a restart finds it.
func (r *Reconciler) applyMerge(ctx context.Context, rec *store.PullRequest, tree *spec.Tree, doc *planner.Document, actor, trigger string) error {
	sid := uuid.NewString()
	rec.State, rec.ApplySID = store.PRMergedPending, sid
	if err := r.putPR(ctx, rec); err != nil {
		return err
	}
	log := r.log.With().Int("pr", rec.Number).Str("sid", sid).Str("plan_sid", doc.SID).Logger()
	log.Info().Str("actor", actor).Msg("applying")
	rep, err := r.opts.Applier.Apply(ctx, tree, doc, sid, actor)
	if rep == nil {
		return waiting("applying", err)
	}
	r.sessionDone(ctx, sid)
	if ctx.Err() != nil {
		// Interrupted: the merge stays pending; the next run resumes it.
		return waiting("apply interrupted", ctx.Err())
	}
	if err != nil {
		log.Error().Err(err).Msg("apply finished with an error")
	}
	if unreachable(rep) {
		// Nothing ran: PostgreSQL is down. The next attempt plans again.
		r.metrics.applies.WithLabelValues(trigger, string(rep.Status())).Inc()
		return waiting("applying", errors.New("no resource could be reached; nothing was applied"))
	}
	return r.finishApply(ctx, rec, rep, doc.SID, trigger)
}

// unreachable reports whether an apply ran nothing because its resources
// failed before any role (connection, lock, inspection).
func unreachable(rep *report.Report) bool {
	if len(rep.Resources) == 0 {
		return false
	}
	for _, rr := range rep.Resources {
		if rr.Error == "" || len(rr.Roles) > 0 {
			return false
		}
	}
	return true
}

// finishApply reports an apply on the pull request (a result comment and
// the rolecd/apply status) and stores the final state.
func (r *Reconciler) finishApply(ctx context.Context, rec *store.PullRequest, rep *report.Report, planSID, trigger string) error {
	status := rep.Status()
	r.metrics.applies.WithLabelValues(trigger, string(status)).Inc()
	applied, skipped, refused, failed := rep.Counts()
	if err := r.comment(ctx, rec.Number, "apply/"+rep.SID, r.applyComment(rep, planSID)); err != nil {
		return err
	}
	state, desc := "success", fmt.Sprintf("%d applied, %d skipped", applied, skipped)
	if status != store.StatusApplied {
		state = "failure"
		desc = fmt.Sprintf("%d applied, %d refused, %d failed: see the comment", applied, refused, failed)
	}
	if err := r.setStatus(ctx, rec.MergeSHA, StatusApply, state, desc); err != nil {
		return err
	}
	rec.ApplySID = rep.SID
	rec.State = store.PRApplied
	if status != store.StatusApplied {
		rec.State = store.PRRefused
	}
	r.log.Info().Int("pr", rec.Number).Str("sid", rep.SID).Str("status", string(status)).
		Int("applied", applied).Int("skipped", skipped).Int("refused", refused).Int("failed", failed).Msg("applied")
	return r.putPR(ctx, rec)
}

// prTouches reports whether a pull request the daemon never saw open
// changes the role files, from the forge's list of its files.
func (r *Reconciler) prTouches(ctx context.Context, fpr forge.PR) (bool, error) {
	files, err := r.opts.Forge.PRFiles(ctx, fpr.Number)
	if err != nil {
		return false, r.forgeError("pr_files", err)
	}
	dir := path.Clean("/" + r.opts.Path)
	for _, f := range files {
		if dir == "/" || strings.HasPrefix(path.Clean("/"+f)+"/", dir+"/") {
			return true, nil
		}
	}
	return false, nil
}

// onBranch makes sure sha, the merge commit the forge reports, is in the
// watched branch's history (fetching once if the branch is behind): the
// merge flow connects with the settings of that commit, so it must be
// merged, reviewed state, never a commit only a pull request carries.
// A Source without an ancestor test (the in-memory fakes of unit tests)
// is trusted to report merged commits; gitsource.Source has one. A commit
// off the branch is refused in out.
func (r *Reconciler) onBranch(ctx context.Context, sha string, out *outcome) error {
	anc, ok := r.opts.Source.(ancestry)
	if !ok {
		return nil
	}
	for attempt := 0; ; attempt++ {
		head, err := r.opts.Source.BranchHead()
		if err != nil {
			return waiting("reading the branch head", err)
		}
		ok, err := anc.IsAncestor(sha, head)
		if err != nil {
			return waiting("checking the merge commit is on the branch", err)
		}
		if ok {
			return nil
		}
		if attempt > 0 {
			out.refusal = "off-branch"
			return stalled("merge commit", fmt.Errorf("%s is not in the history of branch %s: rolecd connects only with merged settings", forge.Short(sha), r.opts.Branch))
		}
		if err := r.opts.Source.Fetch(ctx); err != nil {
			return waiting("fetching the branch", err)
		}
	}
}
