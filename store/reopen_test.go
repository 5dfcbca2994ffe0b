package store_test

import (
	"fmt"
	"testing"

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
