package storetest

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rolecd/rolecd/store"
)

// RunBookkeeping runs the conformance suite of store.Bookkeeping. open
// returns a new, empty store for each subtest and closes it on cleanup; it
// must implement store.Bookkeeping.
func RunBookkeeping(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, b store.Bookkeeping)
	}{
		{"Deliveries", testDeliveries},
		{"DeliveryErrors", testDeliveryErrors},
		{"PullRequests", testPullRequests},
		{"OutboxLatestPayloadWins", testOutboxLatest},
		{"OutboxDueAndRetry", testOutboxDue},
		{"OutboxConcurrentEnqueue", testOutboxConcurrent},
		{"Lease", testLease},
		{"LeaseConcurrent", testLeaseConcurrent},
		{"LeaseGeneration", testLeaseGeneration},
		{"FencedWrites", testFencedWrites},
		{"FencedWriteRacesTakeover", testFenceRace},
		{"Drift", testDrift},
		{"Cursors", testCursors},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, ok := store.AsBookkeeping(open(t))
			if !ok {
				t.Fatal("the store does not implement store.Bookkeeping")
			}
			tc.run(t, b)
		})
	}
}

func testDeliveries(t *testing.T, b store.Bookkeeping) {
	ctx := t.Context()
	for i, id := range []string{"d-2", "d-1", "d-3"} {
		ok, err := b.RecordDelivery(ctx, store.Delivery{ID: id, Event: "pull_request",
			Payload: json.RawMessage(fmt.Sprintf(`{"n": %d}`, i)), ReceivedAt: at(time.Duration(i) * time.Second)})
		if err != nil || !ok {
			t.Fatalf("RecordDelivery(%s) = %v, %v; want true, nil", id, ok, err)
		}
	}
	// A redelivery with the same id changes nothing.
	ok, err := b.RecordDelivery(ctx, store.Delivery{ID: "d-1", Event: "push", Payload: json.RawMessage(`{"other":true}`)})
	if err != nil || ok {
		t.Fatalf("RecordDelivery of a known id = %v, %v; want false, nil", ok, err)
	}
	d, err := b.GetDelivery(ctx, "d-1")
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "delivery after a duplicate", d, store.Delivery{ID: "d-1", Event: "pull_request",
		Payload: json.RawMessage(`{"n": 1}`), State: store.DeliveryPending, ReceivedAt: at(time.Second)})

	if err := b.DeliveryFailed(ctx, "d-2", "github: 502"); err != nil {
		t.Fatal(err)
	}
	if err := b.DeliveryFailed(ctx, "d-2", "github: 503"); err != nil {
		t.Fatal(err)
	}
	pending, err := b.PendingDeliveries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(pending); fmt.Sprint(got) != "[d-2 d-1 d-3]" {
		t.Fatalf("pending = %v, want oldest first [d-2 d-1 d-3]", got)
	}
	if pending[0].Attempts != 2 || pending[0].Error != "github: 503" {
		t.Errorf("failed delivery: attempts %d error %q, want 2 and the last error", pending[0].Attempts, pending[0].Error)
	}

	if err := b.FinishDelivery(ctx, "d-1", "", at(time.Minute)); err != nil {
		t.Fatal(err)
	}
	// Finishing twice is a no-op and keeps the first finish.
	if err := b.FinishDelivery(ctx, "d-1", "dropped", at(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := b.DeliveryFailed(ctx, "d-1", "late failure"); err != nil {
		t.Fatal(err)
	}
	d, err = b.GetDelivery(ctx, "d-1")
	if err != nil {
		t.Fatal(err)
	}
	if d.State != store.DeliveryProcessed || !d.ProcessedAt.Equal(at(time.Minute)) || d.Error != "" || d.Attempts != 0 {
		t.Errorf("processed delivery = %+v, want processed at +1m without error", d)
	}
	pending, err = b.PendingDeliveries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(pending); fmt.Sprint(got) != "[d-2 d-3]" {
		t.Errorf("pending after finishing d-1 = %v, want [d-2 d-3]", got)
	}
}

func ids(ds []store.Delivery) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.ID)
	}
	return out
}

