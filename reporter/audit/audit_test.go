package audit

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/rolecd/rolecd/store"
)

var testSecret = []byte("test-webhook-secret")

var t0 = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

func session(sid string) store.Session {
	return store.Session{
		SID:        sid,
		Kind:       store.KindApply,
		Status:     store.StatusApplied,
		Actor:      "daemon",
		Resources:  []string{"analytics"},
		Detail:     json.RawMessage(`{"sql":"ALTER ROLE x PASSWORD <redacted>"}`),
		StartedAt:  t0,
		FinishedAt: t0.Add(time.Second),
	}
}

type failure struct {
	sid string
	err error
}

// failures returns an OnFailure that records into a channel.
func failures() (func(string, error), chan failure) {
	ch := make(chan failure, 64)
	return func(sid string, err error) { ch <- failure{sid, err} }, ch
}

// drain returns every failure reported so far.
func drain(ch chan failure) []failure {
	var out []failure
	for {
		select {
		case f := <-ch:
			out = append(out, f)
		default:
			return out
		}
	}
}

func closeExporter(t *testing.T, e *Exporter) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// request is what the test webhook received.
type request struct {
	header http.Header
	body   []byte
}

// scriptedServer answers the i-th request with script[i] (200 once the
// script is exhausted); -1 drops the connection without an answer.
// retryAfter[i] is sent as Retry-After.
type scriptedServer struct {
	*httptest.Server
	mu       sync.Mutex
	requests []request
}

func newScriptedServer(t *testing.T, script []int, retryAfter map[int]string) *scriptedServer {
	t.Helper()
	s := &scriptedServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("reading request body: %v", err)
		}
		s.mu.Lock()
		i := len(s.requests)
		s.requests = append(s.requests, request{header: r.Header.Clone(), body: body})
		s.mu.Unlock()
		code := http.StatusOK
		if i < len(script) {
			code = script[i]
		}
		if code == -1 {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				t.Errorf("hijacking: %v", err)
				return
			}
			_ = conn.Close()
			return
		}
		if v, ok := retryAfter[i]; ok {
			w.Header().Set("Retry-After", v)
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *scriptedServer) received() []request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]request(nil), s.requests...)
}

