package github_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/rolecd/rolecd/internal/forge"
	"github.com/rolecd/rolecd/reporter/github"
	"github.com/rolecd/rolecd/test/githubtest"
)

const token = "ghp_s3cr3tT0kenThatMustNeverLeak"

// sleeper records the waits a client asks for and returns at once.
type sleeper struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleeper) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waits = append(s.waits, d)
	return ctx.Err()
}

func (s *sleeper) got() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.waits...)
}

type fixture struct {
	srv   *githubtest.Server
	c     *github.Client
	sleep *sleeper
	logs  *bytes.Buffer
}

func setup(t *testing.T, mods ...func(*github.Config)) fixture {
	t.Helper()
	srv := githubtest.New(t, "acme", "db-roles")
	srv.RequireToken(token)
	f := fixture{srv: srv, sleep: &sleeper{}, logs: &bytes.Buffer{}}
	cfg := github.Config{APIURL: srv.URL, Owner: "acme", Repo: "db-roles", Token: token,
		Sleep: f.sleep.sleep, Log: zerolog.New(f.logs)}
	for _, m := range mods {
		m(&cfg)
	}
	c, err := github.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.c = c
	return f
}

func TestNewRejectsBadConfig(t *testing.T) {
	for name, cfg := range map[string]github.Config{
		"no token":         {Owner: "o", Repo: "r"},
		"no repo":          {Owner: "o", Token: token},
		"relative api url": {Owner: "o", Repo: "r", Token: token, APIURL: "ghe.example.com/api/v3"},
		"credentials":      {Owner: "o", Repo: "r", Token: token, APIURL: "https://x:" + token + "@ghe.example.com/api/v3/"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := github.New(cfg)
			if err == nil {
				t.Fatal("want an error")
			}
			if strings.Contains(err.Error(), token) {
				t.Fatalf("error holds the token: %v", err)
			}
		})
	}
}

func TestEnterpriseURLWithoutAPIPath(t *testing.T) {
	// WithEnterpriseURLs appends /api/v3/ to a bare GitHub Enterprise host.
	f := setup(t, func(c *github.Config) { c.APIURL = strings.TrimSuffix(c.APIURL, "api/v3/") })
	f.srv.AddPR(githubtest.PR{Number: 7, HeadSHA: "abc"})
	pr, err := f.c.GetPR(context.Background(), 7)
	if err != nil || pr.HeadSHA != "abc" {
		t.Fatalf("GetPR = %+v, %v", pr, err)
	}
}

func TestListOpenPRsPaginates(t *testing.T) {
	f := setup(t)
	for n := 1; n <= 260; n++ {
		pr := githubtest.PR{Number: n, HeadSHA: fmt.Sprintf("%040d", n), Author: "u" + strconv.Itoa(n%3)}
		switch {
		case n > 250:
			pr.Base = "release"
		case n%50 == 0:
			pr.Merged, pr.MergeSHA = true, "m"
		}
		f.srv.AddPR(pr)
	}
	prs, err := f.c.ListOpenPRs(context.Background(), "main")
	if err != nil {
		t.Fatal(err)
	}
	if len(prs) != 245 {
		t.Fatalf("got %d open PRs on main, want 245", len(prs))
	}
	if got := f.srv.Calls(githubtest.ListPulls); got != 3 {
		t.Errorf("%d list calls, want 3 pages", got)
	}
	first := prs[0]
	if first.Number != 249 || first.HeadSHA != fmt.Sprintf("%040d", 249) || first.BaseRef != "main" ||
		first.HeadRef != "pr-249" || first.State != "open" || first.Author != "u0" || first.Merged {
		t.Errorf("first PR = %+v", first)
	}
	seen := map[int]bool{}
	for _, p := range prs {
		if seen[p.Number] || p.Number%50 == 0 || p.Number > 250 {
			t.Fatalf("PR #%d listed twice or should not be listed", p.Number)
		}
		seen[p.Number] = true
	}
}

