package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	gh "github.com/google/go-github/v60/github"

	"github.com/rolecd/rolecd/applier"
	"github.com/rolecd/rolecd/reconciler"
	"github.com/rolecd/rolecd/store"
	"github.com/rolecd/rolecd/test/githubtest"
)

// The full story: open PR -> one comment with checksums and a success
// status -> push again (a burst) -> the same comment updated, one plan ->
// merge -> applied -> result comment and status -> re-plan empty.
func TestDaemonFullStory(t *testing.T) {
	e := newDaemonEnv(t)
	d := e.newDaemon(nil)
	ro := roleName(t, "ro")

	head1 := e.openPR(1, rolesYAML(map[string]string{"ro": "SELECT"}))
	d.mustDeliver("pull_request", "d-open", e.gh.PullRequestEvent("opened", 1))
	d.drain()

	comments := e.botComments(1)
	if len(comments) != 1 {
		t.Fatalf("after open: %d bot comments, want 1", len(comments))
	}
	plans := d.planSessions(1)
	if len(plans) != 1 || plans[0].Commit != head1 || plans[0].Status != store.StatusChanges {
		t.Fatalf("plan sessions of #1 = %+v, want one with changes at %s", plans, head1)
	}
	rec := d.pr(1)
	for key, sum := range rec.Checksums {
		if !strings.Contains(comments[0].Body, sum) {
			t.Errorf("comment lacks the checksum of %s (%s)", key, sum)
		}
	}
	if len(rec.Checksums) != 1 || !strings.Contains(comments[0].Body, rec.Digest) || !strings.Contains(comments[0].Body, ro) {
		t.Errorf("comment lacks the role or digest; checksums %v\n%s", rec.Checksums, comments[0].Body)
	}
	if st, ok := e.gh.LatestStatus(head1, reconciler.StatusPlan); !ok || st.State != "success" {
		t.Errorf("rolecd/plan status of %s = %+v, want success", head1, st)
	}

	// A burst of pushes: three synchronize deliveries, one plan of the
	// last head, the same comment edited in place.
	e.pushPR(1, rolesYAML(map[string]string{"ro": "SELECT, UPDATE"}))
	head3 := e.pushPR(1, rolesYAML(map[string]string{"ro": "SELECT, INSERT"}))
	for i := range 3 {
		d.mustDeliver("pull_request", fmt.Sprintf("d-sync-%d", i), e.gh.PullRequestEvent("synchronize", 1))
	}
	d.drain()
	comments = e.botComments(1)
	if len(comments) != 1 || comments[0].Edits != 1 {
		t.Fatalf("after the burst: %d comments (edits %+v), want the one comment edited once", len(comments), comments)
	}
	if plans := d.planSessions(1); len(plans) != 2 || plans[0].Commit != head3 {
		t.Errorf("plan sessions after the burst: %d, newest at %s; want 2, newest at %s", len(plans), plans[0].Commit, head3)
	}
	if !strings.Contains(comments[0].Body, head3) || !strings.Contains(comments[0].Body, "INSERT") {
		t.Errorf("edited comment does not show head %s with INSERT:\n%s", head3, comments[0].Body)
	}
	if st, ok := e.gh.LatestStatus(head3, reconciler.StatusPlan); !ok || st.State != "success" {
		t.Errorf("rolecd/plan status of %s = %+v, want success", head3, st)
	}
	reviewed := d.pr(1)

	// Merge: applied, reported.
	merge := e.mergePR(1)
	d.mustDeliver("pull_request", "d-closed", e.gh.PullRequestEvent("closed", 1))
	d.mustDeliver("push", "d-push", e.gh.PushEvent("refs/heads/main", e.base, merge))
	d.drain()

	rec = d.pr(1)
	if rec.State != store.PRApplied || rec.MergeSHA != merge {
		t.Fatalf("pull request state = %s at %s, want applied at %s", rec.State, rec.MergeSHA, merge)
	}
	applies := d.sessions(store.KindApply)
	if len(applies) != 1 || applies[0].Status != store.StatusApplied || applies[0].PlanSID == "" || applies[0].PullRequest != 1 {
		t.Fatalf("apply sessions = %+v, want one applied for #1", applies)
	}
	if applies[0].Checksum == "" {
		t.Error("apply session without checksum")
	}
	mergePlan, err := d.store.GetSession(context.Background(), applies[0].PlanSID)
	if err != nil {
		t.Fatal(err)
	}
	if mergePlan.Commit != merge || mergePlan.Checksum != reviewed.Digest {
		t.Errorf("applied plan at %s digest %s, want the merge %s with the reviewed digest %s", mergePlan.Commit, mergePlan.Checksum, merge, reviewed.Digest)
	}
	if !queryBool(t, e.cluster, "app", fmt.Sprintf("SELECT has_table_privilege('%s', 'public.orders', 'INSERT') AND has_table_privilege('%s', 'public.orders', 'SELECT')", ro, ro)) {
		t.Error("the merged role does not have SELECT and INSERT")
	}
	comments = e.botComments(1)
	if len(comments) != 2 || !strings.Contains(comments[1].Body, applies[0].SID) || !strings.Contains(comments[1].Body, "applied") {
		t.Fatalf("want the plan comment and one apply result comment naming %s; got %+v", applies[0].SID, comments)
	}
	if st, ok := e.gh.LatestStatus(merge, reconciler.StatusApply); !ok || st.State != "success" {
		t.Errorf("rolecd/apply status of the merge = %+v, want success", st)
	}

	// Re-plan: empty. Another pass changes nothing and posts nothing.
	if doc := d.planMain(); doc.Summary().Changes != 0 {
		t.Errorf("after apply the plan still has %d change(s)", doc.Summary().Changes)
	}
	writes := writeCalls(e.gh)
	d.TriggerPoll()
	d.TriggerDrift()
	d.drain()
	if n := len(d.sessions(store.KindApply)); n != 1 {
		t.Errorf("%d apply sessions after another pass, want 1", n)
	}
	if got := len(e.botComments(1)); got != 2 {
		t.Errorf("%d comments after another pass, want 2", got)
	}
	if len(e.gh.Issues()) != 0 {
		t.Errorf("a drift issue was opened with no drift: %+v", e.gh.Issues())
	}
	if got := writeCalls(e.gh); got != writes {
		t.Errorf("another pass wrote to GitHub: %d write calls, want %d", got, writes)
	}

	// The HTTP API serves the sessions (on the API listener, with the
	// token; not on the webhook listener) and the metrics.
	httpGet(t, d.url+"/api/v1/sessions", 404)
	httpGet(t, d.apiURL+"/api/v1/sessions", 401)
	body := d.apiGet("/api/v1/sessions/"+applies[0].SID, 200)
	if !strings.Contains(body, `"kind":"apply"`) || !strings.Contains(body, `"status":"applied"`) {
		t.Errorf("session API: %s", body)
	}
	if list := d.apiGet("/api/v1/sessions?kind=plan&limit=10", 200); !strings.HasPrefix(list, "[{") || strings.Count(list, `"kind":"plan"`) < 3 {
		t.Errorf("sessions API list: %.300s", list)
	}
	d.apiGet("/api/v1/sessions/no-such-sid", 404)
	metrics := httpGet(t, d.url+"/metrics", 200)
	for _, want := range []string{
		`rolecd_plans_total{outcome="changes",trigger="pr"} 2`,
		`rolecd_applies_total{status="applied",trigger="merge"} 1`,
		`rolecd_webhook_deliveries_total{event="pull_request",result="accepted"} 5`,
		`rolecd_reconcile_duration_seconds_count{result="ok",task="pr"}`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	httpGet(t, d.url+"/healthz", 200)
	if ready := httpGet(t, d.url+"/readyz", 200); !strings.Contains(ready, `"store":"ok"`) {
		t.Errorf("readyz: %s", ready)
	}
}

// State changed between review and merge: not applied, the comment says
// why; /rolecd apply <digest> from a reader is refused politely, from a
// writer it applies.
func TestDaemonStateChangedBetweenReviewAndMerge(t *testing.T) {
	e := newDaemonEnv(t)
	d := e.newDaemon(nil)
	ro := roleName(t, "ro")
	e.gh.SetPermission("mallory", "read")
	e.gh.SetPermission("bob", "write")

	e.openPR(2, rolesYAML(map[string]string{"ro": "SELECT"}))
	d.mustDeliver("pull_request", "d-open", e.gh.PullRequestEvent("opened", 2))
	d.drain()
	reviewed := d.pr(2)

	// Someone creates the role by hand between review and merge.
	e.cluster.Exec(t, "postgres", fmt.Sprintf("CREATE ROLE %s LOGIN CREATEDB", ro))
	merge := e.mergePR(2)
	d.mustDeliver("pull_request", "d-closed", e.gh.PullRequestEvent("closed", 2))
	d.drain()

	rec := d.pr(2)
	if rec.State != store.PRWaitingApproval || rec.MergeDigest == "" || rec.MergeDigest == reviewed.Digest {
		t.Fatalf("state %s digest %s (reviewed %s): want waiting-approval with a new digest", rec.State, rec.MergeDigest, reviewed.Digest)
	}
	if n := len(d.sessions(store.KindApply)); n != 0 {
		t.Fatalf("%d apply sessions: nothing may be applied before approval", n)
	}
	if queryBool(t, e.cluster, "app", fmt.Sprintf("SELECT has_table_privilege('%s', 'public.orders', 'SELECT')", ro)) {
		t.Fatal("the role got SELECT without approval")
	}
	comments := e.botComments(2)
	if len(comments) != 2 {
		t.Fatalf("%d comments, want the plan and the merge comment", len(comments))
	}
	why := comments[1].Body
	for _, want := range []string{"Not applied", rec.MergeDigest, "/rolecd apply " + rec.MergeDigest, ro} {
		if !strings.Contains(why, want) {
			t.Errorf("merge comment lacks %q:\n%s", want, why)
		}
	}
	if st, ok := e.gh.LatestStatus(merge, reconciler.StatusApply); !ok || st.State != "pending" {
		t.Errorf("rolecd/apply status = %+v, want pending", st)
	}

	// A reader may not apply.
	d.mustDeliver("issue_comment", "d-mallory", e.gh.IssueCommentEvent(2, "mallory", "/rolecd apply "+rec.MergeDigest))
	d.drain()
	if n := len(d.sessions(store.KindApply)); n != 0 {
		t.Fatalf("%d apply sessions after an unauthorised /rolecd apply", n)
	}
	comments = e.botComments(2)
	refusal := comments[len(comments)-1].Body
	if !strings.Contains(refusal, "@mallory") || !strings.Contains(refusal, "`write`") || !strings.Contains(refusal, "Nothing was applied") {
		t.Errorf("refusal = %q, want a polite answer naming the permission", refusal)
	}
	if d.pr(2).State != store.PRWaitingApproval {
		t.Fatalf("state changed after a refused approval: %s", d.pr(2).State)
	}

	// A writer with a wrong digest: refused too.
	d.mustDeliver("issue_comment", "d-bob-wrong", e.gh.IssueCommentEvent(2, "bob", "/rolecd apply "+reviewed.Digest))
	d.drain()
	if n := len(d.sessions(store.KindApply)); n != 0 {
		t.Fatalf("%d apply sessions after /rolecd apply with the reviewed (stale) digest", n)
	}

	// A writer with the digest: applied.
	d.mustDeliver("issue_comment", "d-bob", e.gh.IssueCommentEvent(2, "bob", "/rolecd apply "+rec.MergeDigest))
	d.drain()
	applies := d.sessions(store.KindApply)
	if len(applies) != 1 || applies[0].Status != store.StatusApplied || applies[0].PlanSID != rec.MergePlanSID {
		t.Fatalf("apply sessions = %+v, want one applied of the merge plan %s", applies, rec.MergePlanSID)
	}
	if !strings.Contains(applies[0].Actor, "bob") {
		t.Errorf("apply actor %q does not name the approver", applies[0].Actor)
	}
	if !queryBool(t, e.cluster, "app", fmt.Sprintf("SELECT has_table_privilege('%s', 'public.orders', 'SELECT')", ro)) {
		t.Error("the approved plan did not grant SELECT")
	}
	if !queryBool(t, e.cluster, "postgres", fmt.Sprintf("SELECT NOT rolcreatedb FROM pg_roles WHERE rolname = '%s'", ro)) {
		t.Error("the approved plan did not revert CREATEDB")
	}
	if got := d.pr(2).State; got != store.PRApplied {
		t.Errorf("state after approval = %s, want applied", got)
	}
	if st, ok := e.gh.LatestStatus(merge, reconciler.StatusApply); !ok || st.State != "success" {
		t.Errorf("rolecd/apply status = %+v, want success", st)
	}
}

// A missing or wrong signature: 401 and no work; nothing is recorded and
// GitHub is never called.
func TestDaemonWebhookSignature(t *testing.T) {
	e := newDaemonEnv(t)
	d := e.newDaemon(nil)
	e.openPR(3, rolesYAML(map[string]string{"ro": "SELECT"}))
	payload := e.gh.PullRequestEvent("opened", 3)
	body, header := e.gh.Webhook("pull_request", "d-forged", payload)

	tests := []struct {
		name, signature string
	}{
		{"missing", ""},
		{"wrong secret", githubtest.Sign([]byte("not the secret"), body)},
		{"not hex", "sha256=zz"},
		{"sha1", "sha1=" + strings.Repeat("0", 40)},
		{"other body", githubtest.Sign(e.secret, append(body, ' '))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := header.Clone()
			h.Del("X-Hub-Signature-256")
			if tc.signature != "" {
				h.Set("X-Hub-Signature-256", tc.signature)
			}
			req, err := http.NewRequest(http.MethodPost, d.url+"/webhooks/github", strings.NewReader(string(body)))
			if err != nil {
				t.Fatal(err)
			}
			req.Header = h
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("status %d, want 401", resp.StatusCode)
			}
		})
	}
	d.drain()
	pending, err := d.store.PendingDeliveries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.store.GetDelivery(context.Background(), "d-forged"); err == nil || len(pending) != 0 {
		t.Errorf("a refused delivery was recorded (pending %v)", pending)
	}
	if n := e.gh.TotalCalls(); n != 0 {
		t.Errorf("refused deliveries caused %d GitHub calls", n)
	}
	if n := len(d.planSessions(3)); n != 0 {
		t.Errorf("refused deliveries caused %d plans", n)
	}
	// The genuine delivery works.
	d.mustDeliver("pull_request", "d-genuine", payload)
	d.drain()
	if n := len(d.planSessions(3)); n != 1 {
		t.Errorf("the signed delivery made %d plans, want 1", n)
	}
}