func testDeliveryErrors(t *testing.T, b store.Bookkeeping) {
	ctx := t.Context()
	tests := []struct {
		name string
		call func() error
		want string // "" = ErrNotFound
	}{
		{"no id", func() error {
			_, err := b.RecordDelivery(ctx, store.Delivery{Event: "push", Payload: json.RawMessage(`{}`)})
			return err
		}, "required"},
		{"invalid payload", func() error {
			_, err := b.RecordDelivery(ctx, store.Delivery{ID: "x", Event: "push", Payload: json.RawMessage(`{`)})
			return err
		}, "JSON"},
		{"empty payload", func() error {
			_, err := b.RecordDelivery(ctx, store.Delivery{ID: "x", Event: "push"})
			return err
		}, "JSON"},
		{"GetDelivery", func() error { _, err := b.GetDelivery(ctx, "missing"); return err }, ""},
		{"FinishDelivery", func() error { return b.FinishDelivery(ctx, "missing", "", time.Time{}) }, ""},
		{"DeliveryFailed", func() error { return b.DeliveryFailed(ctx, "missing", "x") }, ""},
		{"GetPullRequest", func() error { _, err := b.GetPullRequest(ctx, 7); return err }, ""},
		{"GetReport", func() error { _, err := b.GetReport(ctx, "missing"); return err }, ""},
		{"ReportDone", func() error { _, err := b.ReportDone(ctx, "missing", 1, time.Time{}); return err }, ""},
		{"ReportFailed", func() error { return b.ReportFailed(ctx, "missing", 1, at(0), "x") }, ""},
		{"GetDrift", func() error { _, err := b.GetDrift(ctx, "missing"); return err }, ""},
		{"GetCursor", func() error { _, err := b.GetCursor(ctx, "missing"); return err }, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if tc.want == "" {
				wantNotFound(t, tc.name, err)
			} else {
				wantOtherError(t, tc.name, err)
				if err != nil && !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%s: error %q does not mention %q", tc.name, err, tc.want)
				}
			}
		})
	}
	if _, err := b.RecordDelivery(ctx, store.Delivery{ID: "x", Event: "push", Payload: json.RawMessage(`{}`)}); err != nil {
		t.Errorf("a valid delivery after rejected ones: %v", err)
	}
}

func testPullRequests(t *testing.T, b store.Bookkeeping) {
	ctx := t.Context()
	open := store.PullRequest{
		Number: 12, State: store.PROpen, HeadSHA: "bbbb", PlannedSHA: "bbbb", PlanSID: "plan-1",
		Digest:    "d1",
		Checksums: map[string]string{"analytics/rolecd_analytics_ro_6075a443": "c1", "billing/rolecd_billing_rw_0a1b2c3d": "c2"},
		UpdatedAt: at(0),
	}
	closed := store.PullRequest{Number: 3, State: store.PRClosed, HeadSHA: "aaaa", UpdatedAt: at(time.Second)}
	for _, pr := range []store.PullRequest{open, closed} {
		in := pr
		if err := b.PutPullRequest(ctx, &in, store.Fence{}); err != nil {
			t.Fatal(err)
		}
		got, err := b.GetPullRequest(ctx, pr.Number)
		if err != nil {
			t.Fatal(err)
		}
		equal(t, fmt.Sprintf("pull request #%d", pr.Number), got, pr)
	}
	// Replace: the merge moves #12 on.
	merged := open
	merged.State, merged.MergeSHA, merged.ApplySID, merged.UpdatedAt = store.PRMergedPending, "mmmm", "apply-1", at(time.Minute)
	if err := b.PutPullRequest(ctx, &merged, store.Fence{}); err != nil {
		t.Fatal(err)
	}
	got, err := b.GetPullRequest(ctx, 12)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "replaced pull request", got, merged)

	// A zero UpdatedAt is now, written back.
	fresh := store.PullRequest{Number: 40, State: store.PRWaitingApproval}
	before := time.Now().Add(-time.Second)
	if err := b.PutPullRequest(ctx, &fresh, store.Fence{}); err != nil {
		t.Fatal(err)
	}
	if fresh.UpdatedAt.Before(before) {
		t.Errorf("UpdatedAt = %v, want now", fresh.UpdatedAt)
	}

	tests := []struct {
		states []store.PRState
		want   []int
	}{
		{nil, []int{3, 12, 40}},
		{[]store.PRState{store.PROpen}, nil},
		{[]store.PRState{store.PRMergedPending, store.PRWaitingApproval}, []int{12, 40}},
		{[]store.PRState{store.PRClosed}, []int{3}},
	}
	for _, tc := range tests {
		list, err := b.ListPullRequests(ctx, tc.states...)
		if err != nil {
			t.Fatal(err)
		}
		var nums []int
		for _, pr := range list {
			nums = append(nums, pr.Number)
		}
		equal(t, fmt.Sprintf("ListPullRequests(%v)", tc.states), nums, tc.want)
	}
	if err := b.PutPullRequest(ctx, &store.PullRequest{Number: 0, State: store.PROpen}, store.Fence{}); err == nil {
		t.Error("PutPullRequest accepted number 0")
	}
}

