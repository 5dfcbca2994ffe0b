package reconciler

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rolecd/rolecd/reporter/github"
	"github.com/rolecd/rolecd/store"
	"github.com/rolecd/rolecd/test/githubtest"
)

func sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func TestParseCommand(t *testing.T) {
	tests := []struct {
		body      string
		verb, arg string
		ok        bool
	}{
		{"/rolecd plan", "plan", "", true},
		{"  /rolecd apply ABC123  \nplease", "apply", "ABC123", true},
		{"/rolecd", "help", "", true},
		{"/rolecd Apply x y", "apply", "x", true},
		{"please /rolecd apply x", "", "", false},
		{"/rolecdx plan", "", "", false},
		{"LGTM", "", "", false},
		{"", "", "", false},
	}
	for _, tc := range tests {
		verb, arg, ok := parseCommand(tc.body)
		if verb != tc.verb || arg != tc.arg || ok != tc.ok {
			t.Errorf("parseCommand(%q) = %q, %q, %v; want %q, %q, %v", tc.body, verb, arg, ok, tc.verb, tc.arg, tc.ok)
		}
	}
}

func TestWebhookAnswers(t *testing.T) {
	h := newHarness(t, nil)
	tests := []struct {
		name      string
		event, id string
		body      string
		sign      bool
		code      int
		answer    string
		recorded  bool
	}{
		{"ping", "ping", "p1", `{"zen":"x"}`, true, http.StatusOK, "pong", false},
		{"no event", "", "e1", `{}`, true, http.StatusBadRequest, "required", false},
		{"no delivery id", "push", "", `{}`, true, http.StatusBadRequest, "required", false},
		{"unsigned", "push", "u1", `{"ref":"refs/heads/main","repository":{"full_name":"acme/db-roles"}}`, false, http.StatusUnauthorized, "X-Hub-Signature-256", false},
		{"bad JSON", "pull_request", "b1", `{"action":`, true, http.StatusBadRequest, "decoding", false},
		{"labeled is ignored", "pull_request", "l1", `{"action":"labeled","number":3,"repository":{"full_name":"acme/db-roles"}}`, true, http.StatusAccepted, "ignored", false},
		{"push to another branch", "push", "o1", `{"ref":"refs/heads/feature","repository":{"full_name":"acme/db-roles"}}`, true, http.StatusAccepted, "ignored", false},
		{"comment that is not a command", "issue_comment", "c1",
			`{"action":"created","issue":{"number":3,"pull_request":{}},"comment":{"body":"LGTM","user":{"login":"a"}},"repository":{"full_name":"acme/db-roles"}}`, true, http.StatusAccepted, "ignored", false},
		{"command on an issue", "issue_comment", "c2",
			`{"action":"created","issue":{"number":3},"comment":{"body":"/rolecd plan","user":{"login":"a"}},"repository":{"full_name":"acme/db-roles"}}`, true, http.StatusAccepted, "ignored", false},
		{"command by a bot", "issue_comment", "c3",
			`{"action":"created","issue":{"number":3,"pull_request":{}},"comment":{"body":"/rolecd plan","user":{"login":"b","type":"Bot"}},"repository":{"full_name":"acme/db-roles"}}`, true, http.StatusAccepted, "ignored", false},
		{"other event", "star", "s1", `{}`, true, http.StatusAccepted, "ignored", false},
		{"push to main", "push", "m1", `{"ref":"refs/heads/main","after":"x","repository":{"full_name":"acme/db-roles"}}`, true, http.StatusAccepted, "accepted", true},
		{"redelivery", "push", "m1", `{"ref":"refs/heads/main","after":"x","repository":{"full_name":"acme/db-roles"}}`, true, http.StatusAccepted, "duplicate", true},
		{"command", "issue_comment", "c4",
			`{"action":"created","issue":{"number":3,"pull_request":{}},"comment":{"body":"/rolecd plan","user":{"login":"a","type":"User"}},"repository":{"full_name":"acme/db-roles"}}`, true, http.StatusAccepted, "accepted", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/webhooks/github", strings.NewReader(tc.body))
			if tc.event != "" {
				req.Header.Set("X-GitHub-Event", tc.event)
			}
			if tc.id != "" {
				req.Header.Set("X-GitHub-Delivery", tc.id)
			}
			if tc.sign {
				req.Header.Set("X-Hub-Signature-256", sign(h.secret, []byte(tc.body)))
			}
			w := httptest.NewRecorder()
			h.r.Handler().ServeHTTP(w, req)
			if w.Code != tc.code || !strings.Contains(w.Body.String(), tc.answer) {
				t.Errorf("answer %d %q, want %d containing %q", w.Code, w.Body.String(), tc.code, tc.answer)
			}
			_, err := h.store.GetDelivery(t.Context(), tc.id)
			if recorded := err == nil; recorded != tc.recorded {
				t.Errorf("recorded = %v, want %v", recorded, tc.recorded)
			}
		})
	}
	// Only GET on the read endpoints, only POST on the webhook; the API
	// and the metrics are not on the webhook listener's handler.
	for _, tc := range []struct {
		h            http.Handler
		method, path string
		code         int
	}{
		{h.r.Handler(), "GET", "/webhooks/github", http.StatusMethodNotAllowed},
		{h.r.Handler(), "POST", "/healthz", http.StatusMethodNotAllowed},
		{h.r.Handler(), "GET", "/api/v1/sessions", http.StatusNotFound},
		{h.r.Handler(), "GET", "/api/v1/sessions/x", http.StatusNotFound},
		{h.r.Handler(), "GET", "/metrics", http.StatusNotFound},
		{h.r.APIHandler(), "DELETE", "/api/v1/sessions/x", http.StatusMethodNotAllowed},
		{h.r.APIHandler(), "POST", "/webhooks/github", http.StatusNotFound},
	} {
		w := httptest.NewRecorder()
		tc.h.ServeHTTP(w, httptest.NewRequest(tc.method, tc.path, nil))
		if w.Code != tc.code {
			t.Errorf("%s %s = %d, want %d", tc.method, tc.path, w.Code, tc.code)
		}
	}
}

