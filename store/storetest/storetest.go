// Package storetest is the conformance suite of store backends: every
// store.Store implementation passes Run, so that rolecd behaves the same on
// SQLite and on PostgreSQL.
package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/rolecd/rolecd/store"
)

// at returns the suite's reference time plus d.
func at(d time.Duration) time.Time {
	return time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC).Add(d)
}

// Run runs the conformance suite. open returns a new, empty store for each
// subtest and closes it on cleanup.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s store.Store)
	}{
		{"SessionRoundTrip", testSessionRoundTrip},
		{"CreateFillsDefaults", testCreateFillsDefaults},
		{"DuplicateSID", testDuplicateSID},
		{"DetailJSON", testDetailJSON},
		{"TimeRoundTrip", testTimeRoundTrip},
		{"ListOrder", testListOrder},
		{"ListFilter", testListFilter},
		{"ListLimit", testListLimit},
		{"RunningFinishOnce", testRunningFinishOnce},
		{"StatementsOrder", testStatementsOrder},
		{"Credentials", testCredentials},
		{"Admin", testAdmin},
		{"NotFound", testNotFound},
		{"ConcurrentWriters", func(t *testing.T, s store.Store) { ConcurrentWriters(t, s) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, open(t)) })
	}
}

// create stores s, failing the test on error.
func create(t *testing.T, st store.Store, s store.Session) store.Session {
	t.Helper()
	if err := st.CreateSession(t.Context(), &s); err != nil {
		t.Fatalf("CreateSession(%q): %v", s.SID, err)
	}
	return s
}

// get reads session sid, failing the test on error.
func get(t *testing.T, st store.Store, sid string) *store.Session {
	t.Helper()
	s, err := st.GetSession(t.Context(), sid)
	if err != nil {
		t.Fatalf("GetSession(%q): %v", sid, err)
	}
	return s
}

// equal fails the test when got and want differ.
func equal(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got: %s\nwant: %s", what, dump(got), dump(want))
	}
}

// dump renders v for a failure message, with times and raw JSON readable.
func dump(v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Sprintf("%+v", v)
	}
	return string(b)
}

// wantNotFound fails the test unless err wraps store.ErrNotFound.
func wantNotFound(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("%s: got error %v, want one wrapping store.ErrNotFound", what, err)
	}
}

// wantOtherError fails the test unless err is an error other than ErrNotFound.
func wantOtherError(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: got no error", what)
	} else if errors.Is(err, store.ErrNotFound) {
		t.Errorf("%s: got %v, want an error other than not found", what, err)
	}
}

func testNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	create(t, s, store.Session{SID: "exists", Kind: store.KindApply, Status: store.StatusRunning, StartedAt: at(0)})
	if _, err := s.PutPendingCredential(ctx, store.Credential{RoleName: "r", Resource: "a", Ciphertext: []byte{1}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		call func() error
	}{
		{"GetSession", func() error { _, err := s.GetSession(ctx, "missing"); return err }},
		{"AppendStatement", func() error {
			return s.AppendStatement(ctx, "missing", store.Statement{Seq: 1, SQL: "SELECT 1", Outcome: "ok"})
		}},
		{"FinishSession", func() error {
			return s.FinishSession(ctx, "missing", store.StatusApplied, nil, "", at(0))
		}},
		{"Credentials", func() error { _, err := s.Credentials(ctx, "missing"); return err }},
		{"ActivateCredential unknown role", func() error { return s.ActivateCredential(ctx, "missing", 1) }},
		{"ActivateCredential unknown version", func() error { return s.ActivateCredential(ctx, "r", 2) }},
		{"GetAdmin", func() error { _, err := s.GetAdmin(ctx, "missing"); return err }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { wantNotFound(t, tc.name, tc.call()) })
	}
	if err := s.DeleteCredentials(ctx, "missing"); err != nil {
		t.Errorf("DeleteCredentials of a role without credentials: %v", err)
	}
}
