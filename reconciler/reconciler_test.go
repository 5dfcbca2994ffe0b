package reconciler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rolecd/rolecd/internal/forge"
	"github.com/rolecd/rolecd/planner"
	"github.com/rolecd/rolecd/store"
)

// post delivers a signed webhook to the reconciler's handler.
func (h *harness) post(event, id string, payload any) (int, string) {
	h.t.Helper()
	body, err := json.Marshal(payload)
	if err != nil {
		h.t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/webhooks/github", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", event)
	req.Header.Set("X-GitHub-Delivery", id)
	req.Header.Set("X-Hub-Signature-256", sign(h.secret, body))
	w := httptest.NewRecorder()
	h.r.Handler().ServeHTTP(w, req)
	return w.Code, strings.TrimSpace(w.Body.String())
}

func prPayload(action string, n int) map[string]any {
	return map[string]any{"action": action, "number": n, "pull_request": map[string]any{"number": n, "base": map[string]any{"ref": "main"}},
		"repository": map[string]any{"full_name": testRepo}}
}

func commentPayload(n int, user, body string) map[string]any {
	return map[string]any{"action": "created", "issue": map[string]any{"number": n, "pull_request": map[string]any{"url": "x"}},
		"comment":    map[string]any{"body": body, "user": map[string]any{"login": user, "type": "User"}},
		"repository": map[string]any{"full_name": testRepo}}
}

func (h *harness) planSessions(n int) []store.Session {
	h.t.Helper()
	list, err := h.store.ListSessions(h.t.Context(), store.Filter{Kind: store.KindPlan})
	if err != nil {
		h.t.Fatal(err)
	}
	var out []store.Session
	for _, s := range list {
		if s.PullRequest == n {
			out = append(out, s)
		}
	}
	return out
}

func TestPullRequestBurstPlansTheLastHeadOnce(t *testing.T) {
	h := newHarness(t, nil)
	h.openPR(1, "h1", "SELECT")
	for i := range 10 {
		if code, _ := h.post("pull_request", fmt.Sprintf("open-%d", i), prPayload("synchronize", 1)); code != http.StatusAccepted {
			t.Fatalf("delivery %d: %d", i, code)
		}
	}
	h.drain()
	if n := len(h.planSessions(1)); n != 1 {
		t.Fatalf("%d plans for a burst of 10 deliveries, want 1", n)
	}
	if got := h.forge.count("get_pr"); got != 1 {
		t.Errorf("GetPR called %d times, want 1", got)
	}
	if got := h.forge.count("upsert_comment"); got != 1 {
		t.Errorf("%d comment upserts, want 1", got)
	}
	pending, err := h.store.PendingDeliveries(t.Context())
	if err != nil || len(pending) != 0 {
		t.Errorf("pending deliveries after the burst: %v, %v", pending, err)
	}
	// A new head, the same burst: one more plan, of the new head.
	h.openPR(1, "h2", "SELECT, INSERT")
	for i := range 5 {
		h.post("pull_request", fmt.Sprintf("sync-%d", i), prPayload("synchronize", 1))
	}
	h.drain()
	plans := h.planSessions(1)
	if len(plans) != 2 || plans[0].Commit != "h2" {
		t.Fatalf("plans = %d, newest at %s; want 2, newest at h2", len(plans), plans[0].Commit)
	}
	if got := h.forge.count("upsert_comment"); got != 2 {
		t.Errorf("%d comment upserts, want 2", got)
	}
	if rec := h.pr(1); rec.PlannedSHA != "h2" || rec.State != store.PROpen || len(rec.Checksums) != 1 {
		t.Errorf("pull request state = %+v", rec)
	}
}