func TestGetPRAndFiles(t *testing.T) {
	f := setup(t)
	var files []string
	for i := range 230 {
		files = append(files, fmt.Sprintf("roles/team%03d.yaml", i))
	}
	f.srv.AddPR(githubtest.PR{Number: 12, Title: "grant bi", Author: "bob", HeadRef: "bi", HeadSHA: "h1", Files: files})
	f.srv.Merge(12, "m1")
	ctx := context.Background()
	pr, err := f.c.GetPR(ctx, 12)
	if err != nil {
		t.Fatal(err)
	}
	want := forge.PR{Number: 12, Title: "grant bi", State: "closed", BaseRef: "main", HeadRef: "bi", HeadSHA: "h1",
		Author: "bob", Merged: true, MergeCommitSHA: "m1"}
	if pr != want {
		t.Errorf("GetPR = %+v, want %+v", pr, want)
	}
	got, err := f.c.PRFiles(ctx, 12)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != strings.Join(files, ",") {
		t.Errorf("PRFiles returned %d files, want %d in order", len(got), len(files))
	}
	if n := f.srv.Calls(githubtest.ListPullFiles); n != 3 {
		t.Errorf("%d file list calls, want 3", n)
	}
	_, err = f.c.GetPR(ctx, 99)
	if github.StatusCode(err) != http.StatusNotFound || github.IsTransient(err) {
		t.Errorf("GetPR(99) = %v (status %d, transient %v), want a permanent 404", err, github.StatusCode(err), github.IsTransient(err))
	}
}

func TestUpsertCommentEditsInPlace(t *testing.T) {
	f := setup(t)
	f.srv.AddPR(githubtest.PR{Number: 3, HeadSHA: "a"})
	human := f.srv.AddComment(3, "alice", "> "+github.PartMarker("plan", 1, 1)+"\nquoting the bot")
	ctx := context.Background()
	if err := f.c.UpsertComment(ctx, 3, "plan", []string{"plan at a"}); err != nil {
		t.Fatal(err)
	}
	if err := f.c.UpsertComment(ctx, 3, "other", []string{"another series"}); err != nil {
		t.Fatal(err)
	}
	cs := f.srv.Comments(3)
	if len(cs) != 3 {
		t.Fatalf("%d comments, want 3", len(cs))
	}
	planID := cs[1].ID
	if cs[1].Body != "<!-- rolecd:plan part 1/1 -->\nplan at a" || cs[1].Author != githubtest.BotLogin {
		t.Fatalf("plan comment = %+v", cs[1])
	}
	if err := f.c.UpsertComment(ctx, 3, "plan", []string{"plan at b"}); err != nil {
		t.Fatal(err)
	}
	if err := f.c.UpsertComment(ctx, 3, "plan", []string{"plan at b"}); err != nil {
		t.Fatal(err)
	}
	cs = f.srv.Comments(3)
	if len(cs) != 3 || cs[0] != human || cs[2].Body != "<!-- rolecd:other part 1/1 -->\nanother series" {
		t.Fatalf("comments = %+v", cs)
	}
	if cs[1].ID != planID || cs[1].Body != "<!-- rolecd:plan part 1/1 -->\nplan at b" || cs[1].Edits != 1 {
		t.Errorf("plan comment = %+v, want comment %d edited once", cs[1], planID)
	}
	if n := f.srv.Calls(githubtest.EditComment); n != 1 {
		t.Errorf("%d edits, want 1 (an unchanged body is not edited)", n)
	}
	if err := f.c.UpsertComment(ctx, 3, "bad key", []string{"x"}); err == nil {
		t.Error("a key with a space was accepted")
	}
}

