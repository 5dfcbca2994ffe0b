package audit

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rolecd/rolecd/internal/golden"
	"github.com/rolecd/rolecd/store"
)

func TestRecordGolden(t *testing.T) {
	cet := time.FixedZone("CET", 3600)
	s := store.Session{
		SID:         "01J0000000000000000000APPLY",
		Kind:        store.KindApply,
		Status:      store.StatusFailed,
		Actor:       "alice@laptop",
		Commit:      "0123456789abcdef0123456789abcdef01234567",
		PullRequest: 42,
		Resources:   []string{"analytics"},
		Roles:       []string{"rolecd_analytics_ro_6075a443"},
		Checksum:    strings.Repeat("ab", 32),
		PlanSID:     "01J0000000000000000000PLAN0",
		Detail:      json.RawMessage(`{ "note": "a <b> & c",  "sql": ["ALTER ROLE x PASSWORD <redacted>"] }`),
		Error:       `permission denied for table "t" <x>`,
		StartedAt:   time.Date(2025, 3, 4, 6, 6, 7, 123456789, cet),
		FinishedAt:  time.Date(2025, 3, 4, 5, 6, 9, 0, time.UTC),
		Statements: []store.Statement{
			{Seq: 1, Resource: "analytics", Role: "rolecd_analytics_ro_6075a443", Database: "postgres",
				SQL: `CREATE ROLE "rolecd_analytics_ro_6075a443" LOGIN PASSWORD <redacted>`, Outcome: "ok",
				Duration: 1500 * time.Microsecond, At: time.Date(2025, 3, 4, 5, 6, 8, 0, time.UTC)},
			{Seq: 2, Resource: "analytics", Role: "rolecd_analytics_ro_6075a443", Database: "analytics",
				SQL: `GRANT SELECT ON "public"."t" TO "rolecd_analytics_ro_6075a443"`, Outcome: "failed",
				Error: `permission denied for table "t" <x>`, Duration: 2 * time.Millisecond,
				At: time.Date(2025, 3, 4, 5, 6, 8, 500000000, time.UTC)},
		},
	}
	got, err := Record(s)
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(string(got), "\n") {
		t.Error("record spans several lines")
	}
	for _, want := range []string{"PASSWORD <redacted>", `"a <b> & c"`, `"started_at":"2025-03-04T05:06:07.123456789Z"`} {
		if !strings.Contains(string(got), want) {
			t.Errorf("record lacks %s", want)
		}
	}
	golden.Assert(t, "record.json", append(got, '\n'))
}

func TestRecordEmptySession(t *testing.T) {
	got, err := Record(store.Session{SID: "x", Kind: store.KindPlan, Status: store.StatusRunning})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(got, &m); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"resources": "[]", "roles": "[]", "statements": "[]", "detail": "null", "finished_at": "null", "pull_request": "0"}
	for k, v := range want {
		if string(m[k]) != v {
			t.Errorf("%s = %s, want %s", k, m[k], v)
		}
	}
	keys := []string{"sid", "kind", "status", "actor", "commit", "pull_request", "resources", "roles", "checksum",
		"plan_sid", "detail", "error", "started_at", "finished_at", "statements"}
	if len(m) != len(keys) {
		t.Errorf("record has %d fields, want %d", len(m), len(keys))
	}
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Errorf("record lacks %s", k)
		}
	}
}

func TestRecordInvalidDetail(t *testing.T) {
	if _, err := Record(store.Session{SID: "x", Detail: json.RawMessage(`{nope`)}); err == nil || !strings.Contains(err.Error(), "session x") {
		t.Errorf("Record with invalid detail: error = %v, want one naming the session", err)
	}
}

func TestVerifySignature(t *testing.T) {
	body := []byte(`{"sid":"x"}`)
	m := hmac.New(sha256.New, testSecret)
	m.Write(body)
	good := "sha256=" + hex.EncodeToString(m.Sum(nil))
	if sign(testSecret, body) != good {
		t.Fatalf("sign = %s, want %s", sign(testSecret, body), good)
	}
	tests := []struct {
		name   string
		secret []byte
		body   []byte
		header string
		want   bool
	}{
		{"valid", testSecret, body, good, true},
		{"upper-case hex", testSecret, body, "sha256=" + strings.ToUpper(good[7:]), true},
		{"other secret", []byte("nope"), body, good, false},
		{"empty secret", nil, body, good, false},
		{"tampered body", testSecret, []byte(`{"sid":"y"}`), good, false},
		{"no prefix", testSecret, body, good[7:], false},
		{"sha1 prefix", testSecret, body, "sha1=" + good[7:], false},
		{"not hex", testSecret, body, "sha256=zz", false},
		{"truncated", testSecret, body, good[:len(good)-2], false},
		{"empty header", testSecret, body, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := VerifySignature(tt.secret, tt.body, tt.header); got != tt.want {
				t.Errorf("VerifySignature = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDefaultBackoff(t *testing.T) {
	for attempt, bounds := range map[int][2]time.Duration{
		1:   {500 * time.Millisecond, time.Second},
		2:   {time.Second, 2 * time.Second},
		3:   {2 * time.Second, 4 * time.Second},
		6:   {16 * time.Second, 32 * time.Second},
		7:   {30 * time.Second, time.Minute},
		100: {30 * time.Second, time.Minute},
	} {
		seen := map[time.Duration]bool{}
		for range 50 {
			d := DefaultBackoff(attempt)
			if d < bounds[0] || d > bounds[1] {
				t.Fatalf("DefaultBackoff(%d) = %v, want within %v..%v", attempt, d, bounds[0], bounds[1])
			}
			seen[d] = true
		}
		if len(seen) < 2 {
			t.Errorf("DefaultBackoff(%d) has no jitter", attempt)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	tests := map[string]time.Duration{
		"":                              -1,
		"0":                             0,
		" 7 ":                           7 * time.Second,
		"-3":                            -1,
		"soon":                          -1,
		"999999999":                     maxRetryAfter,
		"Wed, 21 Oct 2015 07:28:00 GMT": 0, // in the past
	}
	for in, want := range tests {
		if got := retryAfter(in); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", in, got, want)
		}
	}
	future := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	if got := retryAfter(future); got != maxRetryAfter {
		t.Errorf("retryAfter(an hour ahead) = %v, want the cap %v", got, maxRetryAfter)
	}
}
