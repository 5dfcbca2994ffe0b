package gitsource

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// ErrNoRevision: the revision names no commit of the repository.
var ErrNoRevision = errors.New("no such revision")

// Local is the git repository whose work tree holds a directory (a
// checkout, as CI has one), read with go-git.
type Local struct {
	// Root is the work tree's top directory.
	Root string
	// Dir is the directory asked for, relative to Root ("" for Root).
	Dir  string
	repo *git.Repository
	st   *filesystem.Storage
}

// OpenLocal opens the repository whose work tree holds dir (dir itself or
// a parent). A dir in no repository gives an error matching
// git.ErrRepositoryNotExists.
func OpenLocal(dir string) (*Local, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", dir, err)
	}
	repo, err := git.PlainOpenWithOptions(abs, &git.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true})
	if err != nil {
		return nil, fmt.Errorf("opening the git repository of %s: %w", dir, err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		return nil, fmt.Errorf("opening the git work tree of %s: %w", dir, err)
	}
	st, ok := repo.Storer.(*filesystem.Storage)
	if !ok {
		return nil, fmt.Errorf("the git repository of %s is not on disk", dir)
	}
	root, err := filepath.EvalSymlinks(wt.Filesystem.Root())
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", wt.Filesystem.Root(), err)
	}
	if resolved, err := filepath.EvalSymlinks(abs); err == nil {
		abs = resolved
	}
	rel, err := filepath.Rel(root, abs)
	if err != nil {
		return nil, fmt.Errorf("locating %s in %s: %w", dir, root, err)
	}
	if rel == "." {
		rel = ""
	}
	return &Local{Root: root, Dir: filepath.ToSlash(rel), repo: repo, st: st}, nil
}

// Contains reports whether path is inside the work tree.
func (l *Local) Contains(path string) bool {
	abs, err := filepath.Abs(path)
	if err != nil {
		return false
	}
	if resolved, err := filepath.EvalSymlinks(abs); err == nil {
		abs = resolved
	}
	rel, err := filepath.Rel(l.Root, abs)
	return err == nil && rel != ".." && !filepath.IsAbs(rel) && (len(rel) < 3 || rel[:3] != ".."+string(filepath.Separator))
}

// Files resolves rev (a branch, tag, remote branch such as origin/main,
// or commit) and returns Dir as it is at that commit, with the commit's
// hash. An unknown rev gives an error matching ErrNoRevision.
func (l *Local) Files(rev string) (fs.FS, string, error) {
	h, err := l.repo.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		return nil, "", fmt.Errorf("revision %q: %w (%v)", rev, ErrNoRevision, err)
	}
	s := &Source{cfg: Config{Path: l.Dir}, readSt: l.st}
	fsys, err := s.Files(h.String())
	if err != nil {
		return nil, "", err
	}
	return fsys, h.String(), nil
}

// IsAncestor reports whether commit ancestor is descendant or one of its
// ancestors (a merge commit is in the branch's history). Both must have
// been fetched.
func (s *Source) IsAncestor(ancestor, descendant string) (bool, error) {
	s.readMu.Lock()
	defer s.readMu.Unlock()
	a, err := s.commitLocked(ancestor)
	if err != nil {
		return false, err
	}
	d, err := s.commitLocked(descendant)
	if err != nil {
		return false, err
	}
	if a.Hash == d.Hash {
		return true, nil
	}
	ok, err := a.IsAncestor(d)
	if err != nil {
		return false, fmt.Errorf("is %s an ancestor of %s: %w", ancestor, descendant, err)
	}
	return ok, nil
}