func TestUpsertCommentParts(t *testing.T) {
	f := setup(t)
	f.srv.AddPR(githubtest.PR{Number: 5, HeadSHA: "a"})
	for i := range 120 { // the series is found across pages of comments
		f.srv.AddComment(5, "alice", fmt.Sprintf("chatter %d", i))
	}
	ctx := context.Background()
	if err := f.c.UpsertComment(ctx, 5, "plan", []string{"one", "two", "three"}); err != nil {
		t.Fatal(err)
	}
	bodies := func() (out []string, ids []int64) {
		for _, c := range f.srv.Comments(5) {
			if c.Author == githubtest.BotLogin {
				out, ids = append(out, c.Body), append(ids, c.ID)
			}
		}
		return out, ids
	}
	got, ids := bodies()
	want := []string{"<!-- rolecd:plan part 1/3 -->\none", "<!-- rolecd:plan part 2/3 -->\ntwo", "<!-- rolecd:plan part 3/3 -->\nthree"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("bot comments = %q, want %q", got, want)
	}
	// A duplicate of part 2 (a create retried after a lost answer) is cleaned up.
	f.srv.AddComment(5, githubtest.BotLogin, want[1])
	if err := f.c.UpsertComment(ctx, 5, "plan", []string{"only"}); err != nil {
		t.Fatal(err)
	}
	got, newIDs := bodies()
	if len(got) != 1 || got[0] != "<!-- rolecd:plan part 1/1 -->\nonly" || newIDs[0] != ids[0] {
		t.Fatalf("after shrinking: %q (ids %v), want part 1 edited in place (id %d)", got, newIDs, ids[0])
	}
	if n := f.srv.Calls(githubtest.DeleteComment); n != 3 {
		t.Errorf("%d deletes, want 3 (parts 2, 3 and the duplicate)", n)
	}
	if n := len(f.srv.Comments(5)); n != 121 {
		t.Errorf("%d comments, want the 120 human ones and one part", n)
	}
	if err := f.c.UpsertComment(ctx, 5, "plan", nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := bodies(); len(got) != 0 {
		t.Errorf("no parts left %q", got)
	}
}

func TestUpsertCommentRefusesOversizedPart(t *testing.T) {
	f := setup(t)
	f.srv.AddPR(githubtest.PR{Number: 5})
	err := f.c.UpsertComment(context.Background(), 5, "plan", []string{strings.Repeat("x", github.MaxBody)})
	if err == nil || f.srv.TotalCalls() != 0 {
		t.Fatalf("oversized part: err %v after %d calls, want an error before any call", err, f.srv.TotalCalls())
	}
}

func TestSetStatus(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	long := strings.Repeat("é", 200)
	if err := f.c.SetStatus(ctx, "abc123", "rolecd/plan", "pending", "planning", ""); err != nil {
		t.Fatal(err)
	}
	if err := f.c.SetStatus(ctx, "abc123", "rolecd/plan", "failure", long, "https://rolecd.example/s/1"); err != nil {
		t.Fatal(err)
	}
	st := f.srv.Statuses("abc123")
	if len(st) != 2 || st[0].State != "pending" || st[0].Context != "rolecd/plan" || st[0].Description != "planning" {
		t.Fatalf("statuses = %+v", st)
	}
	if d := []rune(st[1].Description); len(d) != 140 || d[139] != '…' || st[1].TargetURL != "https://rolecd.example/s/1" {
		t.Errorf("second status = %+v", st[1])
	}
	if err := f.c.SetStatus(ctx, "abc123", "rolecd/plan", "done", "", ""); err == nil {
		t.Error("state done accepted")
	}
	if n := f.srv.Calls(githubtest.CreateStatus); n != 2 {
		t.Errorf("%d status calls, want 2", n)
	}
}

func TestPermission(t *testing.T) {
	f := setup(t)
	for _, p := range []string{"admin", "maintain", "write", "triage", "read", "none"} {
		f.srv.SetPermission("u-"+p, p)
	}
	ctx := context.Background()
	for _, tc := range []struct{ user, want string }{
		{"u-admin", "admin"}, {"u-maintain", "maintain"}, {"u-write", "write"},
		{"u-triage", "triage"}, {"u-read", "read"}, {"u-none", "none"}, {"stranger", "none"},
	} {
		got, err := f.c.Permission(ctx, tc.user)
		if err != nil || got != tc.want {
			t.Errorf("Permission(%s) = %q, %v; want %q", tc.user, got, err, tc.want)
		}
	}
}

func TestIssueUpsertAndClose(t *testing.T) {
	f := setup(t)
	f.srv.AddPR(githubtest.PR{Number: 1, HeadSHA: "a"}) // PRs are listed as issues too
	ctx := context.Background()
	other, err := f.c.UpsertIssue(ctx, "other", "something else", "x")
	if err != nil {
		t.Fatal(err)
	}
	n, err := f.c.UpsertIssue(ctx, "drift", "rolecd: drift on analytics", "body 1")
	if err != nil {
		t.Fatal(err)
	}
	if n == 1 || n == other {
		t.Fatalf("issue number %d collides", n)
	}
	n2, err := f.c.UpsertIssue(ctx, "drift", "rolecd: drift on analytics, billing", "body 2")
	if err != nil || n2 != n {
		t.Fatalf("second upsert = %d, %v; want the same issue %d", n2, err, n)
	}
	issues := f.srv.Issues()
	if len(issues) != 2 || issues[1].Number != n || issues[1].Title != "rolecd: drift on analytics, billing" ||
		issues[1].Body != "<!-- rolecd:drift -->\nbody 2" || issues[1].State != "open" || issues[1].Edits != 1 {
		t.Fatalf("issues = %+v", issues)
	}
	if err := f.c.CloseIssue(ctx, "drift", "drift is gone"); err != nil {
		t.Fatal(err)
	}
	issues = f.srv.Issues()
	if issues[1].State != "closed" || issues[1].StateReason != "completed" || issues[0].State != "open" {
		t.Fatalf("after close: %+v", issues)
	}
	if cs := f.srv.Comments(n); len(cs) != 1 || cs[0].Body != "drift is gone" {
		t.Errorf("close comments = %+v", cs)
	}
	edits := f.srv.Calls(githubtest.EditIssue)
	if err := f.c.CloseIssue(ctx, "drift", "again"); err != nil {
		t.Fatal(err)
	}
	if f.srv.Calls(githubtest.EditIssue) != edits || len(f.srv.Comments(n)) != 1 {
		t.Error("closing with no open issue changed something")
	}
	n3, err := f.c.UpsertIssue(ctx, "drift", "rolecd: drift again", "body 3")
	if err != nil || n3 == n {
		t.Fatalf("upsert after close = %d, %v; want a new issue", n3, err)
	}
}

func TestRetriesServerErrors(t *testing.T) {
	f := setup(t)
	f.srv.AddPR(githubtest.PR{Number: 2})
	f.srv.FailNext(2, http.StatusBadGateway, nil)
	if err := f.c.Comment(context.Background(), 2, "applied"); err != nil {
		t.Fatal(err)
	}
	if cs := f.srv.Comments(2); len(cs) != 1 || cs[0].Body != "applied" {
		t.Fatalf("comments = %+v, want exactly one", cs)
	}
	if n := f.srv.Calls(githubtest.CreateComment); n != 3 {
		t.Errorf("%d calls, want 3", n)
	}
	if got := f.sleep.got(); len(got) != 2 || got[0] != 500*time.Millisecond || got[1] != time.Second {
		t.Errorf("backoffs = %v, want [500ms 1s]", got)
	}
}

func TestRetriesDroppedConnections(t *testing.T) {
	f := setup(t)
	f.srv.AddPR(githubtest.PR{Number: 2, HeadSHA: "h"})
	f.srv.DropNext(2)
	pr, err := f.c.GetPR(context.Background(), 2)
	if err != nil || pr.HeadSHA != "h" {
		t.Fatalf("GetPR = %+v, %v", pr, err)
	}
	if n := f.srv.Calls(githubtest.GetPull); n != 3 {
		t.Errorf("%d calls, want 3", n)
	}
}

func TestGivesUpWithTransientError(t *testing.T) {
	f := setup(t, func(c *github.Config) { c.MaxAttempts = 3 })
	f.srv.AddPR(githubtest.PR{Number: 2})
	f.srv.FailNext(5, http.StatusServiceUnavailable, nil)
	err := f.c.Comment(context.Background(), 2, "x")
	if !github.IsTransient(err) || github.StatusCode(err) != http.StatusServiceUnavailable {
		t.Fatalf("err = %v, want a transient 503", err)
	}
	if n := f.srv.Calls(githubtest.CreateComment); n != 3 || len(f.srv.Comments(2)) != 0 {
		t.Errorf("%d calls and %d comments, want 3 and 0", n, len(f.srv.Comments(2)))
	}
	if github.IsTransient(fmt.Errorf("plain")) {
		t.Error("a plain error is transient")
	}
}

func rateLimited(reset time.Time) http.Header {
	return http.Header{
		"X-Ratelimit-Limit":     {"5000"},
		"X-Ratelimit-Remaining": {"0"},
		"X-Ratelimit-Reset":     {strconv.FormatInt(reset.Unix(), 10)},
	}
}

func TestPrimaryRateLimit(t *testing.T) {
	for _, tc := range []struct {
		name           string
		status         int
		reset          time.Duration
		minWait, limit time.Duration
	}{
		{"403 reset passed", http.StatusForbidden, -time.Minute, 0, 0},
		{"403 reset soon", http.StatusForbidden, 30 * time.Second, 28 * time.Second, 32 * time.Second},
		{"429 reset soon", http.StatusTooManyRequests, 20 * time.Second, 18 * time.Second, 22 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t)
			f.srv.AddPR(githubtest.PR{Number: 2})
			f.srv.FailNext(1, tc.status, rateLimited(time.Now().Add(tc.reset)))
			if err := f.c.Comment(context.Background(), 2, "x"); err != nil {
				t.Fatal(err)
			}
			if len(f.srv.Comments(2)) != 1 || f.srv.Calls(githubtest.CreateComment) != 2 {
				t.Fatalf("%d comments after %d calls", len(f.srv.Comments(2)), f.srv.Calls(githubtest.CreateComment))
			}
			waits := f.sleep.got()
			if tc.limit == 0 {
				if len(waits) != 0 {
					t.Errorf("waited %v for a reset in the past", waits)
				}
				return
			}
			if len(waits) != 1 || waits[0] < tc.minWait || waits[0] > tc.limit {
				t.Errorf("waits = %v, want one in [%s, %s]", waits, tc.minWait, tc.limit)
			}
		})
	}
}

