package reconciler

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rolecd/rolecd/store"
)

// until polls cond (a state in the store) until it holds, with a deadline.
func until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A task that runs longer than the lease keeps it: the lease is renewed
// while the task runs, so another daemon cannot take over meanwhile.
func TestLeaseRenewedWhileATaskRuns(t *testing.T) {
	const ttl = 300 * time.Millisecond
	h := newHarness(t, func(o *Options) { o.LeaseTTL = ttl })
	h.openPR(1, "h1", "SELECT")
	var during []string
	h.db.onPlan = func(ctx context.Context) {
		start, err := h.store.GetLease(ctx, LeaseName)
		if err != nil {
			t.Error(err)
			return
		}
		// Work for longer than the TTL, watching the lease being renewed.
		until(t, "two renewals and a TTL's worth of work", func() bool {
			l, err := h.store.GetLease(ctx, LeaseName)
			return err == nil && l.ExpiresAt.Sub(start.ExpiresAt) >= ttl/2 && time.Since(start.ExpiresAt.Add(-ttl)) > ttl
		})
		if _, ok, err := h.store.TryLease(ctx, LeaseName, "other", ttl); err != nil || ok {
			during = append(during, "another daemon took the lease during the task")
		}
		if l, _ := h.store.GetLease(ctx, LeaseName); l.Generation != start.Generation || l.Holder != "test" {
			during = append(during, "the lease changed hands during the task")
		}
		if ctx.Err() != nil {
			during = append(during, "the task was cancelled")
		}
	}
	h.post("pull_request", "d1", prPayload("opened", 1))
	h.drain()
	if len(during) > 0 {
		t.Errorf("while the task ran: %v", during)
	}
	if rec := h.pr(1); rec.PlannedSHA != "h1" {
		t.Errorf("pull request state after the long task: %+v", rec)
	}
}

// When another daemon takes the lease over during a task (this one was
// paused past its TTL), the next renewal fails and cancels the task, with
// ErrLeaseLost as the cause; nothing of it is written, its delivery stays
// pending for the new leader.
func TestLeaseLostCancelsTheTask(t *testing.T) {
	const ttl = 300 * time.Millisecond
	h := newHarness(t, func(o *Options) { o.LeaseTTL = ttl })
	h.openPR(2, "h1", "SELECT")
	var cause error
	h.db.onPlan = func(ctx context.Context) {
		takeOver(t, h)
		select {
		case <-ctx.Done():
			cause = context.Cause(ctx)
		case <-time.After(10 * time.Second):
			t.Error("the task was not cancelled after the lease was lost")
		}
	}
	h.post("pull_request", "d1", prPayload("opened", 2))
	err := h.r.Drain(t.Context())
	if !errors.Is(err, ErrLeaseLost) {
		t.Errorf("Drain = %v, want ErrLeaseLost", err)
	}
	if !errors.Is(cause, ErrLeaseLost) {
		t.Errorf("the task's context ended with %v, want ErrLeaseLost", cause)
	}
	assertNothingWritten(t, h, 2)
}

// A stale leader that goes on working before any renewal noticed the
// takeover (a renewal interval is long) has its writes refused by the
// store: the write of pull-request state and the report are fenced by the
// lease generation.
func TestStaleLeaderWritesAreFenced(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.LeaseTTL = time.Hour })
	h.openPR(3, "h1", "SELECT")
	h.db.onPlan = func(context.Context) { takeOver(t, h) }
	h.post("pull_request", "d1", prPayload("opened", 3))
	err := h.r.Drain(t.Context())
	var fe *store.FencedError
	if !errors.As(err, &fe) || fe.Current != fe.Generation+1 {
		t.Fatalf("Drain = %v, want a *store.FencedError one generation behind", err)
	}
	assertNothingWritten(t, h, 3)
	if h.r.isLeader() {
		t.Error("the stale leader still believes it leads")
	}
	// It does not work without the lease, and gets it back once free.
	if err := h.r.Drain(t.Context()); err == nil {
		t.Error("Drain without the lease succeeded")
	}
	if err := h.store.ReleaseLease(t.Context(), LeaseName, "other"); err != nil {
		t.Fatal(err)
	}
	h.db.onPlan = nil
	h.drain()
	if rec := h.pr(3); rec.PlannedSHA != "h1" {
		t.Errorf("after regaining the lease: %+v", rec)
	}
}

// takeOver makes "other" the lease holder, as if the harness's daemon had
// been paused past its TTL: one generation more.
func takeOver(t *testing.T, h *harness) {
	t.Helper()
	ctx := context.Background()
	before, err := h.store.GetLease(ctx, LeaseName)
	if err != nil {
		t.Error(err)
		return
	}
	if err := h.store.ReleaseLease(ctx, LeaseName, "test"); err != nil {
		t.Error(err)
		return
	}
	l, ok, err := h.store.TryLease(ctx, LeaseName, "other", time.Hour)
	if err != nil || !ok || l.Generation != before.Generation+1 {
		t.Errorf("takeover: %+v, %v, %v", l, ok, err)
	}
}

// assertNothingWritten: pull request n has no state, no report is queued
// for it, and its delivery is pending.
func assertNothingWritten(t *testing.T, h *harness, n int) {
	t.Helper()
	if rec, err := h.store.GetPullRequest(t.Context(), n); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the stale leader wrote pull request state: %+v, %v", rec, err)
	}
	if due, err := h.store.DueReports(t.Context(), h.clock().Add(time.Hour), 0); err != nil || len(due) != 0 {
		t.Errorf("the stale leader queued reports: %+v, %v", due, err)
	}
	if got := h.forge.count("upsert_comment") + h.forge.count("status"); got != 0 {
		t.Errorf("the stale leader posted %d report(s)", got)
	}
	if d, err := h.store.GetDelivery(t.Context(), "d1"); err != nil || d.State != store.DeliveryPending {
		t.Errorf("delivery = %+v, %v; want it pending for the new leader", d, err)
	}
}

// A stale leader does not remediate drift: the fenced drift-issue report
// (and, were it skipped, the fence check before the apply) stops it.
func TestStaleLeaderDoesNotRemediate(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.DriftRemediate = true; o.LeaseTTL = time.Hour })
	h.src.commit("base", rolesFile("SELECT"), true)
	h.db.onPlan = func(context.Context) { takeOver(t, h) }
	h.r.TriggerDrift()
	if err := h.r.Drain(t.Context()); !errors.Is(err, store.ErrFenced) {
		t.Errorf("Drain = %v, want ErrFenced", err)
	}
	if h.db.applies != 0 {
		t.Errorf("the stale leader remediated (%d applies)", h.db.applies)
	}
}