func testOutboxLatest(t *testing.T, b store.Bookkeeping) {
	ctx := t.Context()
	first := store.OutboxReport{Key: "comment/12/plan", Kind: "upsert_comment", Payload: json.RawMessage(`{"head":"a"}`)}
	if err := b.EnqueueReport(ctx, &first, store.Fence{}); err != nil {
		t.Fatal(err)
	}
	if first.Seq <= 0 || first.CreatedAt.IsZero() || first.NextAttempt.IsZero() || !first.DoneAt.IsZero() {
		t.Fatalf("enqueued report = %+v, want a seq, times, not done", first)
	}
	// The same payload again: nothing changes, it is not posted twice.
	same := store.OutboxReport{Key: first.Key, Kind: first.Kind, Payload: json.RawMessage(`{"head":"a"}`)}
	if err := b.EnqueueReport(ctx, &same, store.Fence{}); err != nil {
		t.Fatal(err)
	}
	equal(t, "re-enqueued identical report", same, first)

	// A failed attempt, then a newer payload: it replaces the old one,
	// with a new seq and no attempts.
	if err := b.ReportFailed(ctx, first.Key, first.Seq, at(time.Hour), "502"); err != nil {
		t.Fatal(err)
	}
	second := store.OutboxReport{Key: first.Key, Kind: first.Kind, Payload: json.RawMessage(`{"head":"b"}`)}
	if err := b.EnqueueReport(ctx, &second, store.Fence{}); err != nil {
		t.Fatal(err)
	}
	if second.Seq <= first.Seq || second.Attempts != 0 || second.LastError != "" || string(second.Payload) != `{"head":"b"}` {
		t.Fatalf("replaced report = %+v, want a higher seq than %d, no attempts, the new payload", second, first.Seq)
	}
	if !second.CreatedAt.Equal(first.CreatedAt) {
		t.Errorf("CreatedAt changed on replace: %v -> %v", first.CreatedAt, second.CreatedAt)
	}
	// A sender that posted the old payload cannot mark the new one done.
	if ok, err := b.ReportDone(ctx, first.Key, first.Seq, time.Time{}); err != nil || ok {
		t.Fatalf("ReportDone with a stale seq = %v, %v; want false", ok, err)
	}
	if err := b.ReportFailed(ctx, first.Key, first.Seq, at(48*time.Hour), "stale"); err != nil {
		t.Fatal(err)
	}
	got, err := b.GetReport(ctx, first.Key)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "report after stale updates", got, second)
	if ok, err := b.ReportDone(ctx, first.Key, second.Seq, at(2*time.Hour)); err != nil || !ok {
		t.Fatalf("ReportDone = %v, %v; want true", ok, err)
	}
	if ok, err := b.ReportDone(ctx, first.Key, second.Seq, at(3*time.Hour)); err != nil || ok {
		t.Errorf("ReportDone twice = %v, %v; want false", ok, err)
	}
	got, err = b.GetReport(ctx, first.Key)
	if err != nil {
		t.Fatal(err)
	}
	if !got.DoneAt.Equal(at(2 * time.Hour)) {
		t.Errorf("DoneAt = %v, want %v", got.DoneAt, at(2*time.Hour))
	}
	// Done, then a new payload: due again.
	third := store.OutboxReport{Key: first.Key, Kind: first.Kind, Payload: json.RawMessage(`{"head":"c"}`)}
	if err := b.EnqueueReport(ctx, &third, store.Fence{}); err != nil {
		t.Fatal(err)
	}
	if !third.DoneAt.IsZero() || third.Seq <= second.Seq {
		t.Errorf("re-opened report = %+v, want not done with a higher seq", third)
	}
}