func TestRateLimitLongerThanMaxWait(t *testing.T) {
	f := setup(t, func(c *github.Config) { c.MaxWait = time.Minute })
	f.srv.AddPR(githubtest.PR{Number: 2})
	f.srv.FailNext(1, http.StatusForbidden, rateLimited(time.Now().Add(time.Hour)))
	ctx := context.Background()
	err := f.c.Comment(ctx, 2, "x")
	if !github.IsTransient(err) || github.StatusCode(err) != http.StatusForbidden {
		t.Fatalf("err = %v, want a transient 403", err)
	}
	// The limit is remembered: the next call fails without asking GitHub.
	err = f.c.Comment(ctx, 2, "y")
	if !github.IsTransient(err) || f.srv.Calls(githubtest.CreateComment) != 1 || len(f.sleep.got()) != 0 {
		t.Fatalf("second call: %v after %d calls, %v waits", err, f.srv.Calls(githubtest.CreateComment), f.sleep.got())
	}
}

func TestSecondaryRateLimit(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		after  string
		want   []time.Duration
	}{
		{"429 retry-after 0", http.StatusTooManyRequests, "0", nil},
		{"403 retry-after 7", http.StatusForbidden, "7", []time.Duration{7 * time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t)
			f.srv.AddPR(githubtest.PR{Number: 2})
			f.srv.FailNext(1, tc.status, http.Header{"Retry-After": {tc.after}})
			if err := f.c.Comment(context.Background(), 2, "x"); err != nil {
				t.Fatal(err)
			}
			if len(f.srv.Comments(2)) != 1 || f.srv.Calls(githubtest.CreateComment) != 2 {
				t.Fatalf("%d comments after %d calls", len(f.srv.Comments(2)), f.srv.Calls(githubtest.CreateComment))
			}
			waits := f.sleep.got()
			if len(waits) != len(tc.want) {
				t.Fatalf("waits = %v, want %v", waits, tc.want)
			}
			for i := range waits {
				// The wait is measured from the answer: allow for the time since.
				if waits[i] > tc.want[i] || waits[i] < tc.want[i]-time.Second {
					t.Errorf("waits = %v, want %v", waits, tc.want)
				}
			}
		})
	}
}

