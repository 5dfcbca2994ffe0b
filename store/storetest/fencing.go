package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rolecd/rolecd/store"
)

// takeLease takes lease name for holder and fails the test unless it got it.
func takeLease(t *testing.T, b store.Bookkeeping, name, holder string, ttl time.Duration) store.Lease {
	t.Helper()
	l, ok, err := b.TryLease(t.Context(), name, holder, ttl)
	if err != nil || !ok {
		t.Fatalf("%s taking lease %q: ok %v, %v", holder, name, ok, err)
	}
	if l.Name != name || l.Holder != holder {
		t.Fatalf("lease = %+v, want %s held by %s", l, name, holder)
	}
	return l
}

// awaitLease retries TryLease for holder until it succeeds (the lease of
// another, or its own, expired by the database clock), with a deadline.
func awaitLease(t *testing.T, b store.Bookkeeping, name, holder string, ttl time.Duration, cond func(store.Lease) bool) store.Lease {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		l, ok, err := b.TryLease(t.Context(), name, holder, ttl)
		if err != nil {
			t.Fatal(err)
		}
		if ok && cond(l) {
			return l
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never got lease %q as wanted (last: %+v, ok %v)", holder, name, l, ok)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// testLeaseGeneration: the generation (fencing token) stays on renewal,
// grows on every takeover, survives a release, and the expiry comes from
// the database clock.
func testLeaseGeneration(t *testing.T, b store.Bookkeeping) {
	ctx := t.Context()
	if _, err := b.GetLease(ctx, "reconciler"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetLease of a lease never taken: %v, want ErrNotFound", err)
	}
	before := time.Now()
	a1 := takeLease(t, b, "reconciler", "a", time.Hour)
	if a1.Generation < 1 {
		t.Errorf("first generation %d, want >= 1", a1.Generation)
	}
	// The database and this process run on one machine in the tests: the
	// expiry is about an hour from now.
	if d := a1.ExpiresAt.Sub(before.Add(time.Hour)); d < -time.Minute || d > time.Minute {
		t.Errorf("expires at %s, about %s off now + 1h", a1.ExpiresAt, d)
	}
	a2 := takeLease(t, b, "reconciler", "a", time.Hour)
	if a2.Generation != a1.Generation || a2.ExpiresAt.Before(a1.ExpiresAt) {
		t.Errorf("renewal: %+v after %+v; want the same generation, an expiry not earlier", a2, a1)
	}
	got, err := b.GetLease(ctx, "reconciler")
	if err != nil || got != a2 {
		t.Errorf("GetLease = %+v, %v; want %+v", got, err, a2)
	}
	if err := b.ReleaseLease(ctx, "reconciler", "a"); err != nil {
		t.Fatal(err)
	}
	if got, err := b.GetLease(ctx, "reconciler"); err != nil || got.Holder != "" || got.Generation != a1.Generation {
		t.Errorf("released lease = %+v, %v; want no holder at generation %d", got, err, a1.Generation)
	}
	bl := takeLease(t, b, "reconciler", "b", 20*time.Millisecond)
	if bl.Generation != a1.Generation+1 {
		t.Errorf("b's generation %d after a's %d, want one more", bl.Generation, a1.Generation)
	}
	// b's lease expires: a takes it over, one generation more.
	a3 := awaitLease(t, b, "reconciler", "a", time.Microsecond, func(store.Lease) bool { return true })
	if a3.Generation != bl.Generation+1 {
		t.Errorf("a's generation %d after b's %d, want one more", a3.Generation, bl.Generation)
	}
	// a's own lease expired (1µs; SQLite's clock ticks in milliseconds, so
	// a retry within the same one renews it): taking it again is a new
	// tenure too, so work begun under the old generation is fenced off.
	a4 := awaitLease(t, b, "reconciler", "a", time.Microsecond, func(l store.Lease) bool { return l.Generation != a3.Generation })
	if a4.Generation != a3.Generation+1 {
		t.Errorf("a retook its expired lease at generation %d, want %d", a4.Generation, a3.Generation+1)
	}
}

// testFencedWrites: pull-request state and reports written under a
// generation the lease has left are refused with a *FencedError, and
// change nothing.
func testFencedWrites(t *testing.T, b store.Bookkeeping) {
	ctx := t.Context()
	a := takeLease(t, b, "reconciler", "a", time.Hour)
	fa := store.Fence{Lease: "reconciler", Generation: a.Generation}
	if err := b.PutPullRequest(ctx, &store.PullRequest{Number: 7, State: store.PROpen, PlannedSHA: "a-head"}, fa); err != nil {
		t.Fatalf("the leader's write: %v", err)
	}
	rep := store.OutboxReport{Key: "comment/7/plan", Kind: "comment", Payload: json.RawMessage(`{"by":"a"}`)}
	if err := b.EnqueueReport(ctx, &rep, fa); err != nil {
		t.Fatalf("the leader's report: %v", err)
	}
	// b takes over (a released, as on shutdown; an expiry is the same).
	if err := b.ReleaseLease(ctx, "reconciler", "a"); err != nil {
		t.Fatal(err)
	}
	bl := takeLease(t, b, "reconciler", "b", time.Hour)
	fb := store.Fence{Lease: "reconciler", Generation: bl.Generation}

	if err := b.CheckFence(ctx, fa); !errors.Is(err, store.ErrFenced) {
		t.Errorf("CheckFence of the old generation: %v, want ErrFenced", err)
	}
	if err := b.CheckFence(ctx, fb); err != nil {
		t.Errorf("CheckFence of the new generation: %v", err)
	}
	err := b.PutPullRequest(ctx, &store.PullRequest{Number: 7, State: store.PRApplied, PlannedSHA: "stale"}, fa)
	var fe *store.FencedError
	if !errors.Is(err, store.ErrFenced) || !errors.As(err, &fe) || fe.Generation != a.Generation || fe.Current != bl.Generation {
		t.Fatalf("stale leader's write: %v; want a *FencedError at generations %d/%d", err, a.Generation, bl.Generation)
	}
	if pr, err := b.GetPullRequest(ctx, 7); err != nil || pr.PlannedSHA != "a-head" || pr.State != store.PROpen {
		t.Errorf("after the refused write: %+v, %v", pr, err)
	}
	stale := store.OutboxReport{Key: "comment/7/plan", Kind: "comment", Payload: json.RawMessage(`{"by":"stale a"}`)}
	if err := b.EnqueueReport(ctx, &stale, fa); !errors.Is(err, store.ErrFenced) {
		t.Errorf("stale leader's report: %v, want ErrFenced", err)
	}
	if got, err := b.GetReport(ctx, "comment/7/plan"); err != nil || string(got.Payload) != `{"by":"a"}` {
		t.Errorf("report after the refused enqueue: %s, %v", got.Payload, err)
	}
	// The new leader writes; a fence on a lease never taken holds nothing.
	if err := b.PutPullRequest(ctx, &store.PullRequest{Number: 7, State: store.PROpen, PlannedSHA: "b-head"}, fb); err != nil {
		t.Errorf("the new leader's write: %v", err)
	}
	if err := b.PutPullRequest(ctx, &store.PullRequest{Number: 8, State: store.PROpen}, store.Fence{Lease: "nobody", Generation: 1}); !errors.Is(err, store.ErrFenced) {
		t.Errorf("write fenced on a lease never taken: %v, want ErrFenced", err)
	}
	// The zero Fence writes unconditionally (one-shot tools, tests).
	if err := b.PutPullRequest(ctx, &store.PullRequest{Number: 9, State: store.PROpen}, store.Fence{}); err != nil {
		t.Errorf("unfenced write: %v", err)
	}
}

// testFenceRace: a stale leader keeps writing while another takes the
// lease over and writes; once the takeover returned, no stale write lands,
// so the new leader's write is the last one.
func testFenceRace(t *testing.T, b store.Bookkeeping) {
	ctx := t.Context()
	for round := range 5 {
		lease := fmt.Sprintf("race-%d", round)
		n := 100 + round
		a := takeLease(t, b, lease, "a", time.Hour)
		fa := store.Fence{Lease: lease, Generation: a.Generation}
		var (
			wg        sync.WaitGroup
			taken     = make(chan struct{})
			refused   bool
			staleErrs []error
		)
		wg.Go(func() {
			for i := 0; ; i++ {
				err := b.PutPullRequest(ctx, &store.PullRequest{Number: n, State: store.PROpen, PlannedSHA: fmt.Sprintf("a-%d", i)}, fa)
				if errors.Is(err, store.ErrFenced) {
					refused = true
					return
				}
				if err != nil {
					staleErrs = append(staleErrs, err)
					return
				}
				select {
				case <-taken:
					// Writes that started before the takeover may land;
					// the next one must be refused.
				default:
				}
			}
		})
		if err := b.ReleaseLease(ctx, lease, "a"); err != nil {
			t.Fatal(err)
		}
		bl := takeLease(t, b, lease, "b", time.Hour)
		close(taken)
		if err := b.PutPullRequest(ctx, &store.PullRequest{Number: n, State: store.PROpen, PlannedSHA: "b"}, store.Fence{Lease: lease, Generation: bl.Generation}); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		if len(staleErrs) > 0 || !refused {
			t.Fatalf("round %d: the stale writer ended with %v (refused %v)", round, staleErrs, refused)
		}
		if pr, err := b.GetPullRequest(ctx, n); err != nil || pr.PlannedSHA != "b" {
			t.Errorf("round %d: final state %+v, %v; a stale write landed after the new leader's", round, pr, err)
		}
	}
}
