package audit

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/rolecd/rolecd/store"
)

// record is the stable JSON shape of a session sent to a SIEM. Fields are
// never renamed or removed; new ones may be added.
type record struct {
	SID         string          `json:"sid"`
	Kind        store.Kind      `json:"kind"`
	Status      store.Status    `json:"status"`
	Actor       string          `json:"actor"`
	Commit      string          `json:"commit"`
	PullRequest int             `json:"pull_request"`
	Resources   []string        `json:"resources"`
	Roles       []string        `json:"roles"`
	Checksum    string          `json:"checksum"`
	PlanSID     string          `json:"plan_sid"`
	Detail      json.RawMessage `json:"detail"`
	Error       string          `json:"error"`
	StartedAt   time.Time       `json:"started_at"`
	FinishedAt  *time.Time      `json:"finished_at"` // null while running
	Statements  []statement     `json:"statements"`
}

// statement is one entry of record.Statements.
type statement struct {
	Seq        int       `json:"seq"`
	Resource   string    `json:"resource"`
	Role       string    `json:"role"`
	Roles      []string  `json:"roles,omitempty"` // a shared statement's roles
	Database   string    `json:"database"`
	SQL        string    `json:"sql"`
	Outcome    string    `json:"outcome"`
	Error      string    `json:"error"`
	DurationMS float64   `json:"duration_ms"`
	At         time.Time `json:"at"`
}

// Record returns the JSON document exported for a session, on one line
// without a trailing newline: snake_case fields (sid, kind, status, actor,
// commit, pull_request, resources, roles, checksum, plan_sid, detail,
// error, started_at, finished_at, statements), times in UTC RFC 3339, lists
// never null, detail embedded as JSON (null when empty), statement
// durations in milliseconds. Nothing is HTML-escaped, so "<redacted>" stays
// literal. It fails only when Detail is not valid JSON.
func Record(s store.Session) ([]byte, error) {
	r := record{
		SID:         s.SID,
		Kind:        s.Kind,
		Status:      s.Status,
		Actor:       s.Actor,
		Commit:      s.Commit,
		PullRequest: s.PullRequest,
		Resources:   nonNil(s.Resources),
		Roles:       nonNil(s.Roles),
		Checksum:    s.Checksum,
		PlanSID:     s.PlanSID,
		Error:       s.Error,
		StartedAt:   s.StartedAt.UTC(),
		Statements:  make([]statement, 0, len(s.Statements)),
	}
	if len(bytes.TrimSpace(s.Detail)) > 0 {
		r.Detail = s.Detail
	}
	if !s.FinishedAt.IsZero() {
		finished := s.FinishedAt.UTC()
		r.FinishedAt = &finished
	}
	for _, st := range s.Statements {
		r.Statements = append(r.Statements, statement{
			Seq:        st.Seq,
			Resource:   st.Resource,
			Role:       st.Role,
			Roles:      st.Roles,
			Database:   st.Database,
			SQL:        st.SQL,
			Outcome:    st.Outcome,
			Error:      st.Error,
			DurationMS: float64(st.Duration) / float64(time.Millisecond),
			At:         st.At.UTC(),
		})
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return nil, fmt.Errorf("encoding session %s: %w", s.SID, err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// signaturePrefix starts the X-Rolecd-Signature-256 header value.
const signaturePrefix = "sha256="

// sign returns the X-Rolecd-Signature-256 header value for body.
func sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return signaturePrefix + hex.EncodeToString(m.Sum(nil))
}

// VerifySignature reports, in constant time, whether header (the value of
// X-Rolecd-Signature-256: "sha256=" and the hex HMAC-SHA256 of body) was
// made with secret. An empty secret verifies nothing.
func VerifySignature(secret, body []byte, header string) bool {
	text, ok := strings.CutPrefix(header, signaturePrefix)
	if !ok || len(secret) == 0 {
		return false
	}
	got, err := hex.DecodeString(text)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return hmac.Equal(got, m.Sum(nil))
}
