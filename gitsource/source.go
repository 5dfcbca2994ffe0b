// Package gitsource keeps a bare clone of the watched Git repository: it
// fetches the branch and the pull-request heads incrementally with go-git,
// and reads the role files of any fetched commit straight from the object
// store as an fs.FS, with no work tree.
//
// A Source serves the last fetched state when the remote is down or slow:
// every network call is bounded by Config.Timeout, a failed fetch leaves the
// refs and objects of the previous one in place, and LastFetch reports the
// failure. Credentials never appear in its errors.
//
// Fetches are serialised; reads (BranchHead, PullHead, HasCommit, Files,
// Touches and the returned file systems) may run while a fetch is in
// progress. Remote refs are kept under refs/rolecd/ in the clone, mirroring
// the remote's names: refs/heads/main is refs/rolecd/heads/main.
//
// file:// and local-path remotes run git-upload-pack, as git does, so they
// need git installed; https and ssh remotes are pure Go.
package gitsource

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/filesystem"

	"github.com/go-git/go-billy/v5/osfs"
)

// Errors a caller can test for with errors.Is.
var (
	// ErrNotFetched: the ref has not been fetched (yet).
	ErrNotFetched = errors.New("not fetched")
	// ErrRefNotFound: the remote has no such ref.
	ErrRefNotFound = errors.New("remote ref not found")
	// ErrCommitNotFound: the commit is not in the clone; fetch it first.
	ErrCommitNotFound = errors.New("commit not fetched")
	// ErrPathNotFound: the commit has no role-file directory at Config.Path.
	ErrPathNotFound = errors.New("role-file path not found")
	// ErrTooLarge: a blob over Config.MaxFileSize, or a tree of more than
	// Config.MaxEntries entries.
	ErrTooLarge = errors.New("over the size limit")
)

const (
	// localPrefix is where fetched remote refs live in the clone.
	localPrefix = "refs/rolecd/"
	// remoteName names the remote in the clone's config (for people
	// inspecting the cache; fetches use an in-memory remote).
	remoteName = "origin"
	// objectCacheSize bounds each of the two object caches.
	objectCacheSize = 16 * cache.MiByte
)

// Source is a bare clone of the watched repository. It is safe for
// concurrent use.
type Source struct {
	cfg    Config
	remote *remote

	// fetchSem (one slot) serialises fetches; acquiring it honours the
	// caller's context.
	fetchSem chan struct{}
	// fetchSt reads and writes the clone's config and refs; only used while
	// holding fetchSem (or in Open). Each fetch writes through its own
	// revocable storage.
	fetchSt *filesystem.Storage

	// readMu guards readSt, a second storage of the same directory whose
	// pack index is reloaded only after a fetch completes, so reads never
	// see a half-written pack.
	readMu sync.Mutex
	readSt *filesystem.Storage

	stateMu sync.Mutex
	refs    map[plumbing.ReferenceName]plumbing.Hash // as last fetched
	lastOK  time.Time
	lastErr error
}

// Open opens the bare clone in cfg.CacheDir, creating it (0700) when the
// directory is missing or empty, and fetches. When the clone already holds
// the branch, a failed fetch is only recorded (see LastFetch) and the cached
// state is served; otherwise Open returns the error.
func Open(ctx context.Context, cfg Config) (*Source, error) {
	cfg, err := normalize(cfg)
	if err != nil {
		return nil, err
	}
	rem, err := newRemote(cfg)
	if err != nil {
		return nil, err
	}
	if err := initCache(cfg.CacheDir); err != nil {
		return nil, err
	}
	s := &Source{
		cfg:      cfg,
		remote:   rem,
		fetchSem: make(chan struct{}, 1),
		fetchSt:  filesystem.NewStorage(osfs.New(cfg.CacheDir), cache.NewObjectLRU(objectCacheSize)),
		readSt:   filesystem.NewStorage(osfs.New(cfg.CacheDir), cache.NewObjectLRU(objectCacheSize)),
	}
	if err := s.recordRemote(); err != nil {
		return nil, err
	}
	if err := s.publish(); err != nil {
		return nil, err
	}
	if err := s.Fetch(ctx); err != nil {
		if _, ok := s.ref(s.branchRef()); !ok {
			return nil, err
		}
	}
	return s, nil
}