func testOutboxDue(t *testing.T, b store.Bookkeeping) {
	ctx := t.Context()
	var reports []store.OutboxReport
	for i, key := range []string{"status/x", "comment/1/plan", "issue/drift"} {
		r := store.OutboxReport{Key: key, Kind: "k", Payload: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))}
		if err := b.EnqueueReport(ctx, &r, store.Fence{}); err != nil {
			t.Fatal(err)
		}
		reports = append(reports, r)
	}
	now := time.Now().Add(time.Second)
	due := func(now time.Time, limit int) string {
		t.Helper()
		rs, err := b.DueReports(ctx, now, limit)
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, r := range rs {
			keys = append(keys, r.Key)
		}
		return fmt.Sprint(keys)
	}
	if got := due(now, 0); got != "[status/x comment/1/plan issue/drift]" {
		t.Fatalf("due = %s, want all three in enqueue order", got)
	}
	if got := due(now, 2); got != "[status/x comment/1/plan]" {
		t.Errorf("due with limit 2 = %s", got)
	}
	if got := due(now.Add(-time.Hour), 0); got != "[]" {
		t.Errorf("due an hour ago = %s, want none", got)
	}
	// The first fails and waits a minute; the second is done.
	if err := b.ReportFailed(ctx, "status/x", reports[0].Seq, now.Add(time.Minute), "rate limited"); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.ReportDone(ctx, "comment/1/plan", reports[1].Seq, now); err != nil || !ok {
		t.Fatalf("ReportDone = %v, %v", ok, err)
	}
	if got := due(now, 0); got != "[issue/drift]" {
		t.Errorf("due after a failure and a success = %s, want [issue/drift]", got)
	}
	if got := due(now.Add(time.Minute), 0); got != "[status/x issue/drift]" {
		t.Errorf("due a minute later = %s, want [status/x issue/drift]", got)
	}
	r, err := b.GetReport(ctx, "status/x")
	if err != nil {
		t.Fatal(err)
	}
	if r.Attempts != 1 || r.LastError != "rate limited" {
		t.Errorf("failed report: attempts %d, error %q", r.Attempts, r.LastError)
	}
	// A report can be scheduled on the caller's clock.
	later := store.OutboxReport{Key: "status/later", Kind: "k", Payload: json.RawMessage(`{}`), NextAttempt: now.Add(time.Hour)}
	if err := b.EnqueueReport(ctx, &later, store.Fence{}); err != nil {
		t.Fatal(err)
	}
	if got := due(now, 0); got != "[issue/drift]" {
		t.Errorf("due with a report scheduled in an hour = %s, want [issue/drift]", got)
	}
	if got := due(now.Add(2*time.Hour), 0); got != "[status/x issue/drift status/later]" {
		t.Errorf("due in two hours = %s", got)
	}
	if _, err := b.DueReports(ctx, now, -1); err == nil {
		t.Error("DueReports accepted a negative limit")
	}
}

func testOutboxConcurrent(t *testing.T, b store.Bookkeeping) {
	ctx := t.Context()
	const n = 8
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		seqs = map[int64]string{}
	)
	for i := range n {
		wg.Go(func() {
			r := store.OutboxReport{Key: "comment/1/plan", Kind: "k", Payload: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))}
			if err := b.EnqueueReport(ctx, &r, store.Fence{}); err != nil {
				t.Errorf("enqueue %d: %v", i, err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if other, dup := seqs[r.Seq]; dup {
				t.Errorf("payloads %s and %s got the same seq %d", other, r.Payload, r.Seq)
			}
			seqs[r.Seq] = string(r.Payload)
		})
	}
	wg.Wait()
	got, err := b.GetReport(ctx, "comment/1/plan")
	if err != nil {
		t.Fatal(err)
	}
	var maxSeq int64
	for s := range seqs {
		maxSeq = max(maxSeq, s)
	}
	if got.Seq != maxSeq || string(got.Payload) != seqs[maxSeq] {
		t.Errorf("final report seq %d payload %s, want the last enqueued: seq %d payload %s", got.Seq, got.Payload, maxSeq, seqs[maxSeq])
	}
}