func TestTokenNeverInErrorsOrLogs(t *testing.T) {
	ctx := context.Background()
	f := setup(t, func(c *github.Config) { c.MaxAttempts = 2 })
	f.srv.AddPR(githubtest.PR{Number: 2})
	var errs []error
	f.srv.FailNext(2, http.StatusBadGateway, nil)
	errs = append(errs, f.c.Comment(ctx, 2, "x"))
	f.srv.DropNext(2)
	errs = append(errs, f.c.Comment(ctx, 2, "x"))
	_, err := f.c.GetPR(ctx, 404)
	errs = append(errs, err)

	wrong := setup(t)
	wrong.srv.RequireToken("a-different-token")
	wrong.srv.AddPR(githubtest.PR{Number: 2})
	err = wrong.c.Comment(ctx, 2, "x")
	if github.StatusCode(err) != http.StatusUnauthorized || github.IsTransient(err) {
		t.Errorf("bad credentials: %v, want a permanent 401", err)
	}
	errs = append(errs, err)
	for i, err := range errs {
		if err == nil {
			t.Fatalf("call %d succeeded", i)
		}
		if msg := fmt.Sprintf("%v %+v %#v", err, err, err); strings.Contains(msg, token) {
			t.Errorf("error %d holds the token: %s", i, msg)
		}
	}
	if f.logs.Len() == 0 {
		t.Fatal("no retry was logged")
	}
	if strings.Contains(f.logs.String(), token) {
		t.Errorf("logs hold the token: %s", f.logs)
	}
}

func TestCancelledWhileWaiting(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := setup(t, func(c *github.Config) {
		c.Sleep = func(ctx context.Context, _ time.Duration) error { cancel(); return ctx.Err() }
	})
	f.srv.AddPR(githubtest.PR{Number: 2})
	f.srv.FailNext(1, http.StatusBadGateway, nil)
	err := f.c.Comment(ctx, 2, "x")
	if !errors.Is(err, context.Canceled) || github.IsTransient(err) {
		t.Fatalf("err = %v, want the context's error", err)
	}
	if n := f.srv.Calls(githubtest.CreateComment); n != 1 {
		t.Errorf("%d calls after cancel, want 1", n)
	}
}
