package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rolecd/rolecd/store"
)

// Concurrency of ConcurrentWriters: writers goroutines, each recording
// sessionsEach apply sessions and credentialsEach credential versions.
const (
	writers         = 8
	sessionsEach    = 20
	credentialsEach = 5
)

// ConcurrentWriters runs 8 goroutines at once, spread over stores (handles
// on one fresh database), each recording 20 apply sessions (create
// running, append a statement, finish) and 5 pending versions of one
// shared role's credential. It then checks that every session is present
// and finished, and that the credential versions are exactly 1..40.
func ConcurrentWriters(t *testing.T, stores ...store.Store) {
	t.Helper()
	if len(stores) == 0 {
		t.Fatal("ConcurrentWriters needs at least one store")
	}
	ctx := t.Context()
	const role = "rolecd_concurrent_ro_00000000"
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		versions []int
	)
	for g := range writers {
		s := stores[g%len(stores)]
		wg.Go(func() {
			for i := range sessionsEach {
				sid := fmt.Sprintf("w%d-%02d", g, i)
				sess := store.Session{SID: sid, Kind: store.KindApply, Status: store.StatusRunning,
					Resources: []string{"concurrent"}, StartedAt: at(time.Duration(g*sessionsEach+i) * time.Millisecond)}
				if err := s.CreateSession(ctx, &sess); err != nil {
					t.Errorf("writer %d: %v", g, err)
					return
				}
				if err := s.AppendStatement(ctx, sid, store.Statement{Seq: 1, SQL: "SELECT 1", Outcome: "ok"}); err != nil {
					t.Errorf("writer %d: %v", g, err)
					return
				}
				if err := s.FinishSession(ctx, sid, store.StatusApplied, nil, "", time.Time{}); err != nil {
					t.Errorf("writer %d: %v", g, err)
					return
				}
				if i < credentialsEach {
					v, err := s.PutPendingCredential(ctx, store.Credential{RoleName: role, Resource: "concurrent", Ciphertext: []byte(sid)})
					if err != nil {
						t.Errorf("writer %d: %v", g, err)
						return
					}
					mu.Lock()
					versions = append(versions, v)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	for i, s := range stores {
		list, err := s.ListSessions(ctx, store.Filter{Resource: "concurrent", Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != writers*sessionsEach {
			t.Errorf("store %d lists %d sessions, want %d", i, len(list), writers*sessionsEach)
		}
		for _, sess := range list {
			if sess.Status != store.StatusApplied || sess.FinishedAt.IsZero() {
				t.Errorf("store %d: session %s is %s, finished %v; want applied", i, sess.SID, sess.Status, sess.FinishedAt)
			}
		}
		creds, err := s.Credentials(ctx, role)
		if err != nil {
			t.Fatal(err)
		}
		if len(creds) != writers*credentialsEach {
			t.Errorf("store %d has %d credential versions, want %d", i, len(creds), writers*credentialsEach)
		}
	}
	slices.Sort(versions)
	want := make([]int, writers*credentialsEach)
	for i := range want {
		want[i] = i + 1
	}
	equal(t, "credential versions handed out", versions, want)
}