func TestReadyz(t *testing.T) {
	h := newHarness(t, nil)
	get := func() (int, string) {
		w := httptest.NewRecorder()
		h.r.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/readyz", nil))
		return w.Code, w.Body.String()
	}
	if code, body := get(); code != http.StatusServiceUnavailable || !strings.Contains(body, "never fetched") {
		t.Errorf("before a fetch: %d %s", code, body)
	}
	if err := h.src.Fetch(t.Context()); err != nil {
		t.Fatal(err)
	}
	if code, body := get(); code != http.StatusOK || !strings.Contains(body, `"store":"ok"`) {
		t.Errorf("after a fetch: %d %s", code, body)
	}
	if err := h.store.Store.Close(); err != nil {
		t.Fatal(err)
	}
	if code, body := get(); code != http.StatusServiceUnavailable || !strings.Contains(body, "unreachable") || strings.Contains(body, "closed") {
		t.Errorf("store closed: %d %s (want the state, not the error)", code, body)
	}
}

func TestSessionsAPI(t *testing.T) {
	h := newHarness(t, nil)
	for _, s := range []store.Session{
		{SID: "p1", Kind: store.KindPlan, Status: store.StatusChanges, Resources: []string{"db1"}},
		{SID: "a1", Kind: store.KindApply, Status: store.StatusApplied, Resources: []string{"db2"}},
	} {
		if err := h.store.CreateSession(t.Context(), &s); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		path string
		code int
		want []string
		not  []string
	}{
		{"/api/v1/sessions", 200, []string{`"sid":"p1"`, `"sid":"a1"`}, nil},
		{"/api/v1/sessions?kind=apply", 200, []string{`"sid":"a1"`}, []string{`"sid":"p1"`}},
		{"/api/v1/sessions?resource=db1", 200, []string{`"sid":"p1"`}, []string{`"sid":"a1"`}},
		{"/api/v1/sessions?limit=x", 400, []string{"limit"}, nil},
		{"/api/v1/sessions?since=yesterday", 400, []string{"since"}, nil},
		{"/api/v1/sessions/a1", 200, []string{`"kind":"apply"`, `"statements":[]`}, nil},
		{"/api/v1/sessions/nope", 404, nil, nil},
	}
	for _, tc := range tests {
		w := httptest.NewRecorder()
		h.r.APIHandler().ServeHTTP(w, httptest.NewRequest("GET", tc.path, nil))
		if w.Code != tc.code {
			t.Errorf("GET %s = %d, want %d", tc.path, w.Code, tc.code)
		}
		for _, s := range tc.want {
			if !strings.Contains(w.Body.String(), s) {
				t.Errorf("GET %s lacks %s: %s", tc.path, s, w.Body.String())
			}
		}
		for _, s := range tc.not {
			if strings.Contains(w.Body.String(), s) {
				t.Errorf("GET %s has %s", tc.path, s)
			}
		}
	}
}