func TestInvalidRoleFilesStall(t *testing.T) {
	h := newHarness(t, nil)
	h.src.commit("bad", map[string]string{"resources.yaml": resourcesYAML, "roles.yaml": "roles:\n  - resource: nope\n    role: ro\n"}, true)
	h.src.pulls[7] = "bad"
	h.forge.prs[7] = forge.PR{Number: 7, State: "open", BaseRef: "main", HeadSHA: "bad"}
	h.post("pull_request", "d1", prPayload("opened", 7))
	if err := h.r.Drain(t.Context()); err != nil {
		t.Fatalf("a stalled task is not a waiting error: %v", err)
	}
	parts := h.forge.comments["7/plan"]
	if len(parts) == 0 || !strings.Contains(strings.Join(parts, ""), "roles.yaml:2") {
		t.Errorf("comment does not list the problem with file:line: %q", parts)
	}
	if len(h.forge.statuses) != 1 || !strings.Contains(h.forge.statuses[0], "rolecd/plan failure: invalid role files") {
		t.Errorf("statuses = %v", h.forge.statuses)
	}
	// Not retried: the delivery is processed, no task is deferred.
	if d, err := h.store.GetDelivery(t.Context(), "d1"); err != nil || d.State != store.DeliveryProcessed {
		t.Errorf("delivery = %+v, %v", d, err)
	}
	h.r.TriggerPoll()
	h.drain()
	if n := len(h.planSessions(7)); n != 1 {
		t.Errorf("%d plan sessions, want the one failed plan", n)
	}
	if s := h.planSessions(7)[0]; s.Status != store.StatusFailed || !strings.Contains(s.Error, "unknown resource") {
		t.Errorf("plan session = %s %q", s.Status, s.Error)
	}
}

func TestMergeWithUnchangedPlanApplies(t *testing.T) {
	h := newHarness(t, nil)
	h.openPR(2, "h1", "SELECT")
	h.post("pull_request", "d1", prPayload("opened", 2))
	h.drain()
	h.merge(2, "m1")
	h.post("pull_request", "d2", prPayload("closed", 2))
	h.drain()
	if rec := h.pr(2); rec.State != store.PRApplied || rec.MergeSHA != "m1" || rec.ApplySID == "" {
		t.Fatalf("after merge: %+v", rec)
	}
	if h.db.applies != 1 || h.db.live["rolecd_db1_ro_7d23b377"] != "SELECT" {
		t.Errorf("applies %d, live %v", h.db.applies, h.db.live)
	}
	if got := h.forge.comments["2/new"]; len(got) != 1 || !strings.Contains(got[0], "applied") {
		t.Errorf("apply comments = %q", got)
	}
	if last := h.forge.statuses[len(h.forge.statuses)-1]; !strings.HasPrefix(last, "m1 rolecd/apply success") {
		t.Errorf("last status = %q", last)
	}
	// Replayed deliveries and polls never apply again.
	h.post("pull_request", "d3", prPayload("closed", 2))
	h.r.TriggerPoll()
	h.drain()
	if h.db.applies != 1 {
		t.Errorf("%d applies after replays, want 1", h.db.applies)
	}
}