// A correctly signed delivery of another repository is answered 202 and
// does nothing (it used to make rolecd plan the configured repository's
// pull request with the same number); GitHub's form-encoded deliveries of
// the configured repository work like JSON ones.
func TestDaemonWebhookOtherRepositoryAndFormEncoded(t *testing.T) {
	e := newDaemonEnv(t)
	d := e.newDaemon(nil)
	e.openPR(5, rolesYAML(map[string]string{"ro": "SELECT"}))
	ctx := context.Background()
	for _, ct := range []string{githubtest.ContentJSON, githubtest.ContentForm} {
		foreign := e.gh.PullRequestEvent("opened", 5)
		foreign.Repo.FullName = gh.String("mallory/db-roles")
		foreign.Repo.Owner.Login = gh.String("mallory")
		code, err := e.gh.DeliverAs(ctx, ct, d.url+"/webhooks/github", "pull_request", "d-foreign-"+ct, foreign)
		if err != nil || code != http.StatusAccepted {
			t.Fatalf("foreign delivery (%s): %d, %v; want 202", ct, code, err)
		}
	}
	d.drain()
	if n := e.gh.TotalCalls(); n != 0 {
		t.Errorf("foreign deliveries caused %d GitHub calls", n)
	}
	if n := len(d.planSessions(5)); n != 0 {
		t.Errorf("foreign deliveries caused %d plans", n)
	}
	code, err := e.gh.DeliverAs(ctx, githubtest.ContentForm, d.url+"/webhooks/github", "pull_request", "d-form", e.gh.PullRequestEvent("opened", 5))
	if err != nil || code != http.StatusAccepted {
		t.Fatalf("form-encoded delivery: %d, %v", code, err)
	}
	d.drain()
	if n := len(d.planSessions(5)); n != 1 {
		t.Errorf("the form-encoded delivery made %d plans, want 1", n)
	}
	if len(e.botComments(5)) != 1 {
		t.Errorf("no plan comment after the form-encoded delivery")
	}
}

