package gitsource

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rolecd/rolecd/gitsource/gittest"
)

// TestAbandonedFetchDoesNotWedge: go-git ignores the context during an ssh
// handshake, so a fetch from an ssh server that never speaks stays blocked
// after its timeout. The next fetches must neither wait for it nor be undone
// by it.
func TestAbandonedFetchDoesNotWedge(t *testing.T) {
	r := gittest.New(t)
	a := r.Commit("main", "first", gittest.File("a.yaml", "v1"))
	s, err := Open(t.Context(), Config{URL: r.Dir(), CacheDir: filepath.Join(t.TempDir(), "cache"), Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	good := s.remote
	key, known := gittest.SSHKey(t)
	silent, err := newRemote(Config{URL: "ssh://git@" + gittest.SilentListener(t) + "/r.git", SSHKeyFile: key, SSHKnownHostsFile: known})
	if err != nil {
		t.Fatal(err)
	}

	s.remote = silent
	for i := range 3 {
		start := time.Now()
		err := s.Fetch(t.Context())
		if !errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "waiting") {
			t.Fatalf("fetch %d from the silent server: %v, want a timeout", i, err)
		}
		if elapsed := time.Since(start); elapsed > 3*time.Second {
			t.Fatalf("fetch %d took %s: it waited for an abandoned one", i, elapsed)
		}
	}
	if got, err := s.BranchHead(); err != nil || got != a {
		t.Fatalf("BranchHead = %s, %v; want %s", got, err, a)
	}

	s.remote = good
	b := r.Commit("main", "second", gittest.File("a.yaml", "v2"))
	if err := s.Fetch(t.Context()); err != nil {
		t.Fatalf("fetch once the remote answers again: %v", err)
	}
	if got, _ := s.BranchHead(); got != b {
		t.Fatalf("BranchHead = %s, want %s", got, b)
	}
}

func TestRevokedStorageRefusesWrites(t *testing.T) {
	r := gittest.New(t)
	a := r.Commit("main", "first", gittest.File("a.yaml", "v1"))
	s, err := Open(t.Context(), Config{URL: r.Dir(), CacheDir: filepath.Join(t.TempDir(), "cache")})
	if err != nil {
		t.Fatal(err)
	}
	st := &revocable{Storage: s.fetchSt}
	st.revoke()
	ref, err := st.Reference(s.branchRef())
	if err != nil || ref.Hash().String() != a {
		t.Fatalf("reading through a revoked storage: %v, %v", ref, err)
	}
	if err := st.SetReference(ref); !errors.Is(err, errRevoked) {
		t.Errorf("SetReference = %v", err)
	}
	if err := st.RemoveReference(ref.Name()); !errors.Is(err, errRevoked) {
		t.Errorf("RemoveReference = %v", err)
	}
	if _, err := st.PackfileWriter(); !errors.Is(err, errRevoked) {
		t.Errorf("PackfileWriter = %v", err)
	}
	if _, err := st.SetEncodedObject(st.NewEncodedObject()); !errors.Is(err, errRevoked) {
		t.Errorf("SetEncodedObject = %v", err)
	}
}

func TestFetchRemovesLeftoverTempPacks(t *testing.T) {
	r := gittest.New(t)
	r.Commit("main", "first", gittest.File("a.yaml", "v1"))
	cache := filepath.Join(t.TempDir(), "cache")
	s, err := Open(t.Context(), Config{URL: r.Dir(), CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	left := filepath.Join(cache, "objects", "pack", "tmp_pack_123")
	if err := os.WriteFile(left, []byte("PACK partial"), 0o600); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Minute)
	if err := os.Chtimes(left, old, old); err != nil {
		t.Fatal(err)
	}
	if err := s.Fetch(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(left); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("leftover temp pack still there: %v", err)
	}
	if got := packs(t, cache); got == 0 {
		t.Fatal("the fetched pack was removed too")
	}
}

func packs(t *testing.T, cache string) int {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(cache, "objects", "pack", "pack-*.pack"))
	if err != nil {
		t.Fatal(err)
	}
	return len(names)
}