func TestMergeWithChangedPlanWaitsForAuthorisedApproval(t *testing.T) {
	h := newHarness(t, nil)
	h.forge.perms["reader"], h.forge.perms["writer"] = "read", "write"
	h.openPR(3, "h1", "SELECT")
	h.post("pull_request", "d1", prPayload("opened", 3))
	h.drain()
	h.db.extra["rolecd_db1_ro_7d23b377"] = " -- someone was here"
	h.merge(3, "m1")
	h.post("pull_request", "d2", prPayload("closed", 3))
	h.drain()
	rec := h.pr(3)
	if rec.State != store.PRWaitingApproval || h.db.applies != 0 {
		t.Fatalf("state %s, applies %d: want waiting-approval, nothing applied", rec.State, h.db.applies)
	}
	merge := strings.Join(h.forge.comments["3/merge"], "")
	if !strings.Contains(merge, "Not applied") || !strings.Contains(merge, "/rolecd apply "+rec.MergeDigest) ||
		!strings.Contains(merge, "db1/rolecd_db1_ro_7d23b377: the SQL changed") {
		t.Errorf("merge comment:\n%s", merge)
	}
	tests := []struct {
		user, body, reply string
	}{
		{"reader", "/rolecd apply " + rec.MergeDigest, "needs the `write` permission"},
		{"stranger", "/rolecd apply " + rec.MergeDigest, "yours is `none`"},
		{"writer", "/rolecd apply " + rec.Digest, "is not the digest of the plan waiting for approval"},
		{"writer", "/rolecd apply", "is not the digest"},
		{"writer", "/rolecd frobnicate", "rolecd understands"},
	}
	for i, tc := range tests {
		h.post("issue_comment", fmt.Sprintf("c%d", i), commentPayload(3, tc.user, tc.body))
		h.drain()
		replies := h.forge.comments["3/new"]
		if len(replies) != i+1 || !strings.Contains(replies[i], tc.reply) {
			t.Errorf("%s %q: replies %q, want the last to say %q", tc.user, tc.body, replies, tc.reply)
		}
		if h.db.applies != 0 {
			t.Fatalf("%s %q applied", tc.user, tc.body)
		}
	}
	h.post("issue_comment", "ok", commentPayload(3, "writer", "/rolecd apply "+strings.ToUpper(rec.MergeDigest)+"\nthanks"))
	h.drain()
	if h.db.applies != 1 || h.pr(3).State != store.PRApplied {
		t.Fatalf("after approval: applies %d, state %s", h.db.applies, h.pr(3).State)
	}
	applies, err := h.store.ListSessions(t.Context(), store.Filter{Kind: store.KindApply})
	if err != nil || len(applies) != 1 || applies[0].PlanSID != rec.MergePlanSID || !strings.Contains(applies[0].Actor, "writer") {
		t.Errorf("apply sessions = %+v, %v", applies, err)
	}
	// Approving again does nothing.
	h.post("issue_comment", "again", commentPayload(3, "writer", "/rolecd apply "+rec.MergeDigest))
	h.drain()
	if h.db.applies != 1 {
		t.Errorf("a second approval applied again")
	}
}

// A daemon that died after the apply finished but before reporting it:
// the next one reports that apply and does not apply again.
func TestResumeReportsFinishedApplyWithoutApplyingAgain(t *testing.T) {
	h := newHarness(t, nil)
	h.openPR(4, "h1", "SELECT")
	h.post("pull_request", "d1", prPayload("opened", 4))
	h.drain()
	h.merge(4, "m1")
	// What the dead daemon left: the merge pending, its apply finished.
	rec := h.pr(4)
	tree, _, err := h.r.loadTree("m1")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := h.db.Plan(t.Context(), tree, planner.Source{Commit: "m1", PullRequest: 4}, "plan-m1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.db.Apply(t.Context(), tree, doc, "apply-1", "daemon"); err != nil {
		t.Fatal(err)
	}
	rec.State, rec.MergeSHA, rec.ApplySID = store.PRMergedPending, "m1", "apply-1"
	if err := h.store.PutPullRequest(t.Context(), &rec, store.Fence{}); err != nil {
		t.Fatal(err)
	}

	h2 := h.newReconciler(nil)
	h2.TriggerPoll()
	if err := h2.Drain(t.Context()); err != nil {
		t.Fatal(err)
	}
	if h.db.applies != 1 {
		t.Errorf("%d applies, want 1 (the dead daemon's)", h.db.applies)
	}
	if got := h.pr(4); got.State != store.PRApplied || got.ApplySID != "apply-1" {
		t.Errorf("state = %s, apply %s; want applied by apply-1", got.State, got.ApplySID)
	}
	if got := h.forge.comments["4/new"]; len(got) != 1 || !strings.Contains(got[0], "apply-1") {
		t.Errorf("apply comments = %q, want one naming apply-1", got)
	}
}