// The same delivery twice (GitHub's redelivery) is processed once.
func TestDaemonDuplicateDelivery(t *testing.T) {
	e := newDaemonEnv(t)
	d := e.newDaemon(nil)
	e.openPR(4, rolesYAML(map[string]string{"ro": "SELECT"}))
	d.mustDeliver("pull_request", "d-open", e.gh.PullRequestEvent("opened", 4))
	d.drain()

	// /rolecd plan forces a re-plan: the first delivery plans again...
	replan := e.gh.IssueCommentEvent(4, "alice", "/rolecd plan")
	body, header := e.gh.Webhook("issue_comment", "d-replan", replan)
	post := func() string {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, d.url+"/webhooks/github", strings.NewReader(string(body)))
		if err != nil {
			t.Fatal(err)
		}
		req.Header = header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("status %d, want 202", resp.StatusCode)
		}
		return strings.TrimSpace(string(b))
	}
	if got := post(); got != "accepted" {
		t.Fatalf("first delivery: %q, want accepted", got)
	}
	d.drain()
	if n := len(d.planSessions(4)); n != 2 {
		t.Fatalf("%d plans after /rolecd plan, want 2", n)
	}
	// Settle the first poll (it records the branch head), then redeliver.
	d.TriggerPoll()
	d.drain()
	getPulls := e.gh.Calls(githubtest.GetPull)
	writes := writeCalls(e.gh)
	// ...the redelivery of the same id is acknowledged and ignored.
	if got := post(); got != "duplicate" {
		t.Fatalf("redelivery: %q, want duplicate", got)
	}
	d.TriggerPoll() // also re-reads pending deliveries from the store
	d.drain()
	if n := len(d.planSessions(4)); n != 2 {
		t.Errorf("%d plans after the redelivery, want still 2", n)
	}
	if got := e.gh.Calls(githubtest.GetPull) - getPulls; got != 0 {
		t.Errorf("the redelivery fetched the pull request %d more time(s)", got)
	}
	if got := writeCalls(e.gh) - writes; got != 0 {
		t.Errorf("the redelivery wrote to GitHub %d time(s)", got)
	}
	dl, err := d.store.GetDelivery(context.Background(), "d-replan")
	if err != nil || dl.State != store.DeliveryProcessed {
		t.Errorf("delivery = %+v, %v; want processed", dl, err)
	}
}