// A task running past its deadline makes /readyz answer 503 naming it,
// and the overdue metric non-zero; both clear when it ends.
func TestReadyzReportsOverdueTask(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.TaskDeadline = time.Nanosecond })
	if err := h.src.Fetch(t.Context()); err != nil {
		t.Fatal(err)
	}
	get := func(path string) (int, string) {
		w := httptest.NewRecorder()
		h.r.Handler().ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		return w.Code, w.Body.String()
	}
	h.openPR(5, "h1", "SELECT")
	h.post("pull_request", "d1", prPayload("opened", 5))
	h.drain()
	h.merge(5, "m1")
	h.post("pull_request", "d2", prPayload("closed", 5))
	h.db.block = make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- h.r.Drain(t.Context()) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := get("/readyz")
		if code == http.StatusServiceUnavailable && strings.Contains(body, "past its deadline") {
			w := httptest.NewRecorder()
			h.r.MetricsHandler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
			metrics := w.Body.String()
			if !strings.Contains(metrics, "rolecd_task_overdue_seconds") || strings.Contains(metrics, "rolecd_task_overdue_seconds 0\n") {
				t.Errorf("metrics while overdue:\n%s", metrics)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz never reported the blocked task: %d %s", code, body)
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(h.db.block)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if code, body := get("/readyz"); code != http.StatusOK {
		t.Errorf("after the task: %d %s", code, body)
	}
}

// deliver posts body as a webhook with the given content type, signed with
// the harness's secret, and returns the answer.
func (h *harness) deliver(event, id, contentType string, body []byte) (int, string) {
	h.t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/webhooks/github", bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("X-GitHub-Event", event)
	req.Header.Set("X-GitHub-Delivery", id)
	req.Header.Set("X-Hub-Signature-256", sign(h.secret, body))
	w := httptest.NewRecorder()
	h.r.Handler().ServeHTTP(w, req)
	return w.Code, strings.TrimSpace(w.Body.String())
}

// A correctly signed delivery of another repository (or installation) is
// answered 202 and does nothing: no record, no task, no call to the forge.
func TestWebhookOfAnotherRepositoryIsIgnored(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.InstallationID = 77 })
	h.openPR(1, "h1", "SELECT")
	withRepo := func(p map[string]any, repo string, inst int64) map[string]any {
		p["repository"] = map[string]any{"full_name": repo}
		if inst != 0 {
			p["installation"] = map[string]any{"id": inst}
		}
		return p
	}
	tests := []struct {
		name    string
		event   string
		payload map[string]any
		answer  string
	}{
		{"pull request of another repository", "pull_request", withRepo(prPayload("opened", 1), "evil/db-roles", 0), "not the configured repository"},
		{"same name, other owner", "pull_request", withRepo(prPayload("opened", 1), "acme-fork/db-roles", 77), "not the configured repository"},
		{"no repository", "pull_request", map[string]any{"action": "opened", "number": 1}, "not the configured repository"},
		{"push of another repository", "push", withRepo(map[string]any{"ref": "refs/heads/main", "after": "x"}, "evil/x", 0), "not the configured repository"},
		{"command in another repository", "issue_comment", withRepo(commentPayload(1, "alice", "/rolecd apply abc"), "evil/db-roles", 0), "not the configured repository"},
		{"other installation", "pull_request", withRepo(prPayload("opened", 1), testRepo, 78), "not the configured repository"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body, err := json.Marshal(tc.payload)
			if err != nil {
				t.Fatal(err)
			}
			id := fmt.Sprintf("foreign-%d", i)
			code, answer := h.deliver(tc.event, id, "application/json", body)
			if code != http.StatusAccepted || !strings.Contains(answer, tc.answer) {
				t.Errorf("answer %d %q, want 202 %q", code, answer, tc.answer)
			}
			if _, err := h.store.GetDelivery(t.Context(), id); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("the foreign delivery was recorded: %v", err)
			}
		})
	}
	if n := h.r.queue.len(); n != 0 {
		t.Errorf("%d tasks queued by foreign deliveries", n)
	}
	// The same delivery from the configured repository and installation
	// (names compare case-insensitively) is accepted.
	body, _ := json.Marshal(withRepo(prPayload("opened", 1), "Acme/DB-Roles", 77))
	if code, answer := h.deliver("pull_request", "mine", "application/json", body); code != http.StatusAccepted || answer != "accepted" {
		t.Errorf("own delivery: %d %q", code, answer)
	}
}

