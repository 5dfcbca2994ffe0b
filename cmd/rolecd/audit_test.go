package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/rolecd/rolecd/reporter/audit"
	"github.com/rolecd/rolecd/test/pgtest"
)

// Sessions reach the SIEM: one JSON line per finished session in
// audit.file, and a signed POST to audit.webhook_url.
func TestAuditExport(t *testing.T) {
	c := pgtest.Start(t)
	var mu sync.Mutex
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !audit.VerifySignature([]byte("hook-secret"), body, r.Header.Get("X-Rolecd-Signature-256")) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		mu.Lock()
		bodies = append(bodies, string(body))
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	dir := t.TempDir()
	jsonl := filepath.Join(dir, "audit.jsonl")
	env := map[string]string{
		"ADMIN_PW": c.Password, "ROLECD_STORE": "sqlite://" + filepath.Join(dir, "rolecd.db"),
		"ROLECD_AUDIT_FILE": jsonl, "ROLECD_AUDIT_WEBHOOK_URL": srv.URL, "ROLECD_AUDIT_WEBHOOK_SECRET_ENV": "HOOK", "HOOK": "hook-secret",
	}
	repo := writeFiles(t, map[string]string{"resources.yaml": resourceYAML("app", c.Host, c.Port)})
	if r := rolecd(t, env, "--repo", repo, "health"); r.code != 0 {
		t.Fatalf("health: %+v", r)
	}
	data, err := os.ReadFile(jsonl)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	var rec struct {
		SID    string `json:"sid"`
		Kind   string `json:"kind"`
		Status string `json:"status"`
	}
	if len(lines) != 1 || json.Unmarshal([]byte(lines[0]), &rec) != nil || rec.Kind != "health" || rec.Status != "ok" {
		t.Fatalf("audit file = %q", data)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != 1 || !strings.Contains(bodies[0], rec.SID) {
		t.Fatalf("webhook got %q, want the health session %s", bodies, rec.SID)
	}
}