// A daemon killed between merge and apply: the restarted daemon applies
// once. The test holds the appliers' advisory lock so the first daemon's
// apply blocks, observes the merge recorded as pending with its apply
// session running, and cancels that daemon there.
func TestDaemonKilledBetweenMergeAndApply(t *testing.T) {
	e := newDaemonEnv(t)
	d1 := e.newDaemon(nil)
	ro := roleName(t, "ro")
	e.openPR(5, rolesYAML(map[string]string{"ro": "SELECT"}))
	d1.mustDeliver("pull_request", "d-open", e.gh.PullRequestEvent("opened", 5))
	d1.drain()

	lock := e.cluster.Connect(t, "postgres")
	if _, err := lock.Exec(context.Background(), "SELECT pg_advisory_lock($1)", applier.LockKey); err != nil {
		t.Fatal(err)
	}
	e.mergePR(5)
	d1.mustDeliver("pull_request", "d-closed", e.gh.PullRequestEvent("closed", 5))

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d1.Drain(ctx) }()
	eventually(t, "the merge pending with a running apply", func() bool {
		rec, err := d1.store.GetPullRequest(context.Background(), 5)
		if err != nil || rec.State != store.PRMergedPending || rec.ApplySID == "" {
			return false
		}
		s, err := d1.store.GetSession(context.Background(), rec.ApplySID)
		return err == nil && s.Status == store.StatusRunning
	})
	cancel() // the daemon dies here
	<-done
	if _, err := lock.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", applier.LockKey); err != nil {
		t.Fatal(err)
	}
	if queryBool(t, e.cluster, "postgres", fmt.Sprintf("SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = '%s')", ro)) {
		t.Fatal("the role exists although the apply was interrupted")
	}
	if got := d1.pr(5).State; got != store.PRMergedPending {
		t.Fatalf("state after the kill = %s, want merged-pending", got)
	}

	// Restart: a new daemon on the same store finds the pending merge.
	d2 := e.newDaemon(nil)
	d2.TriggerPoll()
	d2.drain()
	d2.TriggerPoll()
	d2.drain()
	// Two apply sessions: the interrupted one (nothing ran) and the one
	// after the restart.
	applies := d2.sessions(store.KindApply)
	if len(applies) != 2 || applies[0].Status != store.StatusApplied || applies[1].Status != store.StatusInterrupted {
		t.Fatalf("apply sessions after the restart: %d, newest first %v; want the interrupted one and one applied", len(applies), statuses(applies))
	}
	for _, st := range d2.statementsOf(applies[1].SID) {
		if st.Outcome == "ok" {
			t.Errorf("the interrupted apply ran %q", st.SQL)
		}
	}
	if !queryBool(t, e.cluster, "app", fmt.Sprintf("SELECT has_table_privilege('%s', 'public.orders', 'SELECT')", ro)) {
		t.Error("the role was not applied after the restart")
	}
	if got := d2.pr(5).State; got != store.PRApplied {
		t.Errorf("state after the restart = %s, want applied", got)
	}
	results := 0
	for _, c := range e.botComments(5) {
		if strings.Contains(c.Body, "### rolecd apply") {
			results++
		}
	}
	if results != 1 {
		t.Errorf("%d apply result comments, want 1", results)
	}
	creds, err := d2.store.Credentials(context.Background(), ro)
	if err != nil {
		t.Fatal(err)
	}
	if len(creds) != 1 {
		t.Errorf("%d password versions, want 1 (created once)", len(creds))
	}
}