func TestWebhookSignedDelivery(t *testing.T) {
	srv := newScriptedServer(t, nil, nil)
	onFailure, failed := failures()
	e, err := New(Config{WebhookURL: srv.URL + "/audit", Secret: testSecret, Backoff: noBackoff, OnFailure: onFailure})
	if err != nil {
		t.Fatal(err)
	}
	s := session("sid-1")
	e.Export(s)
	closeExporter(t, e)

	if f := drain(failed); len(f) != 0 {
		t.Fatalf("unexpected failures: %v", f)
	}
	reqs := srv.received()
	if len(reqs) != 1 {
		t.Fatalf("webhook received %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	want, err := Record(s)
	if err != nil {
		t.Fatal(err)
	}
	if string(r.body) != string(want) {
		t.Errorf("body = %s, want Record(s) = %s", r.body, want)
	}
	for name, want := range map[string]string{"Content-Type": "application/json", "X-Rolecd-Event": "session"} {
		if got := r.header.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if _, err := uuid.Parse(r.header.Get("X-Rolecd-Delivery")); err != nil {
		t.Errorf("X-Rolecd-Delivery %q is not a UUID: %v", r.header.Get("X-Rolecd-Delivery"), err)
	}
	sig := r.header.Get("X-Rolecd-Signature-256")
	if !VerifySignature(testSecret, r.body, sig) {
		t.Errorf("signature %q does not verify", sig)
	}
	if VerifySignature([]byte("other-secret"), r.body, sig) {
		t.Error("signature verifies with another secret")
	}
}

func noBackoff(int) time.Duration { return 0 }

func TestWebhookRetries(t *testing.T) {
	tests := []struct {
		name         string
		script       []int
		retryAfter   map[int]string
		maxAttempts  int
		wantAttempts int
		wantFailure  string // "" means delivered
		wantBackoffs []int  // attempts after which Backoff was asked
	}{
		{name: "two 500s then 200", script: []int{500, 500, 200}, wantAttempts: 3, wantBackoffs: []int{1, 2}},
		{name: "always 500", script: []int{500, 500, 500, 500, 500}, maxAttempts: 4, wantAttempts: 4,
			wantFailure: "attempt 4 of 4", wantBackoffs: []int{1, 2, 3}},
		{name: "default attempts", script: []int{502, 502, 502, 502, 502, 502, 502}, wantAttempts: 6,
			wantFailure: "502 Bad Gateway", wantBackoffs: []int{1, 2, 3, 4, 5}},
		{name: "400 is final", script: []int{400}, wantAttempts: 1, wantFailure: "400 Bad Request"},
		{name: "404 is final", script: []int{404}, wantAttempts: 1, wantFailure: "404 Not Found"},
		{name: "redirect is final", script: []int{302}, wantAttempts: 1, wantFailure: "302 Found"},
		{name: "429 with Retry-After 0", script: []int{429, 200}, retryAfter: map[int]string{0: "0"}, wantAttempts: 2},
		{name: "429 without Retry-After", script: []int{429, 429, 200}, wantAttempts: 3, wantBackoffs: []int{1, 2}},
		{name: "503 then 200", script: []int{503, 200}, wantAttempts: 2, wantBackoffs: []int{1}},
		{name: "dropped connection then 200", script: []int{-1, 200}, wantAttempts: 2, wantBackoffs: []int{1}},
		{name: "dropped connection every time", script: []int{-1, -1}, maxAttempts: 2, wantAttempts: 2,
			wantFailure: "attempt 2 of 2", wantBackoffs: []int{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newScriptedServer(t, tt.script, tt.retryAfter)
			onFailure, failed := failures()
			var backoffs []int // only the worker appends; read after Close
			e, err := New(Config{
				WebhookURL:  srv.URL,
				Secret:      testSecret,
				MaxAttempts: tt.maxAttempts,
				Backoff:     func(attempt int) time.Duration { backoffs = append(backoffs, attempt); return 0 },
				OnFailure:   onFailure,
			})
			if err != nil {
				t.Fatal(err)
			}
			e.Export(session("sid-r"))
			closeExporter(t, e)

			reqs := srv.received()
			if len(reqs) != tt.wantAttempts {
				t.Errorf("webhook received %d attempts, want %d", len(reqs), tt.wantAttempts)
			}
			for i, r := range reqs {
				if r.header.Get("X-Rolecd-Delivery") != reqs[0].header.Get("X-Rolecd-Delivery") {
					t.Errorf("attempt %d has another delivery id", i+1)
				}
				if !VerifySignature(testSecret, r.body, r.header.Get("X-Rolecd-Signature-256")) {
					t.Errorf("attempt %d: signature does not verify", i+1)
				}
			}
			if fmt.Sprint(backoffs) != fmt.Sprint(tt.wantBackoffs) {
				t.Errorf("Backoff called for attempts %v, want %v", backoffs, tt.wantBackoffs)
			}
			fs := drain(failed)
			if tt.wantFailure == "" {
				if len(fs) != 0 {
					t.Fatalf("unexpected failures: %v", fs)
				}
				return
			}
			if len(fs) != 1 || fs[0].sid != "sid-r" || !strings.Contains(fs[0].err.Error(), tt.wantFailure) {
				t.Fatalf("failures = %v, want one for sid-r containing %q", fs, tt.wantFailure)
			}
			if strings.Contains(fs[0].err.Error(), srv.URL) {
				t.Errorf("failure %q contains the webhook URL", fs[0].err)
			}
		})
	}
}

func TestExportNeverBlocks(t *testing.T) {
	arrived := make(chan string, 8)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var rec struct {
			SID string `json:"sid"`
		}
		_ = json.NewDecoder(r.Body).Decode(&rec)
		arrived <- rec.SID
		select { // hang until the test ends or the client gives up
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs before srv.Close

	onFailure, failed := failures()
	e, err := New(Config{WebhookURL: srv.URL, Secret: testSecret, QueueSize: 1, Backoff: noBackoff, OnFailure: onFailure})
	if err != nil {
		t.Fatal(err)
	}
	// exportNow fails the test if Export does not return promptly.
	exportNow := func(sid string) {
		t.Helper()
		done := make(chan struct{})
		go func() {
			e.Export(session(sid))
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("Export(%s) blocked", sid)
		}
	}

	exportNow("first")
	if got := <-arrived; got != "first" { // the worker is now stuck in the POST
		t.Fatalf("webhook received %q first", got)
	}
	exportNow("second") // fills the queue
	if f := drain(failed); len(f) != 0 {
		t.Fatalf("failures after queueing second: %v", f)
	}
	exportNow("third") // queue full
	f := drain(failed)
	if len(f) != 1 || f[0].sid != "third" || !errors.Is(f[0].err, ErrQueueFull) || f[0].err.Error() != "audit queue full" {
		t.Fatalf("failures = %v, want third: audit queue full", f)
	}

	// Close gives up at once: the session in flight and the queued one
	// are reported, and Close returns only after reporting them.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.Close(ctx); err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("Close with an ended context = %v, want context.Canceled", err)
	}
	f = drain(failed)
	if len(f) != 2 || f[0].sid != "first" || f[1].sid != "second" {
		t.Fatalf("failures after Close = %v, want first then second", f)
	}
	for _, x := range f {
		if !errors.Is(x.err, ErrClosed) {
			t.Errorf("failure of %s = %q, want it to say the exporter closed", x.sid, x.err)
		}
	}

	exportNow("late")
	if f := drain(failed); len(f) != 1 || f[0].sid != "late" || !errors.Is(f[0].err, ErrClosed) {
		t.Fatalf("failures after exporting to a closed exporter = %v, want late: closed", f)
	}
	if err := e.Close(context.Background()); err == nil || !strings.Contains(err.Error(), "OnFailure): 2:") {
		t.Errorf("second Close = %v, want the two abandoned sessions reported again", err)
	}
}

func TestCloseDeliversQueue(t *testing.T) {
	srv := newScriptedServer(t, []int{500}, nil)
	onFailure, failed := failures()
	e, err := New(Config{WebhookURL: srv.URL, Secret: testSecret, Backoff: noBackoff, OnFailure: onFailure})
	if err != nil {
		t.Fatal(err)
	}
	const n = 20
	for i := range n {
		e.Export(session(fmt.Sprintf("s%02d", i)))
	}
	closeExporter(t, e)
	if f := drain(failed); len(f) != 0 {
		t.Fatalf("unexpected failures: %v", f)
	}
	reqs := srv.received()
	if len(reqs) != n+1 { // one retry of the first
		t.Fatalf("webhook received %d requests after Close, want %d", len(reqs), n+1)
	}
	for i, r := range reqs[1:] {
		if want := fmt.Sprintf(`"sid":"s%02d"`, i); !strings.Contains(string(r.body), want) {
			t.Errorf("request %d is not %s in order: %s", i+1, want, r.body)
		}
	}
}

func TestFileExport(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	var sids []string
	for run := range 2 { // two exporters append to one file
		onFailure, failed := failures()
		e, err := New(Config{File: path, OnFailure: onFailure})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			sid := fmt.Sprintf("run%d-%d", run, i)
			sids = append(sids, sid)
			e.Export(session(sid))
		}
		closeExporter(t, e)
		if f := drain(failed); len(f) != 0 {
			t.Fatalf("unexpected failures: %v", f)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("audit file mode %04o, want 0600", fi.Mode().Perm())
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Bytes()
		var rec map[string]any
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatalf("line %d is not JSON: %v: %s", len(got)+1, err, line)
		}
		if !strings.Contains(string(line), "PASSWORD <redacted>") {
			t.Errorf("line %d lost the literal <redacted>: %s", len(got)+1, line)
		}
		got = append(got, rec["sid"].(string))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(sids) {
		t.Errorf("file holds sessions %v, want %v, one per line", got, sids)
	}
}

func TestFileAndWebhook(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	srv := newScriptedServer(t, []int{400}, nil)
	onFailure, failed := failures()
	e, err := New(Config{File: path, WebhookURL: srv.URL, Secret: testSecret, Backoff: noBackoff, OnFailure: onFailure})
	if err != nil {
		t.Fatal(err)
	}
	e.Export(session("rejected"))
	e.Export(session("accepted"))
	closeExporter(t, e)
	f := drain(failed)
	if len(f) != 1 || f[0].sid != "rejected" || !strings.Contains(f[0].err.Error(), "400") {
		t.Fatalf("failures = %v, want one for the rejected session", f)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(string(data), "\n"); lines != 2 {
		t.Errorf("file holds %d lines, want both sessions despite the webhook failure", lines)
	}
	if n := len(srv.received()); n != 2 {
		t.Errorf("webhook received %d requests, want 2", n)
	}
}

func TestFileWriteFailure(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.jsonl")
	onFailure, failed := failures()
	e, err := New(Config{File: path, OnFailure: onFailure})
	if err != nil {
		t.Fatal(err)
	}
	// Replace the file by a directory: appending now fails.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	e.Export(session("lost"))
	closeExporter(t, e)
	if f := drain(failed); len(f) != 1 || f[0].sid != "lost" || !strings.Contains(f[0].err.Error(), "audit file") {
		t.Fatalf("failures = %v, want lost: audit file error", f)
	}
}

func TestNewRejects(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"nothing to export to", Config{}, "neither"},
		{"relative URL", Config{WebhookURL: "/audit", Secret: testSecret}, "absolute http"},
		{"other scheme", Config{WebhookURL: "ftp://127.0.0.1/x", Secret: testSecret}, "absolute http"},
		{"no secret", Config{WebhookURL: "http://127.0.0.1:1/x"}, "secret"},
		{"file in missing directory", Config{File: filepath.Join(dir, "no", "such", "audit.jsonl")}, "audit file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := New(tt.cfg)
			if err == nil {
				_ = e.Close(context.Background())
				t.Fatal("New succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestExportInvalidDetail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	onFailure, failed := failures()
	e, err := New(Config{File: path, OnFailure: onFailure})
	if err != nil {
		t.Fatal(err)
	}
	s := session("broken")
	s.Detail = json.RawMessage(`{"unterminated`)
	e.Export(s)
	closeExporter(t, e)
	if f := drain(failed); len(f) != 1 || f[0].sid != "broken" {
		t.Fatalf("failures = %v, want broken", f)
	}
}

func TestCloseAbortsBackoff(t *testing.T) {
	srv := newScriptedServer(t, []int{503}, nil)
	waiting := make(chan int, 8)
	onFailure, failed := failures()
	e, err := New(Config{WebhookURL: srv.URL, Secret: testSecret, OnFailure: onFailure,
		Backoff: func(attempt int) time.Duration { waiting <- attempt; return time.Hour }})
	if err != nil {
		t.Fatal(err)
	}
	e.Export(session("waiting"))
	if attempt := <-waiting; attempt != 1 { // the worker now waits an hour to retry
		t.Fatalf("backoff after attempt %d, want 1", attempt)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.Close(ctx); !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "OnFailure): 1:") {
		t.Fatalf("Close = %v, want one abandoned session and context.Canceled", err)
	}
	f := drain(failed)
	if len(f) != 1 || f[0].sid != "waiting" || !errors.Is(f[0].err, ErrClosed) || !strings.Contains(f[0].err.Error(), "503") {
		t.Fatalf("failures = %v, want waiting: closed after a 503", f)
	}
	if n := len(srv.received()); n != 1 {
		t.Errorf("webhook received %d attempts, want 1", n)
	}
}
