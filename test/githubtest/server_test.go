package githubtest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	gh "github.com/google/go-github/v60/github"

	"github.com/rolecd/rolecd/test/githubtest"
)

// fakeTB records what the server reports at cleanup instead of failing.
type fakeTB struct {
	testing.TB
	mu       sync.Mutex
	cleanups []func()
	errors   []string
}

func (f *fakeTB) Helper()           {}
func (f *fakeTB) Cleanup(fn func()) { f.cleanups = append(f.cleanups, fn) }
func (f *fakeTB) Errorf(s string, a ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errors = append(f.errors, fmt.Sprintf(s, a...))
}

func (f *fakeTB) finish() []string {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.errors
}

func do(t *testing.T, method, url, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer t")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestUnexpectedRequestsFailTheTest(t *testing.T) {
	for _, tc := range []struct{ name, method, path string }{
		{"unimplemented endpoint", "GET", "repos/acme/db-roles/commits"},
		{"wrong method", "PUT", "repos/acme/db-roles/issues/1/comments"},
		{"other repository", "GET", "repos/acme/other/pulls"},
		{"outside the API base", "GET", "/repos/acme/db-roles/pulls"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ft := &fakeTB{TB: t}
			s := githubtest.New(ft, "acme", "db-roles")
			url := s.URL + tc.path
			if strings.HasPrefix(tc.path, "/") {
				url = strings.TrimSuffix(s.URL, "/api/v3/") + tc.path
			}
			resp := do(t, tc.method, url, "")
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("status %d, want 404", resp.StatusCode)
			}
			errs := ft.finish()
			if len(errs) != 1 || !strings.Contains(errs[0], "unexpected request "+tc.method) {
				t.Errorf("cleanup reported %q, want one unexpected request", errs)
			}
		})
	}
	t.Run("expected requests only", func(t *testing.T) {
		ft := &fakeTB{TB: t}
		s := githubtest.New(ft, "acme", "db-roles")
		do(t, "GET", s.URL+"repos/acme/db-roles/pulls", "")
		if errs := ft.finish(); len(errs) != 0 {
			t.Errorf("cleanup reported %q", errs)
		}
	})
}

