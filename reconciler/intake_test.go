package reconciler

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rolecd/rolecd/store"
)

func sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func TestVerify(t *testing.T) {
	body := []byte(`{"action":"opened"}`)
	tests := []struct {
		name   string
		secret string
		header string
		want   bool
	}{
		{"valid", "k", sign([]byte("k"), body), true},
		{"wrong key", "k", sign([]byte("other"), body), false},
		{"no header", "k", "", false},
		{"no prefix", "k", strings.TrimPrefix(sign([]byte("k"), body), "sha256="), false},
		{"uppercase hex", "k", "sha256=" + strings.ToUpper(strings.TrimPrefix(sign([]byte("k"), body), "sha256=")), true},
		{"truncated", "k", sign([]byte("k"), body)[:20], false},
		{"not hex", "k", "sha256=xyz", false},
		{"no secret configured", "", sign(nil, body), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &Reconciler{opts: Options{WebhookSecret: []byte(tc.secret)}}
			if got := r.verify(body, tc.header); got != tc.want {
				t.Errorf("verify = %v, want %v", got, tc.want)
			}
		})
	}
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

func TestPermissionRank(t *testing.T) {
	order := []string{"none", "read", "triage", "write", "maintain", "admin"}
	for i := 1; i < len(order); i++ {
		if permissionRank(order[i]) <= permissionRank(order[i-1]) {
			t.Errorf("%s does not rank above %s", order[i], order[i-1])
		}
	}
	if permissionRank("") != 0 || permissionRank("superuser") != 0 {
		t.Error("unknown permissions must rank as none")
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
		{"unsigned", "push", "u1", `{"ref":"refs/heads/main"}`, false, http.StatusUnauthorized, "X-Hub-Signature-256", false},
		{"bad JSON", "pull_request", "b1", `{"action":`, true, http.StatusBadRequest, "decoding", false},
		{"labeled is ignored", "pull_request", "l1", `{"action":"labeled","number":3}`, true, http.StatusAccepted, "ignored", false},
		{"push to another branch", "push", "o1", `{"ref":"refs/heads/feature"}`, true, http.StatusAccepted, "ignored", false},
		{"comment that is not a command", "issue_comment", "c1",
			`{"action":"created","issue":{"number":3,"pull_request":{}},"comment":{"body":"LGTM","user":{"login":"a"}}}`, true, http.StatusAccepted, "ignored", false},
		{"command on an issue", "issue_comment", "c2",
			`{"action":"created","issue":{"number":3},"comment":{"body":"/rolecd plan","user":{"login":"a"}}}`, true, http.StatusAccepted, "ignored", false},
		{"command by a bot", "issue_comment", "c3",
			`{"action":"created","issue":{"number":3,"pull_request":{}},"comment":{"body":"/rolecd plan","user":{"login":"b","type":"Bot"}}}`, true, http.StatusAccepted, "ignored", false},
		{"other event", "star", "s1", `{}`, true, http.StatusAccepted, "ignored", false},
		{"push to main", "push", "m1", `{"ref":"refs/heads/main","after":"x"}`, true, http.StatusAccepted, "accepted", true},
		{"redelivery", "push", "m1", `{"ref":"refs/heads/main","after":"x"}`, true, http.StatusAccepted, "duplicate", true},
		{"command", "issue_comment", "c4",
			`{"action":"created","issue":{"number":3,"pull_request":{}},"comment":{"body":"/rolecd plan","user":{"login":"a","type":"User"}}}`, true, http.StatusAccepted, "accepted", true},
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
	// Only GET on the read endpoints, only POST on the webhook.
	for _, tc := range []struct{ method, path string }{{"GET", "/webhooks/github"}, {"POST", "/healthz"}, {"DELETE", "/api/v1/sessions/x"}} {
		w := httptest.NewRecorder()
		h.r.Handler().ServeHTTP(w, httptest.NewRequest(tc.method, tc.path, nil))
		if w.Code != http.StatusMethodNotAllowed {
			t.Errorf("%s %s = %d, want 405", tc.method, tc.path, w.Code)
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
	if code, body := get(); code != http.StatusServiceUnavailable || !strings.Contains(body, "unreachable") {
		t.Errorf("store closed: %d %s", code, body)
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
		h.r.Handler().ServeHTTP(w, httptest.NewRequest("GET", tc.path, nil))
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
			_, metrics := get("/metrics")
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
