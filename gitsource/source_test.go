package gitsource_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/format/idxfile"

	"github.com/rolecd/rolecd/gitsource"
	"github.com/rolecd/rolecd/gitsource/gittest"
)

// open opens a Source on cfg, with a fresh cache unless cfg names one.
func open(t *testing.T, cfg gitsource.Config) *gitsource.Source {
	t.Helper()
	if cfg.CacheDir == "" {
		cfg.CacheDir = filepath.Join(t.TempDir(), "cache")
	}
	s, err := gitsource.Open(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func head(t *testing.T, s *gitsource.Source) string {
	t.Helper()
	sha, err := s.BranchHead()
	if err != nil {
		t.Fatalf("BranchHead: %v", err)
	}
	return sha
}

func readFile(t *testing.T, s *gitsource.Source, sha, name string) string {
	t.Helper()
	fsys, err := s.Files(sha)
	if err != nil {
		t.Fatalf("Files(%s): %v", sha, err)
	}
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		t.Fatalf("reading %s at %s: %v", name, sha, err)
	}
	return string(b)
}

// packs returns the object count of every pack in the cache, by pack file.
func packs(t *testing.T, cache string) map[string]uint32 {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(cache, "objects", "pack", "pack-*.idx"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]uint32{}
	for _, n := range names {
		f, err := os.Open(n)
		if err != nil {
			t.Fatal(err)
		}
		idx := idxfile.NewMemoryIndex()
		err = idxfile.NewDecoder(f).Decode(idx)
		_ = f.Close()
		if err != nil {
			t.Fatalf("decoding %s: %v", n, err)
		}
		c, err := idx.Count()
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(n)] = uint32(c)
	}
	return out
}

func TestOpenClonesThenFetchesIncrementally(t *testing.T) {
	r := gittest.New(t)
	var files []gittest.Change
	for i := range 20 {
		files = append(files, gittest.File("roles/r"+string(rune('a'+i))+".yaml", strings.Repeat("x", i)))
	}
	a := r.Commit("main", "twenty role files", append(files, gittest.File("README.md", "docs"))...)
	cache := filepath.Join(t.TempDir(), "cache")
	s := open(t, gitsource.Config{URL: r.URL(), Path: "roles", CacheDir: cache})

	if got := head(t, s); got != a {
		t.Fatalf("BranchHead = %s, want %s", got, a)
	}
	at, err := s.LastFetch()
	if err != nil || at.IsZero() {
		t.Fatalf("LastFetch = %v, %v; want a time and no error", at, err)
	}
	if !s.HasCommit(a) {
		t.Fatal("HasCommit(head) = false")
	}
	if fi, err := os.Stat(cache); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("cache dir mode = %v (%v), want 0700", fi.Mode().Perm(), err)
	}
	if _, err := os.Stat(filepath.Join(cache, ".git")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("cache is not bare: %v", err)
	}
	before := packs(t, cache)

	b := r.Commit("main", "one more", gittest.File("roles/new.yaml", "new"))
	if got := head(t, s); got != a {
		t.Fatalf("BranchHead before Fetch = %s, want the last fetched %s", got, a)
	}
	if s.HasCommit(b) {
		t.Fatal("HasCommit(unfetched) = true")
	}
	if err := s.Fetch(t.Context()); err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if got := head(t, s); got != b {
		t.Fatalf("BranchHead after Fetch = %s, want %s", got, b)
	}
	if got := readFile(t, s, b, "new.yaml"); got != "new" {
		t.Fatalf("new.yaml = %q", got)
	}

	// Incremental: the second fetch brought one new pack with only the new
	// commit, its two trees and its blob, not the 20 files again.
	after := packs(t, cache)
	var added []uint32
	for name, n := range after {
		if _, ok := before[name]; !ok {
			added = append(added, n)
		}
	}
	if len(added) != 1 || added[0] > 4 {
		t.Fatalf("new packs after the second fetch: %v (before %v), want one pack of at most 4 objects", added, before)
	}

	// Nothing new: no error, no new pack.
	if err := s.Fetch(t.Context()); err != nil {
		t.Fatalf("Fetch with nothing new: %v", err)
	}
	if got := packs(t, cache); len(got) != len(after) {
		t.Fatalf("an up-to-date fetch wrote packs: %v", got)
	}

	// A force-push back to a is followed.
	r.Branch("main", a)
	if err := s.Fetch(t.Context()); err != nil {
		t.Fatalf("Fetch after force-push: %v", err)
	}
	if got := head(t, s); got != a {
		t.Fatalf("BranchHead after force-push = %s, want %s", got, a)
	}
}