// GitHub answering 502 and then rate limits for a while: the comment still
// arrives, once.
func TestDaemonGitHubFailures(t *testing.T) {
	e := newDaemonEnv(t)
	d := e.newDaemon(nil)
	head := e.openPR(6, rolesYAML(map[string]string{"ro": "SELECT"}))
	d.mustDeliver("pull_request", "d-open", e.gh.PullRequestEvent("opened", 6))

	// Three 502s: the client's three attempts at GET pull fail; the task
	// waits (no failed status), the delivery stays pending.
	e.gh.FailNext(3, http.StatusBadGateway, nil)
	// Then a primary rate limit (reset in a second) and a secondary one.
	e.gh.FailNext(1, http.StatusForbidden, http.Header{
		"X-Ratelimit-Remaining": {"0"}, "X-Ratelimit-Reset": {fmt.Sprint(e.clock.Now().Unix())},
	})
	e.gh.FailNext(1, http.StatusTooManyRequests, http.Header{"Retry-After": {"0"}})
	if err := d.Drain(context.Background()); err == nil {
		t.Fatal("Drain with GitHub down reported no waiting work")
	}
	if n := len(e.gh.Comments(6)); n != 0 {
		t.Fatalf("%d comments while GitHub was down", n)
	}
	if _, ok := e.gh.LatestStatus(head, reconciler.StatusPlan); ok {
		t.Fatal("a status was set while GitHub was down")
	}
	dl, err := d.store.GetDelivery(context.Background(), "d-open")
	if err != nil || dl.State != store.DeliveryPending || dl.Attempts != 1 {
		t.Fatalf("delivery = %+v, %v; want pending after one failed attempt", dl, err)
	}

	// The next poll retries through the rate limits.
	d.TriggerPoll()
	d.drain()
	comments := e.botComments(6)
	if len(comments) != 1 {
		t.Fatalf("%d comments, want exactly 1", len(comments))
	}
	if st, ok := e.gh.LatestStatus(head, reconciler.StatusPlan); !ok || st.State != "success" {
		t.Errorf("status = %+v, want success", st)
	}
	if dl, err := d.store.GetDelivery(context.Background(), "d-open"); err != nil || dl.State != store.DeliveryProcessed {
		t.Errorf("delivery = %+v, %v; want processed", dl, err)
	}
	// Nothing more happens on later passes.
	d.TriggerPoll()
	d.drain()
	if c := e.botComments(6); len(c) != 1 || c[0].Edits != 0 {
		t.Errorf("comments after another pass = %+v, want the one, unedited", c)
	}
	if n := len(e.gh.Statuses(head)); n != 1 {
		t.Errorf("%d statuses on %s, want 1", n, head)
	}
	metrics := httpGet(t, d.url+"/metrics", 200)
	if !strings.Contains(metrics, `rolecd_github_api_errors_total{op="get_pr"} 1`) {
		t.Errorf("metrics do not count the failed GitHub call:\n%s", grepLines(metrics, "rolecd_github"))
	}
}

