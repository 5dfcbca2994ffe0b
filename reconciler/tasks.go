package reconciler

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/rolecd/rolecd/store"
)

// taskNames label metrics and logs.
var taskNames = map[taskKind]string{
	taskPoll: "poll", taskPR: "pr", taskBranch: "branch", taskDrift: "drift", taskCommand: "command",
}

// run runs one task, measures it, and settles its deliveries: processed
// when it succeeded or stalled, kept pending (and the task deferred) when
// it is waiting.
func (r *Reconciler) run(ctx context.Context, t task) error {
	start := time.Now()
	log := r.log.With().Str("task", taskNames[t.kind]).Logger()
	if t.pr > 0 {
		log = log.With().Int("pr", t.pr).Logger()
	}
	defer r.working(t, start)()
	err := r.dispatch(ctx, t)
	result, settled := classify(ctx, err, log)
	if !settled {
		// Shutting down, or the lease was lost (the store refused this
		// stale leader's writes): the deliveries stay pending for the
		// next leader.
		if cause := context.Cause(ctx); errors.Is(cause, ErrLeaseLost) {
			err = errors.Join(err, cause)
		}
		return err
	}
	r.metrics.duration.WithLabelValues(taskNames[t.kind], result).Observe(time.Since(start).Seconds())
	attempts := r.settleDeliveries(ctx, t, result, err, log)
	if result == "waiting" && t.kind != taskPoll {
		r.deferTask(t, max(attempts, 1))
	}
	return err
}

// working marks t as the task in progress since start (for /readyz) and
// returns the function that clears the mark.
func (r *Reconciler) working(t task, start time.Time) (done func()) {
	name := taskNames[t.kind]
	if t.pr > 0 {
		name = fmt.Sprintf("%s #%d", name, t.pr)
	}
	r.mu.Lock()
	r.current, r.currentSince = name, start
	r.mu.Unlock()
	return func() {
		r.mu.Lock()
		r.current, r.currentSince = "", time.Time{}
		r.mu.Unlock()
	}
}

// dispatch runs the flow of t's kind.
func (r *Reconciler) dispatch(ctx context.Context, t task) error {
	switch t.kind {
	case taskPoll:
		return r.poll(ctx)
	case taskPR:
		return r.reconcilePR(ctx, t.pr, t.force)
	case taskBranch:
		return r.reconcileBranch(ctx, t.force)
	case taskDrift:
		return r.checkDrift(ctx, t.remediate)
	case taskCommand:
		return r.runCommand(ctx, t.cmd)
	}
	return nil
}

// classify names a task's result: "ok", "stalled" (reported, not
// retried) or "waiting" (retried later), logging the last two. settled is
// false when the task must not be settled at all: the daemon is shutting
// down or lost its lease.
func classify(ctx context.Context, err error, log zerolog.Logger) (result string, settled bool) {
	switch {
	case err == nil:
		return "ok", true
	case ctx.Err() != nil || errors.Is(err, store.ErrFenced):
		return "", false
	case IsStalled(err):
		log.Warn().Err(err).Msg("stalled: reported, not retried")
		return "stalled", true
	}
	log.Warn().Err(err).Msg("waiting: will retry")
	return "waiting", true
}

// settleDeliveries records the outcome of t's deliveries: failed (to be
// retried) when the task is waiting, else processed with its error, if
// any. It returns the most attempts any waiting delivery has had.
func (r *Reconciler) settleDeliveries(ctx context.Context, t task, result string, err error, log zerolog.Logger) (attempts int) {
	for _, id := range t.deliveries {
		if result == "waiting" {
			if derr := r.opts.Store.DeliveryFailed(ctx, id, err.Error()); derr != nil {
				log.Error().Err(derr).Str("delivery", id).Msg("recording a failed delivery")
			}
			if d, gerr := r.opts.Store.GetDelivery(ctx, id); gerr == nil {
				attempts = max(attempts, d.Attempts)
			}
			continue
		}
		msg := ""
		if err != nil {
			msg = err.Error()
		}
		if ferr := r.opts.Store.FinishDelivery(ctx, id, msg, time.Time{}); ferr != nil {
			log.Error().Err(ferr).Str("delivery", id).Msg("marking a delivery processed")
		}
	}
	return attempts
}

// poll fetches the repository and queues what may have changed: pending
// deliveries (also those another daemon recorded), open pull requests whose
// head was not planned yet, tracked pull requests that left the open
// state, the branch, and every deferred task.
func (r *Reconciler) poll(ctx context.Context) error {
	var errs []error
	if err := r.opts.Source.Fetch(ctx); err != nil {
		errs = append(errs, waiting("fetching the repository (serving the last fetched state)", err))
	}
	r.requeueAll()
	pending, err := r.opts.Store.PendingDeliveries(ctx)
	if err != nil {
		errs = append(errs, waiting("reading pending deliveries", err))
	}
	for _, d := range pending {
		r.enqueueDelivery(ctx, d)
	}
	open := map[int]bool{}
	prs, err := r.opts.Forge.ListOpenPRs(ctx, r.opts.Branch)
	if err != nil {
		r.metrics.forgeErrs.WithLabelValues("list_prs").Inc()
		errs = append(errs, waiting("listing open pull requests", err))
	}
	for _, pr := range prs {
		open[pr.Number] = true
		rec, err := r.opts.Store.GetPullRequest(ctx, pr.Number)
		if err == nil && rec.State == store.PROpen && rec.PlannedSHA == pr.HeadSHA {
			continue // planned at this head already
		}
		r.queue.add(prTask(pr.Number))
	}
	tracked, err := r.opts.Store.ListPullRequests(ctx, store.PROpen, store.PRMergedPending)
	if err != nil {
		errs = append(errs, waiting("reading pull requests", err))
	}
	for _, rec := range tracked {
		if !open[rec.Number] || rec.State == store.PRMergedPending {
			r.queue.add(prTask(rec.Number))
		}
	}
	r.queue.add(branchTask())
	return errors.Join(errs...)
}