func TestFetchKeepsLastStateWhenRemoteIsGone(t *testing.T) {
	r := gittest.New(t)
	a := r.Commit("main", "first", gittest.File("roles/a.yaml", "v1"))
	s := open(t, gitsource.Config{URL: r.Dir(), Path: "roles"})
	okAt, _ := s.LastFetch()
	r.Commit("main", "second", gittest.File("roles/a.yaml", "v2"))

	moved := r.Dir() + ".moved"
	if err := os.Rename(r.Dir(), moved); err != nil {
		t.Fatal(err)
	}
	err := s.Fetch(t.Context())
	if err == nil {
		t.Fatal("Fetch from a missing remote succeeded")
	}
	if !strings.Contains(err.Error(), "fetching branch main from "+r.Dir()) {
		t.Errorf("error does not say what failed: %v", err)
	}
	if got := head(t, s); got != a {
		t.Errorf("BranchHead = %s, want the last fetched %s", got, a)
	}
	if got := readFile(t, s, a, "a.yaml"); got != "v1" {
		t.Errorf("a.yaml = %q, want v1", got)
	}
	at, lastErr := s.LastFetch()
	if !at.Equal(okAt) || lastErr == nil || lastErr.Error() != err.Error() {
		t.Errorf("LastFetch = %v, %v; want %v and the fetch error", at, lastErr, okAt)
	}

	if err := os.Rename(moved, r.Dir()); err != nil {
		t.Fatal(err)
	}
	if err := s.Fetch(t.Context()); err != nil {
		t.Fatalf("Fetch after the remote came back: %v", err)
	}
	if got := readFile(t, s, head(t, s), "a.yaml"); got != "v2" {
		t.Errorf("a.yaml after recovery = %q, want v2", got)
	}
	if at, err := s.LastFetch(); err != nil || !at.After(okAt) {
		t.Errorf("LastFetch after recovery = %v, %v", at, err)
	}
}

func TestOpenServesTheCacheWhenRemoteIsDown(t *testing.T) {
	r := gittest.New(t)
	a := r.Commit("main", "first", gittest.File("roles/a.yaml", "v1"))
	cache := filepath.Join(t.TempDir(), "cache")
	open(t, gitsource.Config{URL: r.Dir(), Path: "roles", CacheDir: cache})

	if err := os.Rename(r.Dir(), r.Dir()+".moved"); err != nil {
		t.Fatal(err)
	}
	s := open(t, gitsource.Config{URL: r.Dir(), Path: "roles", CacheDir: cache})
	if got := head(t, s); got != a {
		t.Errorf("BranchHead from the cache = %s, want %s", got, a)
	}
	if at, err := s.LastFetch(); !at.IsZero() || err == nil {
		t.Errorf("LastFetch = %v, %v; want no success yet and the error", at, err)
	}
	if got := readFile(t, s, a, "a.yaml"); got != "v1" {
		t.Errorf("a.yaml = %q", got)
	}
}

func TestOpenNeverServesAnotherRepositorysCache(t *testing.T) {
	one, two := gittest.New(t), gittest.New(t)
	one.Commit("main", "one", gittest.File("a.yaml", "one"))
	twoHead := two.Commit("main", "two", gittest.File("a.yaml", "two"))
	cache := filepath.Join(t.TempDir(), "cache")
	open(t, gitsource.Config{URL: one.Dir(), CacheDir: cache})

	missing := filepath.Join(t.TempDir(), "missing.git")
	if _, err := gitsource.Open(t.Context(), gitsource.Config{URL: missing, CacheDir: cache}); err == nil {
		t.Fatal("Open of an unreachable new URL served the cache of the old one")
	}
	s := open(t, gitsource.Config{URL: two.URL(), CacheDir: cache})
	if got := head(t, s); got != twoHead {
		t.Fatalf("BranchHead = %s, want %s", got, twoHead)
	}
}