// An out-of-band GRANT: the drift schedule reports it in one issue (a
// report GitHub refused at first is posted after a restart, from the
// store), the issue is updated in place, remediation reverts the GRANT and
// closes the issue; the cron schedule itself triggers the check.
func TestDaemonDrift(t *testing.T) {
	e := newDaemonEnv(t)
	ro := roleName(t, "ro")
	e.remote.Commit("main", "declare ro", rolesYAML(map[string]string{"ro": "SELECT"}))
	d := e.newDaemon(func(o *reconciler.Options) { o.ApplyUnreviewed = true })
	// The first pass sees the branch for the first time: applied, as
	// apply_unreviewed asks.
	d.TriggerPoll()
	d.drain()
	if !queryBool(t, e.cluster, "app", fmt.Sprintf("SELECT has_table_privilege('%s', 'public.orders', 'SELECT')", ro)) {
		t.Fatal("apply_unreviewed did not apply the branch")
	}
	if len(e.gh.Issues()) != 0 {
		t.Fatalf("issues before any drift: %+v", e.gh.Issues())
	}

	// Out of band. GitHub refuses the issue at first (three 502s).
	grant := fmt.Sprintf("GRANT INSERT ON public.orders TO %s", ro)
	e.cluster.Exec(t, "app", grant)
	e.gh.FailNext(3, http.StatusBadGateway, nil)
	d.TriggerDrift()
	d.drain()
	// Two drift sessions: the first pass (roles missing, then applied), and
	// this one.
	drifts := d.sessions(store.KindDrift)
	if len(drifts) != 2 || drifts[0].Status != store.StatusChanges || strings.Join(drifts[0].Roles, ",") != ro {
		t.Fatalf("%d drift sessions, newest %s %v; want 2, the newest with changes of %s", len(drifts), drifts[0].Status, drifts[0].Roles, ro)
	}
	if len(e.gh.Issues()) != 0 {
		t.Fatalf("issue created although GitHub failed: %+v", e.gh.Issues())
	}
	if m := httpGet(t, d.url+"/metrics", 200); !strings.Contains(m, `rolecd_drift_roles{resource="db1"} 1`) {
		t.Errorf("drift metric missing:\n%s", grepLines(m, "rolecd_drift"))
	}
	if !strings.Contains(e.logs.String(), `"message":"drift: live state differs from the branch"`) {
		t.Error("no drift log line")
	}

	// Restarted later: the report comes out of the store.
	e.clock.Advance(time.Minute)
	d2 := e.newDaemon(nil)
	d2.drain()
	issues := e.gh.Issues()
	if len(issues) != 1 || issues[0].State != "open" || !strings.Contains(issues[0].Body, ro) || !strings.Contains(issues[0].Body, "REVOKE INSERT") {
		t.Fatalf("issues = %+v, want one open drift issue with the REVOKE", issues)
	}

	// Checked again: the same issue, edited in place.
	d2.TriggerDrift()
	d2.drain()
	if issues := e.gh.Issues(); len(issues) != 1 || issues[0].State != "open" {
		t.Fatalf("issues after a second check = %+v, want the same one", issues)
	}

	// Remediation reverts the GRANT and closes the issue.
	d3 := e.newDaemon(func(o *reconciler.Options) { o.DriftRemediate = true })
	d3.TriggerDrift()
	d3.drain()
	if queryBool(t, e.cluster, "app", fmt.Sprintf("SELECT has_table_privilege('%s', 'public.orders', 'INSERT')", ro)) {
		t.Error("remediation left the out-of-band INSERT")
	}
	if issues := e.gh.Issues(); len(issues) != 1 || issues[0].State != "closed" {
		t.Fatalf("issues after remediation = %+v, want the one issue closed", issues)
	}
	if doc := d3.planMain(); doc.Summary().Changes != 0 {
		t.Errorf("after remediation the plan has %d change(s)", doc.Summary().Changes)
	}

	// The cron schedule triggers the check by itself.
	e.cluster.Exec(t, "app", grant)
	d4 := e.newDaemon(func(o *reconciler.Options) { o.DriftSchedule = "@every 1s" })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d4.Run(ctx) }()
	eventually(t, "the scheduled drift check to reopen a drift issue", func() bool {
		for _, is := range e.gh.Issues() {
			if is.State == "open" {
				return true
			}
		}
		return false
	})
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	if n := len(e.gh.Issues()); n != 2 {
		t.Errorf("%d issues, want the closed one and a new open one", n)
	}
}