// initCache creates dir (0700) and a bare repository in it unless it holds
// one already.
func initCache(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating git cache: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("reading git cache: %w", err)
	}
	if len(entries) == 0 {
		if _, err := git.PlainInit(dir, true); err != nil {
			return fmt.Errorf("creating bare repository in %s: %w", dir, err)
		}
		return nil
	}
	for _, name := range []string{"HEAD", "objects", "refs"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("git cache %s is neither empty nor a bare repository", dir)
		}
	}
	return nil
}

// recordRemote writes the remote's display URL into the clone's config and
// points HEAD at the fetched branch. When the cache was filled from another
// URL, its fetched refs are dropped so that another repository's state is
// never served.
func (s *Source) recordRemote() error {
	cfg, err := s.fetchSt.Config()
	if err != nil {
		return fmt.Errorf("reading git cache config: %w", err)
	}
	if old, ok := cfg.Remotes[remoteName]; ok && (len(old.URLs) != 1 || old.URLs[0] != s.remote.display) {
		if err := s.dropFetchedRefs(); err != nil {
			return err
		}
	}
	specs := s.fetchSpecs()
	cfg.Remotes[remoteName] = &config.RemoteConfig{Name: remoteName, URLs: []string{s.remote.display}, Fetch: specs}
	if err := s.fetchSt.SetConfig(cfg); err != nil {
		return fmt.Errorf("writing git cache config: %w", err)
	}
	head := plumbing.NewSymbolicReference(plumbing.HEAD, s.branchRef())
	if err := s.fetchSt.SetReference(head); err != nil {
		return fmt.Errorf("writing git cache HEAD: %w", err)
	}
	return nil
}

func (s *Source) dropFetchedRefs() error {
	iter, err := s.fetchSt.IterReferences()
	if err != nil {
		return fmt.Errorf("listing cached refs: %w", err)
	}
	var names []plumbing.ReferenceName
	_ = iter.ForEach(func(r *plumbing.Reference) error {
		if strings.HasPrefix(r.Name().String(), localPrefix) {
			names = append(names, r.Name())
		}
		return nil
	})
	for _, n := range names {
		if err := s.fetchSt.RemoveReference(n); err != nil {
			return fmt.Errorf("removing cached ref %s: %w", n, err)
		}
	}
	return nil
}

// branchRef is the local name of the fetched branch.
func (s *Source) branchRef() plumbing.ReferenceName {
	return plumbing.ReferenceName(localPrefix + "heads/" + s.cfg.Branch)
}

// fetchSpecs: the branch, and every pull-request head the remote has.
func (s *Source) fetchSpecs() []config.RefSpec {
	b := s.cfg.Branch
	return []config.RefSpec{
		config.RefSpec("+refs/heads/" + b + ":" + localPrefix + "heads/" + b),
		config.RefSpec("+refs/pull/*/head:" + localPrefix + "pull/*/head"),
	}
}

// URL is the remote's URL without credentials, for logs and reports.
func (s *Source) URL() string { return s.remote.display }

// Fetch fetches the branch and, when the remote has them, refs/pull/*/head
// (pruning pull refs the remote no longer has), within Config.Timeout. On
// failure the last fetched state stays in place and LastFetch reports the
// error.
func (s *Source) Fetch(ctx context.Context) error {
	err := s.fetch(ctx, "fetching branch "+s.cfg.Branch, s.fetchSpecs(), true, nil)
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	s.lastErr = err
	if err == nil {
		s.lastOK = time.Now()
	}
	return err
}

// FetchRef fetches one remote ref, such as refs/heads/feature-x or
// refs/pull/7/head (a name without "refs/" is taken as a branch), and
// returns its commit SHA; for forges without refs/pull/*. It does not
// change LastFetch. A ref the remote lacks gives ErrRefNotFound.
func (s *Source) FetchRef(ctx context.Context, ref string) (string, error) {
	name := ref
	if !strings.HasPrefix(name, "refs/") {
		name = "refs/heads/" + name
	}
	if plumbing.ReferenceName(name).Validate() != nil || strings.Count(name, "/") < 2 {
		return "", fmt.Errorf("invalid git ref %q", ref)
	}
	local := plumbing.ReferenceName(localPrefix + strings.TrimPrefix(name, "refs/"))
	var sha plumbing.Hash
	err := s.fetch(ctx, "fetching "+name, []config.RefSpec{config.RefSpec("+" + name + ":" + local.String())}, false,
		func() error {
			r, err := s.fetchSt.Reference(local)
			if err != nil {
				return fmt.Errorf("reading fetched ref %s: %w", name, err)
			}
			sha = r.Hash()
			return nil
		})
	if err != nil {
		return "", err
	}
	return sha.String(), nil
}