func TestOpenErrors(t *testing.T) {
	r := gittest.New(t)
	r.Commit("main", "first", gittest.File("a.yaml", "x"))
	empty := gittest.New(t)
	notRepo := t.TempDir()
	if err := os.WriteFile(filepath.Join(notRepo, "notes.txt"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		cfg     gitsource.Config
		want    string
		wantErr error
	}{
		{name: "cache is not a repository", cfg: gitsource.Config{URL: r.Dir(), CacheDir: notRepo},
			want: "neither empty nor a bare repository"},
		{name: "missing remote", cfg: gitsource.Config{URL: filepath.Join(t.TempDir(), "nope.git")},
			want: "fetching branch main from "},
		{name: "missing branch", cfg: gitsource.Config{URL: r.Dir(), Branch: "production"},
			want: `couldn't find remote ref "refs/heads/production"`, wantErr: gitsource.ErrRefNotFound},
		{name: "empty remote", cfg: gitsource.Config{URL: empty.Dir()},
			want: "fetching branch main", wantErr: gitsource.ErrRefNotFound},
		{name: "invalid config", cfg: gitsource.Config{URL: r.Dir(), Path: "../x"}, want: "must stay inside"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.cfg.CacheDir == "" {
				tt.cfg.CacheDir = filepath.Join(t.TempDir(), "cache")
			}
			_, err := gitsource.Open(t.Context(), tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want errors.Is %v", err, tt.wantErr)
			}
		})
	}
}

func TestPullHeads(t *testing.T) {
	r := gittest.New(t)
	base := r.Commit("main", "base", gittest.File("roles/a.yaml", "v1"))
	s := open(t, gitsource.Config{URL: r.URL(), Path: "roles"})
	if _, ok := s.PullHead(3); ok {
		t.Fatal("PullHead(3) before any pull ref exists")
	}

	r.Branch("feature", base)
	p1 := r.Commit("feature", "change", gittest.File("roles/a.yaml", "v2"))
	r.SetRef("refs/pull/3/head", p1)
	other := r.Commit("unrelated", "not a pull request", gittest.File("x", "y"))
	if err := s.Fetch(t.Context()); err != nil {
		t.Fatal(err)
	}
	if sha, ok := s.PullHead(3); !ok || sha != p1 {
		t.Fatalf("PullHead(3) = %s, %v; want %s", sha, ok, p1)
	}
	if got := readFile(t, s, p1, "a.yaml"); got != "v2" {
		t.Fatalf("a.yaml at the pull head = %q", got)
	}
	for _, n := range []int{-1, 0, 4, 30} {
		if sha, ok := s.PullHead(n); ok {
			t.Errorf("PullHead(%d) = %s, want none", n, sha)
		}
	}
	if s.HasCommit(other) {
		t.Error("Fetch fetched a branch that is neither the watched one nor a pull request")
	}

	p2 := r.Commit("feature", "push again", gittest.File("roles/a.yaml", "v3"))
	r.SetRef("refs/pull/3/head", p2)
	if err := s.Fetch(t.Context()); err != nil {
		t.Fatal(err)
	}
	if sha, _ := s.PullHead(3); sha != p2 {
		t.Fatalf("PullHead(3) after a new push = %s, want %s", sha, p2)
	}

	r.DeleteRef("refs/pull/3/head")
	if err := s.Fetch(t.Context()); err != nil {
		t.Fatal(err)
	}
	if sha, ok := s.PullHead(3); ok {
		t.Fatalf("PullHead(3) = %s after the remote dropped it", sha)
	}
}