// GitHub's form-encoded deliveries (payload=<JSON>) are verified over the
// raw body and recorded as their JSON payload.
func TestWebhookFormEncoded(t *testing.T) {
	h := newHarness(t, nil)
	h.openPR(2, "h1", "SELECT")
	js, err := json.Marshal(prPayload("opened", 2))
	if err != nil {
		t.Fatal(err)
	}
	form := []byte(url.Values{"payload": {string(js)}}.Encode())
	tests := []struct {
		name, id, ctype string
		body            []byte
		code            int
		answer          string
	}{
		{"form", "f1", "application/x-www-form-urlencoded", form, http.StatusAccepted, "accepted"},
		{"form with charset", "f2", "application/x-www-form-urlencoded; charset=utf-8", form, http.StatusAccepted, "accepted"},
		{"form without payload", "f3", "application/x-www-form-urlencoded", []byte("other=1"), http.StatusBadRequest, "not a JSON document"},
		{"unsupported type", "f4", "text/plain", js, http.StatusBadRequest, "unsupported Content-Type"},
		{"malformed type", "f5", "application/json; =", js, http.StatusBadRequest, "content type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, answer := h.deliver("pull_request", tc.id, tc.ctype, tc.body)
			if code != tc.code || !strings.Contains(answer, tc.answer) {
				t.Errorf("answer %d %q, want %d containing %q", code, answer, tc.code, tc.answer)
			}
		})
	}
	d, err := h.store.GetDelivery(t.Context(), "f1")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(d.Payload, js) {
		t.Errorf("recorded payload %s, want the form's JSON %s", d.Payload, js)
	}
	h.drain()
	if n := len(h.planSessions(2)); n != 1 {
		t.Errorf("%d plans of the form-encoded pull request, want 1", n)
	}
	// A SHA-1 signature (X-Hub-Signature-256 with sha1=) is not enough.
	m := hmac.New(sha1.New, h.secret)
	m.Write(js)
	req := httptest.NewRequest(http.MethodPost, "/webhooks/github", bytes.NewReader(js))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "pull_request")
	req.Header.Set("X-GitHub-Delivery", "sha1")
	req.Header.Set("X-Hub-Signature-256", "sha1="+hex.EncodeToString(m.Sum(nil)))
	w := httptest.NewRecorder()
	h.r.Handler().ServeHTTP(w, req)
	if w.Code != http.StatusUnauthorized {
		t.Errorf("sha1 signature: %d, want 401", w.Code)
	}
}

// FuzzWebhook: whatever a signed body holds, the intake never panics and
// never answers 5xx (a bad body is the sender's fault: 4xx, or 202
// ignored).
func FuzzWebhook(f *testing.F) {
	for _, seed := range githubtest.FuzzSeeds() {
		f.Add(seed.Event, seed.ContentType, []byte(seed.Body))
	}
	dir := f.TempDir()
	st, err := store.Open(f.Context(), "sqlite://"+filepath.Join(dir, "rolecd.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	bk, _ := store.AsBookkeeping(st)
	secret := []byte("fuzz")
	src := newFakeSource()
	r, err := New(Options{Source: src, Forge: newFakeForge(), Store: &testStore{st, bk},
		Planner: &fakeDB{}, Applier: &fakeDB{}, Webhooks: github.Webhooks{Secret: secret}, Repository: testRepo, Holder: "fuzz"})
	if err != nil {
		f.Fatal(err)
	}
	h := r.Handler()
	n := 0
	f.Fuzz(func(t *testing.T, event, ctype string, body []byte) {
		n++
		req := httptest.NewRequest(http.MethodPost, "/webhooks/github", bytes.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		req.Header.Set("X-GitHub-Event", event)
		req.Header.Set("X-GitHub-Delivery", fmt.Sprintf("fuzz-%d", n))
		req.Header.Set("X-Hub-Signature-256", sign(secret, body))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Errorf("event %q, content type %q, body %q: answer %d %q", event, ctype, body, w.Code, w.Body.String())
		}
		for r.queue.len() > 0 { // keep the queue from growing across inputs
			r.queue.next()
		}
	})
}

// Without Webhooks every delivery is refused with 401, signed or not, and
// nothing is recorded.
func TestWebhookWithoutWebhooksIsRefused(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Webhooks = nil })
	for _, event := range []string{"push", "ping", "star"} {
		body := `{"ref":"refs/heads/main","repository":{"full_name":"acme/db-roles"}}`
		if code, answer := h.deliver(event, "n-"+event, "application/json", []byte(body)); code != http.StatusUnauthorized {
			t.Errorf("%s: answer %d %q, want 401", event, code, answer)
		}
		if _, err := h.store.GetDelivery(t.Context(), "n-"+event); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: recorded without Webhooks: %v", event, err)
		}
	}
}