func statuses(list []store.Session) []store.Status {
	var out []store.Status
	for _, s := range list {
		out = append(out, s.Status)
	}
	return out
}

// httpGet fetches url and wants status code.
func httpGet(t *testing.T, url string, code int) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != code {
		t.Fatalf("GET %s: %d, want %d: %s", url, resp.StatusCode, code, b)
	}
	return string(b)
}

// grepLines keeps the lines of s containing sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// writeCalls counts the requests that change something on GitHub.
func writeCalls(gh *githubtest.Server) int {
	n := 0
	for _, ep := range []string{githubtest.CreateComment, githubtest.EditComment, githubtest.DeleteComment,
		githubtest.CreateStatus, githubtest.CreateIssue, githubtest.EditIssue} {
		n += gh.Calls(ep)
	}
	return n
}

// A daemon killed in the middle of an apply, after the cluster-level
// statements committed and while a database's transaction waits: the
// restarted daemon applies the remaining statements of the same reviewed
// plan, with no /rolecd apply, and the password is created once.
func TestDaemonKilledMidApplyResumesRemainingRoles(t *testing.T) {
	e := newDaemonEnv(t)
	d1 := e.newDaemon(nil)
	ro, rw := roleName(t, "ro"), roleName(t, "rw")
	e.openPR(5, rolesYAML(map[string]string{"ro": "SELECT", "rw": "SELECT, INSERT"}))
	d1.mustDeliver("pull_request", "d-open", e.gh.PullRequestEvent("opened", 5))
	d1.drain()

	// An uncommitted change of app's "public" schema row: the apply's
	// GRANT USAGE in app waits for it, after the roles were created.
	e.cluster.Exec(t, "app", "CREATE ROLE blocker")
	ctx := context.Background()
	btx, err := e.cluster.Connect(t, "app").Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := btx.Exec(ctx, "GRANT USAGE ON SCHEMA public TO blocker"); err != nil {
		t.Fatal(err)
	}
	e.mergePR(5)
	d1.mustDeliver("pull_request", "d-closed", e.gh.PullRequestEvent("closed", 5))
	dctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d1.Drain(dctx) }()
	eventually(t, "the apply waiting in database app", func() bool {
		return queryBool(t, e.cluster, "postgres", `SELECT EXISTS (SELECT FROM pg_stat_activity WHERE application_name = 'rolecd' AND datname = 'app' AND wait_event_type = 'Lock')`)
	})
	cancel() // the daemon dies here
	<-done
	if err := btx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if !queryBool(t, e.cluster, "postgres", fmt.Sprintf("SELECT count(*) = 2 FROM pg_roles WHERE rolname IN ('%s', '%s')", ro, rw)) {
		t.Fatal("the interrupted apply did not create the roles before it waited")
	}

	d2 := e.newDaemon(nil)
	d2.TriggerPoll()
	d2.drain()
	if got := d2.pr(5).State; got != store.PRApplied {
		t.Fatalf("state after the restart = %s, want applied without an approval", got)
	}
	applies := d2.sessions(store.KindApply)
	if len(applies) != 2 || applies[0].Status != store.StatusApplied || applies[1].Status != store.StatusInterrupted {
		t.Fatalf("apply sessions: newest first %v; want interrupted then applied", statuses(applies))
	}
	for label, name := range map[string]string{"ro": ro, "rw": rw} {
		if !queryBool(t, e.cluster, "app", fmt.Sprintf("SELECT has_table_privilege('%s', 'public.orders', 'SELECT')", name)) {
			t.Errorf("%s was not granted after the restart", label)
		}
		creds, err := d2.store.Credentials(ctx, name)
		if err != nil || len(creds) != 1 || creds[0].State != store.CredentialActive {
			t.Errorf("%s: password versions %+v, %v; want one, active", label, creds, err)
		}
	}
}