func TestAuthentication(t *testing.T) {
	s := githubtest.New(t, "acme", "db-roles")
	s.RequireToken("good")
	for _, tc := range []struct {
		auth string
		want int
	}{{"", 401}, {"Basic Zm9vOmJhcg==", 401}, {"Bearer bad", 401}, {"Bearer good", 200}, {"token good", 200}} {
		req, _ := http.NewRequest("GET", s.URL+"repos/acme/db-roles/pulls", nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want || resp.Header.Get("X-RateLimit-Remaining") == "" {
			t.Errorf("Authorization %q: status %d (rate headers %q), want %d", tc.auth, resp.StatusCode, resp.Header.Get("X-RateLimit-Remaining"), tc.want)
		}
	}
}

func TestPaginationLinks(t *testing.T) {
	s := githubtest.New(t, "acme", "db-roles")
	for n := 1; n <= 7; n++ {
		s.AddPR(githubtest.PR{Number: n})
	}
	resp := do(t, "GET", s.URL+"repos/acme/db-roles/pulls?state=open&per_page=3&page=2", "")
	var prs []gh.PullRequest
	if err := json.NewDecoder(resp.Body).Decode(&prs); err != nil {
		t.Fatal(err)
	}
	if len(prs) != 3 || prs[0].GetNumber() != 4 || prs[0].Merged != nil {
		t.Fatalf("page 2 = %d PRs starting at #%d (merged %v)", len(prs), prs[0].GetNumber(), prs[0].Merged)
	}
	link := resp.Header.Get("Link")
	for _, want := range []string{`page=3&per_page=3&state=open>; rel="next"`, `page=1&per_page=3&state=open>; rel="prev"`, `page=3&per_page=3&state=open>; rel="last"`} {
		if !strings.Contains(link, want) {
			t.Errorf("Link %q lacks %q", link, want)
		}
	}
}

func TestValidation(t *testing.T) {
	s := githubtest.New(t, "acme", "db-roles")
	s.AddPR(githubtest.PR{Number: 1})
	for _, tc := range []struct {
		name, method, path, body string
		want                     int
	}{
		{"comment too long", "POST", "issues/1/comments", `{"body":"` + strings.Repeat("x", 65537) + `"}`, 422},
		{"comment at the limit", "POST", "issues/1/comments", `{"body":"` + strings.Repeat("x", 65536) + `"}`, 201},
		{"empty comment", "POST", "issues/1/comments", `{"body":""}`, 422},
		{"comment on a missing issue", "POST", "issues/9/comments", `{"body":"x"}`, 404},
		{"edit a missing comment", "PATCH", "issues/comments/12345", `{"body":"x"}`, 404},
		{"status description too long", "POST", "statuses/abc", `{"state":"success","description":"` + strings.Repeat("d", 141) + `"}`, 422},
		{"status state", "POST", "statuses/abc", `{"state":"ok"}`, 422},
		{"issue without title", "POST", "issues", `{"body":"x"}`, 422},
		{"unknown user", "GET", "collaborators/nobody/permission", "", 404},
		{"missing pull", "GET", "pulls/2", "", 404},
	} {
		resp := do(t, tc.method, s.URL+"repos/acme/db-roles/"+tc.path, tc.body)
		if resp.StatusCode != tc.want {
			b, _ := io.ReadAll(resp.Body)
			t.Errorf("%s: status %d, want %d: %s", tc.name, resp.StatusCode, tc.want, b)
		}
	}
}

func TestWebhooks(t *testing.T) {
	s := githubtest.New(t, "acme", "db-roles")
	secret := []byte("hook-secret")
	s.SetWebhookSecret(secret)
	s.AddPR(githubtest.PR{Number: 4, HeadSHA: "h4", Files: []string{"roles/a.yaml"}})

	type delivery struct {
		event string
		body  []byte
	}
	got := make(chan delivery, 4)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := gh.ValidatePayload(r, secret)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		got <- delivery{gh.WebHookType(r), body}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer hook.Close()

	ctx := context.Background()
	for _, tc := range []struct {
		event   string
		payload any
		check   func(any) bool
	}{
		{"pull_request", s.PullRequestEvent("opened", 4), func(e any) bool {
			pe := e.(*gh.PullRequestEvent)
			return pe.GetAction() == "opened" && pe.GetNumber() == 4 && pe.GetPullRequest().GetHead().GetSHA() == "h4" &&
				pe.GetRepo().GetFullName() == "acme/db-roles"
		}},
		{"push", s.PushEvent("refs/heads/main", "a1", "b2"), func(e any) bool {
			pe := e.(*gh.PushEvent)
			return pe.GetRef() == "refs/heads/main" && pe.GetAfter() == "b2" && pe.GetRepo().GetFullName() == "acme/db-roles"
		}},
		{"issue_comment", s.IssueCommentEvent(4, "carol", "/rolecd apply abc"), func(e any) bool {
			ce := e.(*gh.IssueCommentEvent)
			return ce.GetIssue().IsPullRequest() && ce.GetIssue().GetNumber() == 4 &&
				ce.GetComment().GetBody() == "/rolecd apply abc" && ce.GetComment().GetUser().GetLogin() == "carol"
		}},
	} {
		status, err := s.Deliver(ctx, hook.URL, tc.event, "d-"+tc.event, tc.payload)
		if err != nil || status != http.StatusAccepted {
			t.Fatalf("%s: status %d, %v", tc.event, status, err)
		}
		d := <-got
		ev, err := gh.ParseWebHook(d.event, d.body)
		if err != nil || !tc.check(ev) {
			t.Errorf("%s: parsed %+v, %v", tc.event, ev, err)
		}
	}
	// The same delivery form-encoded: go-github validates it and returns the JSON.
	status, err := s.DeliverAs(ctx, githubtest.ContentForm, hook.URL, "pull_request", "d-form", s.PullRequestEvent("opened", 4))
	if err != nil || status != http.StatusAccepted {
		t.Fatalf("form-encoded: status %d, %v", status, err)
	}
	if d := <-got; !bytes.Contains(d.body, []byte(`"full_name":"acme/db-roles"`)) {
		t.Errorf("form-encoded delivery decoded to %s", d.body)
	}
	if cs := s.Comments(4); len(cs) != 1 || cs[0].Author != "carol" {
		t.Errorf("the issue_comment event did not add its comment: %+v", cs)
	}
	s.Merge(4, "m4")
	closed := s.PullRequestEvent("closed", 4)
	if !closed.GetPullRequest().GetMerged() || closed.GetPullRequest().GetMergeCommitSHA() != "m4" {
		t.Errorf("closed event = %+v", closed.GetPullRequest())
	}

	body, header := s.Webhook("push", "d-x", map[string]string{"ref": "x"})
	if header.Get("X-Hub-Signature-256") != githubtest.Sign(secret, body) || !bytes.HasPrefix([]byte(githubtest.Sign(secret, body)), []byte("sha256=")) {
		t.Errorf("signature header %q", header.Get("X-Hub-Signature-256"))
	}
}