// fetch runs one fetch of specs within Config.Timeout, then after (if any),
// then publishes the fetched refs and objects to readers.
//
// go-git does not honour the context everywhere (an ssh server that accepts
// the connection and never speaks blocks its handshake), so go-git runs in a
// goroutine on a storage of its own, and fetch returns at the deadline
// regardless. A fetch given up on is revoked first: from then on it cannot
// move a ref or start writing objects, so the next fetch may proceed while
// the abandoned goroutine waits for its connection to die.
func (s *Source) fetch(ctx context.Context, op string, specs []config.RefSpec, prune bool, after func() error) error {
	op += " from " + s.remote.display
	tctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	select {
	case s.fetchSem <- struct{}{}:
	case <-tctx.Done():
		return s.deadlineErr(ctx, op+" (waiting for the previous fetch)", tctx.Err())
	}
	defer func() { <-s.fetchSem }()
	started := time.Now()

	st := &revocable{Storage: filesystem.NewStorage(osfs.New(s.cfg.CacheDir), cache.NewObjectLRU(objectCacheSize))}
	rem := git.NewRemote(st, &config.RemoteConfig{Name: remoteName, URLs: []string{s.remote.transportURL}})
	opts := &git.FetchOptions{
		RemoteName: remoteName,
		RefSpecs:   specs,
		Auth:       s.remote.auth,
		Tags:       git.NoTags,
		Prune:      prune,
	}
	done := make(chan error, 1)
	go func() { done <- rem.FetchContext(tctx, opts) }()
	var err error
	select {
	case err = <-done:
	case <-tctx.Done():
		st.revoke()
		select {
		case err = <-done: // it finished before the revocation
		default:
			return s.deadlineErr(ctx, op, tctx.Err())
		}
	}
	switch {
	case err == nil, errors.Is(err, git.NoErrAlreadyUpToDate):
	case tctx.Err() != nil:
		return s.deadlineErr(ctx, op, err)
	case errors.Is(err, git.NoMatchingRefSpecError{}), errors.Is(err, transport.ErrEmptyRemoteRepository):
		return s.remote.wrap(op, err, ErrRefNotFound)
	default:
		return s.remote.wrap(op, err)
	}
	if after != nil {
		if err := after(); err != nil {
			return s.remote.wrap(op, err)
		}
	}
	if err := s.publish(); err != nil {
		return s.remote.wrap(op, err)
	}
	s.removeTempPacks(started)
	return nil
}

// removeTempPacks deletes the temporary pack files that fetches cut short
// left behind (go-git keeps them on error), those last written before
// cutoff. One still open by an abandoned fetch only makes that fetch fail.
func (s *Source) removeTempPacks(cutoff time.Time) {
	names, _ := filepath.Glob(filepath.Join(s.cfg.CacheDir, "objects", "pack", "tmp_pack_*"))
	for _, n := range names {
		if fi, err := os.Stat(n); err == nil && fi.ModTime().Before(cutoff) {
			_ = os.Remove(n)
		}
	}
}

// deadlineErr explains a fetch cut short by the timeout or by the caller.
func (s *Source) deadlineErr(parent context.Context, op string, cause error) error {
	if perr := parent.Err(); perr != nil {
		return s.remote.wrap(op, cause, perr)
	}
	return s.remote.wrap(fmt.Sprintf("%s: no answer within %s", op, s.cfg.Timeout), cause, context.DeadlineExceeded)
}

// errRevoked is what an abandoned fetch gets when it tries to write.
var errRevoked = errors.New("fetch abandoned after its timeout")

// revocable is the storage one fetch writes through. After revoke, every
// write it has not started yet fails; revoke waits for one in progress.
// (A pack already being received still lands, complete and indexed, which
// is harmless: objects are content-addressed and no ref points at them.)
type revocable struct {
	*filesystem.Storage
	mu      sync.RWMutex
	revoked bool
}

func (r *revocable) revoke() {
	r.mu.Lock()
	r.revoked = true
	r.mu.Unlock()
}

// guard runs write unless the fetch was revoked.
func (r *revocable) guard(write func() error) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.revoked {
		return errRevoked
	}
	return write()
}