func TestFetchRef(t *testing.T) {
	r := gittest.New(t)
	base := r.Commit("main", "base", gittest.File("roles/a.yaml", "v1"))
	s := open(t, gitsource.Config{URL: r.Dir(), Path: "roles"})
	r.Branch("feature-x", base)
	fx := r.Commit("feature-x", "feature", gittest.File("roles/a.yaml", "feature"))
	r.SetRef("refs/merge-requests/9/head", fx)
	if err := s.Fetch(t.Context()); err != nil {
		t.Fatal(err)
	}
	if s.HasCommit(fx) {
		t.Fatal("Fetch fetched a feature branch")
	}

	for _, ref := range []string{"refs/heads/feature-x", "feature-x", "refs/merge-requests/9/head"} {
		sha, err := s.FetchRef(t.Context(), ref)
		if err != nil || sha != fx {
			t.Fatalf("FetchRef(%q) = %s, %v; want %s", ref, sha, err, fx)
		}
	}
	if !s.HasCommit(fx) {
		t.Fatal("HasCommit after FetchRef = false")
	}
	if got := readFile(t, s, fx, "a.yaml"); got != "feature" {
		t.Fatalf("a.yaml = %q", got)
	}
	if got := head(t, s); got != base {
		t.Fatalf("FetchRef moved BranchHead to %s", got)
	}

	r.SetRef("refs/pull/12/head", fx)
	if _, err := s.FetchRef(t.Context(), "refs/pull/12/head"); err != nil {
		t.Fatal(err)
	}
	if sha, ok := s.PullHead(12); !ok || sha != fx {
		t.Fatalf("PullHead(12) after FetchRef = %s, %v", sha, ok)
	}

	_, err := s.FetchRef(t.Context(), "refs/heads/deleted")
	if !errors.Is(err, gitsource.ErrRefNotFound) || !strings.Contains(err.Error(), "refs/heads/deleted") {
		t.Fatalf("FetchRef of a missing ref: %v", err)
	}
	if _, lastErr := s.LastFetch(); lastErr != nil {
		t.Fatalf("a failed FetchRef changed LastFetch: %v", lastErr)
	}

	for _, bad := range []string{"", "refs/heads/a:refs/heads/b", "refs/heads/*", "refs/heads/a..b", "refs/heads/a b", "refs/x", "-x^"} {
		if sha, err := s.FetchRef(t.Context(), bad); err == nil || !strings.Contains(err.Error(), "invalid git ref") {
			t.Errorf("FetchRef(%q) = %s, %v; want an invalid ref error", bad, sha, err)
		}
	}
}

// TestConcurrentUse runs fetches, ref fetches and reads at once; with -race
// it checks the locking.
func TestConcurrentUse(t *testing.T) {
	r := gittest.New(t)
	first := r.Commit("main", "c0", gittest.File("roles/a.yaml", "0"))
	s := open(t, gitsource.Config{URL: r.Dir(), Path: "roles"})
	var shas []string
	for i := 1; i <= 4; i++ {
		shas = append(shas, r.Commit("main", "c", gittest.File("roles/a.yaml", strings.Repeat("n", i))))
	}
	r.SetRef("refs/pull/1/head", shas[1])

	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 2 {
		wg.Go(func() {
			for range 3 {
				if err := s.Fetch(t.Context()); err != nil {
					errs <- err
				}
				if _, err := s.FetchRef(t.Context(), "refs/pull/1/head"); err != nil {
					errs <- err
				}
			}
		})
	}
	for range 3 {
		wg.Go(func() {
			for i := 0; i < 30; i++ {
				sha := head(t, s)
				fsys, err := s.Files(sha)
				if err != nil {
					errs <- err
					continue
				}
				if _, err := fs.ReadFile(fsys, "a.yaml"); err != nil {
					errs <- err
				}
				if _, err := s.Touches(first, sha); err != nil {
					errs <- err
				}
				s.PullHead(1)
				s.LastFetch()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := head(t, s); got != shas[3] {
		t.Errorf("BranchHead after the fetches = %s, want %s", got, shas[3])
	}
}