func testLease(t *testing.T, b store.Bookkeeping) {
	ctx := t.Context()
	try := func(holder string, ttl time.Duration) bool {
		t.Helper()
		_, ok, err := b.TryLease(ctx, "reconciler", holder, ttl)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !try("a", time.Hour) {
		t.Fatal("a could not take a free lease")
	}
	if try("b", time.Hour) {
		t.Fatal("b took a lease a holds")
	}
	if !try("a", time.Hour) {
		t.Fatal("a could not renew its lease")
	}
	// Another lease name is independent.
	if _, ok, err := b.TryLease(ctx, "other", "b", time.Hour); err != nil || !ok {
		t.Fatalf("b on another lease: %v, %v", ok, err)
	}
	if err := b.ReleaseLease(ctx, "reconciler", "b"); err != nil { // not b's: no-op
		t.Fatal(err)
	}
	if try("b", time.Hour) {
		t.Fatal("b took the lease after releasing one it did not hold")
	}
	if err := b.ReleaseLease(ctx, "reconciler", "a"); err != nil {
		t.Fatal(err)
	}
	if !try("b", 50*time.Millisecond) {
		t.Fatal("b could not take a released lease")
	}
	// b's short lease expires: a gets it (polled, with a deadline).
	deadline := time.Now().Add(10 * time.Second)
	for !try("a", time.Hour) {
		if time.Now().After(deadline) {
			t.Fatal("a never took b's expired lease")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if try("b", time.Hour) {
		t.Error("b took the lease back from a")
	}
	if _, _, err := b.TryLease(ctx, "reconciler", "a", 0); err == nil {
		t.Error("TryLease accepted a zero ttl")
	}
}

func testLeaseConcurrent(t *testing.T, b store.Bookkeeping) {
	ctx := t.Context()
	const n = 8
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		holders []string
	)
	for i := range n {
		wg.Go(func() {
			holder := fmt.Sprintf("h%d", i)
			_, ok, err := b.TryLease(ctx, "reconciler", holder, time.Hour)
			if err != nil {
				t.Errorf("%s: %v", holder, err)
				return
			}
			if ok {
				mu.Lock()
				holders = append(holders, holder)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(holders) != 1 {
		t.Errorf("lease holders = %v, want exactly one", holders)
	}
}

func testDrift(t *testing.T, b store.Bookkeeping) {
	ctx := t.Context()
	drifted := store.Drift{Resource: "billing", Roles: []string{"r2", "r1"}, Digest: "dd", Commit: "c1", SID: "drift-1",
		Since: at(0), CheckedAt: at(time.Minute)}
	clean := store.Drift{Resource: "analytics", Commit: "c1", SID: "drift-1", CheckedAt: at(time.Minute)}
	for _, d := range []store.Drift{drifted, clean} {
		if err := b.PutDrift(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	got, err := b.GetDrift(ctx, "billing")
	if err != nil {
		t.Fatal(err)
	}
	want := drifted
	want.Roles = []string{"r1", "r2"}
	equal(t, "drift", got, want)
	// Resolved: roles cleared, since reset.
	resolved := store.Drift{Resource: "billing", Commit: "c2", SID: "drift-2", CheckedAt: at(time.Hour)}
	if err := b.PutDrift(ctx, resolved); err != nil {
		t.Fatal(err)
	}
	list, err := b.ListDrift(ctx)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "ListDrift", list, []store.Drift{clean, resolved})
}

func testCursors(t *testing.T, b store.Bookkeeping) {
	ctx := t.Context()
	for _, v := range []string{"abc", "def"} {
		if err := b.PutCursor(ctx, "branch/main", v); err != nil {
			t.Fatal(err)
		}
		got, err := b.GetCursor(ctx, "branch/main")
		if err != nil || got != v {
			t.Errorf("GetCursor = %q, %v; want %q", got, err, v)
		}
	}
	if err := b.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
}
