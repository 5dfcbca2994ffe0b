package store_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rolecd/rolecd/store"
)

// reopenThrice opens the store at url three times, each time recording a
// session and checking that every earlier one is still there: reopening
// (and so migrating again) loses nothing.
func reopenThrice(t *testing.T, url string) {
	t.Helper()
	for i := range 3 {
		s, err := store.Open(t.Context(), url)
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		sess := store.Session{SID: fmt.Sprintf("s%d", i), Kind: store.KindHealth, Status: store.StatusOK}
		if err := s.CreateSession(t.Context(), &sess); err != nil {
			t.Fatal(err)
		}
		list, err := s.ListSessions(t.Context(), store.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != i+1 {
			t.Errorf("open %d: %d sessions, want %d", i, len(list), i+1)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// interruptedOnOpen checks that opening the store marks interrupted the
// running sessions whose process died (their lease lapsed), and only those.
func interruptedOnOpen(t *testing.T, url string) {
	t.Helper()
	s, err := store.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	for _, sid := range []string{"dead", "alive"} {
		sess := store.Session{SID: sid, Kind: store.KindApply, Status: store.StatusRunning}
		if err := s.CreateSession(t.Context(), &sess); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AppendStatement(t.Context(), "dead", store.Statement{Resource: "r", Role: "x", Database: "d", SQL: "GRANT ...", Outcome: "ok"}); err != nil {
		t.Fatal(err)
	}
	// The process of "dead" stops renewing: its lease lapses.
	if _, ok, err := s.(store.Bookkeeping).TryLease(t.Context(), "session:dead", "dead", time.Microsecond); err != nil || !ok {
		t.Fatalf("expiring the lease: %v %v", ok, err)
	}
	if err := s.KeepSessionAlive(t.Context(), "alive"); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = store.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	dead, err := s.GetSession(t.Context(), "dead")
	if err != nil {
		t.Fatal(err)
	}
	if dead.Status != store.StatusInterrupted || !strings.Contains(dead.Error, "interrupted") || dead.FinishedAt.IsZero() || len(dead.Statements) != 1 {
		t.Errorf("dead session = %+v, want interrupted with its statement", dead)
	}
	alive, err := s.GetSession(t.Context(), "alive")
	if err != nil || alive.Status != store.StatusRunning {
		t.Errorf("alive session = %+v, %v; want still running", alive, err)
	}
	if err := s.FinishSession(t.Context(), "alive", store.StatusApplied, nil, "", time.Time{}); err != nil {
		t.Errorf("finishing the live session: %v", err)
	}
	list, err := s.ListSessions(t.Context(), store.Filter{Status: store.StatusInterrupted})
	if err != nil || len(list) != 1 || list[0].SID != "dead" {
		t.Errorf("sessions list --status interrupted = %+v, %v", list, err)
	}
}