// A daemon cancelled while its apply waits: the merge stays pending, and
// the next daemon applies it once.
func TestCancelledApplyIsResumed(t *testing.T) {
	h := newHarness(t, nil)
	h.openPR(5, "h1", "SELECT")
	h.post("pull_request", "d1", prPayload("opened", 5))
	h.drain()
	h.merge(5, "m1")
	h.post("pull_request", "d2", prPayload("closed", 5))
	h.db.block = make(chan struct{})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- h.r.Drain(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		rec, err := h.store.GetPullRequest(t.Context(), 5)
		if err == nil && rec.ApplySID != "" {
			if s, err := h.store.GetSession(t.Context(), rec.ApplySID); err == nil && s.Status == store.StatusRunning {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the apply never started")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	h.db.block = nil
	if rec := h.pr(5); rec.State != store.PRMergedPending {
		t.Fatalf("state after cancel = %s", rec.State)
	}
	if d, err := h.store.GetDelivery(t.Context(), "d2"); err != nil || d.State != store.DeliveryPending {
		t.Errorf("the merge delivery = %+v, %v; want pending", d, err)
	}
	h2 := h.newReconciler(nil)
	h2.TriggerPoll()
	if err := h2.Drain(t.Context()); err != nil {
		t.Fatal(err)
	}
	if h.db.applies != 1 || h.pr(5).State != store.PRApplied {
		t.Errorf("applies %d, state %s; want 1 and applied", h.db.applies, h.pr(5).State)
	}
}

func TestOutboxKeepsReportsUntilPosted(t *testing.T) {
	h := newHarness(t, nil)
	h.openPR(6, "h1", "SELECT")
	h.forge.setErr("upsert_comment", errors.New("502 bad gateway"))
	h.post("pull_request", "d1", prPayload("opened", 6))
	h.drain() // the plan is done; the report waits
	if h.forge.count("upsert_comment") != 1 || h.forge.count("status") != 0 {
		t.Fatalf("calls %v: want one failed comment and the status held back behind it", h.forge.calls)
	}
	rep, err := h.store.GetReport(t.Context(), "comment/6/plan")
	if err != nil || rep.Attempts != 1 || !rep.NextAttempt.Equal(h.clock().Add(10*time.Second)) {
		t.Fatalf("report = %+v, %v; want one attempt, retried in 10s", rep, err)
	}
	// Not due yet: nothing is sent.
	h.forge.setErr("upsert_comment", nil)
	h.r.TriggerPoll()
	h.drain()
	if h.forge.count("upsert_comment") != 1 {
		t.Fatalf("a report was retried before it was due")
	}
	if until := h.r.untilRetry(); until != 10*time.Second {
		t.Errorf("the worker wakes in %s, want 10s for the retry", until)
	}
	// A restarted daemon, later: posted once, in order.
	h.advance(time.Minute)
	if until := h.r.untilRetry(); until != time.Hour {
		t.Errorf("a past retry keeps the worker waking in %s, want 1h (idle)", until)
	}
	h2 := h.newReconciler(nil)
	if err := h2.Drain(t.Context()); err != nil {
		t.Fatal(err)
	}
	if h.forge.count("upsert_comment") != 2 || len(h.forge.comments["6/plan"]) == 0 || len(h.forge.statuses) != 1 {
		t.Errorf("after the restart: calls %v, statuses %v", h.forge.calls, h.forge.statuses)
	}
	if err := h2.Drain(t.Context()); err != nil || h.forge.count("upsert_comment") != 2 {
		t.Errorf("posted twice (%d), %v", h.forge.count("upsert_comment"), err)
	}
}

func TestOutboxDropsReportsTheForgeRejects(t *testing.T) {
	permanent := errors.New("422 validation failed")
	h := newHarness(t, func(o *Options) { o.Transient = func(err error) bool { return !errors.Is(err, permanent) } })
	h.openPR(8, "h1", "SELECT")
	h.forge.setErr("status", permanent)
	h.post("pull_request", "d1", prPayload("opened", 8))
	h.drain()
	for range maxPermanentAttempts {
		h.advance(time.Hour)
		h.drain()
	}
	if got := h.forge.count("status"); got != maxPermanentAttempts {
		t.Errorf("status tried %d times, want %d", got, maxPermanentAttempts)
	}
	rep, err := h.store.GetReport(t.Context(), "status/h1/rolecd/plan")
	if err != nil || rep.DoneAt.IsZero() {
		t.Errorf("rejected report = %+v, %v; want dropped (done)", rep, err)
	}
	// The comment, before it in the queue, was posted despite the status.
	if len(h.forge.comments["8/plan"]) == 0 {
		t.Error("the comment was not posted")
	}
}

func TestWaitingWorkIsRetried(t *testing.T) {
	h := newHarness(t, nil)
	h.openPR(9, "h1", "SELECT")
	h.forge.setErr("get_pr", errors.New("502"))
	h.post("pull_request", "d1", prPayload("opened", 9))
	if err := h.r.Drain(t.Context()); err == nil || !strings.Contains(err.Error(), "get_pr") {
		t.Fatalf("Drain = %v, want the waiting error", err)
	}
	d, err := h.store.GetDelivery(t.Context(), "d1")
	if err != nil || d.State != store.DeliveryPending || d.Attempts != 1 {
		t.Fatalf("delivery = %+v, %v", d, err)
	}
	if len(h.forge.statuses) != 0 {
		t.Errorf("a waiting error set a status: %v", h.forge.statuses)
	}
	// Deferred with a backoff; due later.
	if until := h.r.untilRetry(); until <= 0 || until > time.Hour {
		t.Errorf("retry in %s", until)
	}
	h.forge.setErr("get_pr", nil)
	h.advance(time.Minute)
	h.r.requeueDue()
	h.drain()
	if n := len(h.planSessions(9)); n != 1 {
		t.Errorf("%d plans after the retry, want 1", n)
	}
	if d, _ := h.store.GetDelivery(t.Context(), "d1"); d.State != store.DeliveryProcessed {
		t.Errorf("delivery still %s", d.State)
	}

	// PostgreSQL down: the PR is commented with the error, retried later.
	h.db.down = true
	h.openPR(10, "h2", "SELECT")
	h.post("pull_request", "d2", prPayload("opened", 10))
	if err := h.r.Drain(t.Context()); err == nil {
		t.Fatal("a resource that cannot be planned is not waiting")
	}
	if rec := h.pr(10); rec.PlannedSHA != "" {
		t.Errorf("a failed plan counts as planned: %+v", rec)
	}
	h.db.down = false
	h.r.TriggerPoll()
	h.drain()
	if rec := h.pr(10); rec.PlannedSHA != "h2" {
		t.Errorf("after PostgreSQL is back: %+v", rec)
	}
}

func TestDriftIssueAndDeferredRemediation(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.DriftRemediate = true })
	h.src.commit("base", rolesFile("SELECT"), true)
	// A merge waits for approval: remediation must not apply it.
	if err := h.store.PutPullRequest(t.Context(), &store.PullRequest{Number: 1, State: store.PRWaitingApproval}, store.Fence{}); err != nil {
		t.Fatal(err)
	}
	h.r.TriggerDrift()
	h.drain()
	if h.db.applies != 0 {
		t.Fatal("remediation applied while a merge waits for approval")
	}
	if got := h.forge.issues["drift"]; !strings.HasPrefix(got, "open: ") {
		t.Fatalf("drift issue = %q", got)
	}
	drift, err := h.store.GetDrift(t.Context(), "db1")
	if err != nil || len(drift.Roles) != 1 || drift.Since.IsZero() {
		t.Fatalf("drift state = %+v, %v", drift, err)
	}
	// The approval is settled: the next check remediates and closes.
	if err := h.store.PutPullRequest(t.Context(), &store.PullRequest{Number: 1, State: store.PRApplied}, store.Fence{}); err != nil {
		t.Fatal(err)
	}
	h.r.TriggerDrift()
	h.drain()
	if h.db.applies != 1 || h.forge.issues["drift"] != "closed" {
		t.Fatalf("applies %d, issue %q; want remediated and closed", h.db.applies, h.forge.issues["drift"])
	}
	drifts, err := h.store.ListSessions(t.Context(), store.Filter{Kind: store.KindDrift})
	if err != nil || len(drifts) != 2 {
		t.Errorf("drift sessions: %d, %v", len(drifts), err)
	}
	// In sync: no session, no report.
	calls := h.forge.count("close_issue") + h.forge.count("upsert_issue")
	h.r.TriggerDrift()
	h.drain()
	if got := h.forge.count("close_issue") + h.forge.count("upsert_issue"); got != calls {
		t.Errorf("a clean check posted %d issue update(s)", got-calls)
	}
}

func TestOnceAndLease(t *testing.T) {
	h := newHarness(t, nil)
	_, ok, err := h.store.TryLease(t.Context(), LeaseName, "someone-else", time.Hour)
	if err != nil || !ok {
		t.Fatal(err)
	}
	if err := h.r.Once(t.Context()); err == nil || !strings.Contains(err.Error(), "holds the lease") {
		t.Errorf("Once with the lease held elsewhere = %v", err)
	}
	if err := h.r.Drain(t.Context()); err == nil {
		t.Error("Drain without the lease succeeded")
	}
	if err := h.store.ReleaseLease(t.Context(), LeaseName, "someone-else"); err != nil {
		t.Fatal(err)
	}
	h.openPR(11, "h1", "SELECT")
	if err := h.r.Once(t.Context()); err != nil {
		t.Fatalf("Once: %v", err)
	}
	if n := len(h.planSessions(11)); n != 1 {
		t.Errorf("Once planned %d times, want 1", n)
	}
	// Once released the lease.
	if _, ok, err := h.store.TryLease(t.Context(), LeaseName, "someone-else", time.Hour); err != nil || !ok {
		t.Errorf("lease after Once: %v, %v", ok, err)
	}
}

// A direct push to the branch is planned and reported as drift; it is
// applied only with ApplyUnreviewed.
func TestDirectPush(t *testing.T) {
	for _, unreviewed := range []bool{false, true} {
		t.Run(fmt.Sprintf("apply_unreviewed=%v", unreviewed), func(t *testing.T) {
			h := newHarness(t, func(o *Options) { o.ApplyUnreviewed = unreviewed })
			h.r.TriggerPoll() // records the branch head
			h.drain()
			h.src.commit("direct", rolesFile("SELECT"), true)
			h.src.branch = "direct"
			code, _ := h.post("push", "p1", map[string]any{"ref": "refs/heads/main", "after": "direct", "repository": map[string]any{"full_name": testRepo}})
			if code != http.StatusAccepted {
				t.Fatalf("push: %d", code)
			}
			h.drain()
			drifts, err := h.store.ListSessions(t.Context(), store.Filter{Kind: store.KindDrift})
			if err != nil || len(drifts) != 1 || drifts[0].Commit != "direct" {
				t.Fatalf("drift sessions = %+v, %v; want one at the pushed commit", drifts, err)
			}
			if unreviewed {
				if h.db.applies != 1 || h.forge.issues["drift"] != "" && h.forge.issues["drift"] != "closed" {
					t.Errorf("applies %d, issue %q: want applied, no open issue", h.db.applies, h.forge.issues["drift"])
				}
				return
			}
			if h.db.applies != 0 {
				t.Error("an unreviewed push was applied")
			}
			if !strings.HasPrefix(h.forge.issues["drift"], "open: ") {
				t.Errorf("drift issue = %q, want open", h.forge.issues["drift"])
			}
		})
	}
}