func (r *revocable) SetReference(ref *plumbing.Reference) error {
	return r.guard(func() error { return r.Storage.SetReference(ref) })
}

func (r *revocable) CheckAndSetReference(ref, old *plumbing.Reference) error {
	return r.guard(func() error { return r.Storage.CheckAndSetReference(ref, old) })
}

func (r *revocable) RemoveReference(n plumbing.ReferenceName) error {
	return r.guard(func() error { return r.Storage.RemoveReference(n) })
}

func (r *revocable) PackRefs() error {
	return r.guard(r.Storage.PackRefs)
}

func (r *revocable) SetShallow(commits []plumbing.Hash) error {
	return r.guard(func() error { return r.Storage.SetShallow(commits) })
}

func (r *revocable) SetEncodedObject(o plumbing.EncodedObject) (h plumbing.Hash, err error) {
	err = r.guard(func() error {
		h, err = r.Storage.SetEncodedObject(o)
		return err
	})
	return h, err
}

func (r *revocable) PackfileWriter() (w io.WriteCloser, err error) {
	err = r.guard(func() error {
		w, err = r.Storage.PackfileWriter()
		return err
	})
	return w, err
}

// publish reloads the readers' pack index and the fetched refs. It runs
// while no fetch writes the clone (holding fetchSem, or in Open).
func (s *Source) publish() error {
	refs := make(map[plumbing.ReferenceName]plumbing.Hash)
	iter, err := s.fetchSt.IterReferences()
	if err != nil {
		return fmt.Errorf("listing fetched refs: %w", err)
	}
	err = iter.ForEach(func(r *plumbing.Reference) error {
		if r.Type() == plumbing.HashReference && strings.HasPrefix(r.Name().String(), localPrefix) {
			refs[r.Name()] = r.Hash()
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("listing fetched refs: %w", err)
	}
	s.readMu.Lock()
	s.readSt.Reindex()
	// Any lookup loads every pack index now, while nothing is being written.
	err = s.readSt.HasEncodedObject(plumbing.ZeroHash)
	s.readMu.Unlock()
	if err != nil && !errors.Is(err, plumbing.ErrObjectNotFound) {
		return fmt.Errorf("indexing fetched objects: %w", err)
	}
	s.stateMu.Lock()
	s.refs = refs
	s.stateMu.Unlock()
	return nil
}

func (s *Source) ref(name plumbing.ReferenceName) (plumbing.Hash, bool) {
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	h, ok := s.refs[name]
	return h, ok
}

// BranchHead returns the SHA of Config.Branch as last fetched.
func (s *Source) BranchHead() (string, error) {
	h, ok := s.ref(s.branchRef())
	if !ok {
		return "", fmt.Errorf("branch %s of %s: %w", s.cfg.Branch, s.remote.display, ErrNotFetched)
	}
	return h.String(), nil
}

// PullHead returns refs/pull/N/head as last fetched (by Fetch or FetchRef).
func (s *Source) PullHead(n int) (sha string, ok bool) {
	if n <= 0 {
		return "", false
	}
	h, ok := s.ref(plumbing.ReferenceName(localPrefix + "pull/" + strconv.Itoa(n) + "/head"))
	if !ok {
		return "", false
	}
	return h.String(), true
}

// LastFetch returns when Fetch last succeeded (zero before the first success
// of this Source) and the error of the last Fetch (nil if it succeeded).
func (s *Source) LastFetch() (at time.Time, err error) {
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	return s.lastOK, s.lastErr
}

// HasCommit reports whether commit sha (40 hex digits) is in the clone.
func (s *Source) HasCommit(sha string) bool {
	if !plumbing.IsHash(sha) {
		return false
	}
	s.readMu.Lock()
	defer s.readMu.Unlock()
	_, err := object.GetCommit(s.readSt, plumbing.NewHash(sha))
	return err == nil
}

// commitLocked finds commit sha; the caller holds readMu.
func (s *Source) commitLocked(sha string) (*object.Commit, error) {
	if !plumbing.IsHash(sha) {
		return nil, fmt.Errorf("invalid commit %q: want 40 hex digits", sha)
	}
	c, err := object.GetCommit(s.readSt, plumbing.NewHash(sha))
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return nil, fmt.Errorf("commit %s: %w", sha, ErrCommitNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading commit %s: %w", sha, err)
	}
	return c, nil
}
