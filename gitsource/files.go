package gitsource

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Files returns the Config.Path subtree of commit sha, read from the object
// store, as a read-only fs.FS rooted at Path (so planner/spec.Load works on
// it). The listing is taken now; file contents are read on Open. Every entry
// carries the commit time as its modification time. Submodules are left out;
// symbolic links are entries of type fs.ModeSymlink whose content is the
// link target. A commit without Path gives an error naming the commit that
// matches ErrPathNotFound.
func (s *Source) Files(sha string) (fs.FS, error) {
	s.readMu.Lock()
	defer s.readMu.Unlock()
	c, err := s.commitLocked(sha)
	if err != nil {
		return nil, err
	}
	e, err := s.lookupLocked(c, s.cfg.Path)
	if err != nil {
		return nil, err
	}
	if !e.found || e.mode != filemode.Dir {
		return nil, fmt.Errorf("commit %s has no directory %q: %w", sha, s.displayPath(), ErrPathNotFound)
	}
	fsys := &treeFS{
		src:   s,
		mtime: c.Committer.When,
		nodes: map[string]*node{},
		dirs:  map[string][]*node{},
	}
	fsys.root = &node{name: ".", mode: fs.ModeDir | 0o755, mtime: fsys.mtime}
	if err := fsys.loadLocked(".", e.hash); err != nil {
		return nil, fmt.Errorf("reading %q at commit %s: %w", s.displayPath(), sha, err)
	}
	return fsys, nil
}

// displayPath names Config.Path in messages.
func (s *Source) displayPath() string {
	if s.cfg.Path == "" {
		return "/"
	}
	return s.cfg.Path
}

// Touches reports whether headSHA changes anything under Config.Path
// compared with the merge base of baseSHA and headSHA (with no common
// history: whether headSHA has anything under Path at all). Both commits
// must have been fetched.
func (s *Source) Touches(baseSHA, headSHA string) (bool, error) {
	s.readMu.Lock()
	defer s.readMu.Unlock()
	base, err := s.commitLocked(baseSHA)
	if err != nil {
		return false, err
	}
	head, err := s.commitLocked(headSHA)
	if err != nil {
		return false, err
	}
	bases, err := head.MergeBase(base)
	if err != nil {
		return false, fmt.Errorf("merge base of %s and %s: %w", baseSHA, headSHA, err)
	}
	after, err := s.lookupLocked(head, s.cfg.Path)
	if err != nil {
		return false, err
	}
	if len(bases) == 0 {
		return after.found, nil
	}
	before, err := s.lookupLocked(bases[0], s.cfg.Path)
	if err != nil {
		return false, err
	}
	// Trees are content-addressed: equal hashes mean an identical subtree.
	return before != after, nil
}

// entry is what a path names in a commit.
type entry struct {
	found bool
	hash  plumbing.Hash
	mode  filemode.FileMode
}

// lookupLocked finds p ("" = root) in c's tree; the caller holds readMu.
func (s *Source) lookupLocked(c *object.Commit, p string) (entry, error) {
	cur := entry{found: true, hash: c.TreeHash, mode: filemode.Dir}
	if p == "" {
		return cur, nil
	}
	for part := range strings.SplitSeq(p, "/") {
		if cur.mode != filemode.Dir {
			return entry{}, nil
		}
		t, err := object.GetTree(s.readSt, cur.hash)
		if err != nil {
			return entry{}, fmt.Errorf("reading tree %s of commit %s: %w", cur.hash, c.Hash, err)
		}
		i := slices.IndexFunc(t.Entries, func(e object.TreeEntry) bool { return e.Name == part })
		if i < 0 {
			return entry{}, nil
		}
		cur = entry{found: true, hash: t.Entries[i].Hash, mode: t.Entries[i].Mode}
	}
	return cur, nil
}

// treeFS is one commit's subtree. The listing (names, modes, sizes) is
// immutable; blob contents are read through the Source under readMu.
type treeFS struct {
	src   *Source
	mtime time.Time
	root  *node
	nodes map[string]*node   // every path except "."
	dirs  map[string][]*node // directory path -> entries sorted by name
	// entries counts the listed entries, up to Config.MaxEntries.
	entries int
}

var (
	_ fs.ReadFileFS = (*treeFS)(nil)
	_ fs.ReadDirFS  = (*treeFS)(nil)
	_ fs.StatFS     = (*treeFS)(nil)
)

// loadLocked lists tree h as directory dir, recursively; readMu is held.
func (f *treeFS) loadLocked(dir string, h plumbing.Hash) error {
	t, err := object.GetTree(f.src.readSt, h)
	if err != nil {
		return fmt.Errorf("reading tree %s: %w", h, err)
	}
	list := make([]*node, 0, len(t.Entries))
	for _, e := range t.Entries {
		if e.Name == "" || e.Name == "." || e.Name == ".." || strings.ContainsAny(e.Name, "/\x00") || !utf8.ValidString(e.Name) {
			continue // not a name an fs.FS can serve
		}
		n := &node{name: e.Name, hash: e.Hash, mtime: f.mtime}
		switch e.Mode {
		case filemode.Dir:
			n.mode = fs.ModeDir | 0o755
		case filemode.Regular, filemode.Deprecated:
			n.mode = 0o644
		case filemode.Executable:
			n.mode = 0o755
		case filemode.Symlink:
			n.mode = fs.ModeSymlink | 0o777
		default:
			continue // submodules: their commits are not in this repository
		}
		if f.entries++; f.entries > f.src.cfg.maxEntries() {
			return fmt.Errorf("more than %d files and directories: %w", f.src.cfg.maxEntries(), ErrTooLarge)
		}
		if n.mode.IsDir() {
			if err := f.loadLocked(path.Join(dir, e.Name), e.Hash); err != nil {
				return err
			}
		} else if n.size, err = f.src.readSt.EncodedObjectSize(e.Hash); err != nil {
			return fmt.Errorf("reading blob %s (%s): %w", e.Hash, path.Join(dir, e.Name), err)
		}
		f.nodes[path.Join(dir, e.Name)] = n
		list = append(list, n)
	}
	slices.SortFunc(list, func(a, b *node) int { return strings.Compare(a.name, b.name) })
	f.dirs[dir] = list
	return nil
}

func (f *treeFS) find(op, name string) (*node, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	if name == "." {
		return f.root, nil
	}
	n, ok := f.nodes[name]
	if !ok {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	}
	return n, nil
}

// Open opens the named file or directory.
func (f *treeFS) Open(name string) (fs.File, error) {
	n, err := f.find("open", name)
	if err != nil {
		return nil, err
	}
	if n.mode.IsDir() {
		return &dirFile{node: n, entries: f.dirs[name]}, nil
	}
	data, err := f.read(n)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return &blobFile{node: n, Reader: bytes.NewReader(data)}, nil
}

// ReadFile returns the content of the named file.
func (f *treeFS) ReadFile(name string) ([]byte, error) {
	n, err := f.find("readfile", name)
	if err != nil {
		return nil, err
	}
	if n.mode.IsDir() {
		return nil, &fs.PathError{Op: "readfile", Path: name, Err: errIsDir}
	}
	data, err := f.read(n)
	if err != nil {
		return nil, &fs.PathError{Op: "readfile", Path: name, Err: err}
	}
	return data, nil
}

// ReadDir returns the entries of the named directory, sorted by name.
func (f *treeFS) ReadDir(name string) ([]fs.DirEntry, error) {
	n, err := f.find("readdir", name)
	if err != nil {
		return nil, err
	}
	if !n.mode.IsDir() {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errNotDir}
	}
	list := f.dirs[name]
	out := make([]fs.DirEntry, len(list))
	for i, e := range list {
		out[i] = e
	}
	return out, nil
}

// Stat describes the named file or directory.
func (f *treeFS) Stat(name string) (fs.FileInfo, error) {
	n, err := f.find("stat", name)
	if err != nil {
		return nil, err
	}
	return n, nil
}

// read returns the blob behind n. A blob over Config.MaxFileSize (its size
// is known from the listing) is refused before it is loaded, and the read
// itself stops at the limit.
func (f *treeFS) read(n *node) ([]byte, error) {
	limit := f.src.cfg.maxFileSize()
	if n.size > limit {
		return nil, fmt.Errorf("blob %s is %d bytes, more than %d: %w", n.hash, n.size, limit, ErrTooLarge)
	}
	f.src.readMu.Lock()
	defer f.src.readMu.Unlock()
	b, err := object.GetBlob(f.src.readSt, n.hash)
	if err != nil {
		return nil, fmt.Errorf("reading blob %s: %w", n.hash, err)
	}
	r, err := b.Reader()
	if err != nil {
		return nil, fmt.Errorf("reading blob %s: %w", n.hash, err)
	}
	defer func() { _ = r.Close() }()
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading blob %s: %w", n.hash, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("blob %s is more than %d bytes: %w", n.hash, limit, ErrTooLarge)
	}
	return data, nil
}

var (
	errIsDir  = errors.New("is a directory")
	errNotDir = errors.New("not a directory")
)

// node is one entry of a treeFS; it is both its fs.FileInfo and fs.DirEntry.
type node struct {
	name  string
	mode  fs.FileMode
	hash  plumbing.Hash
	size  int64
	mtime time.Time
}

func (n *node) Name() string               { return n.name }
func (n *node) Size() int64                { return n.size }
func (n *node) Mode() fs.FileMode          { return n.mode }
func (n *node) ModTime() time.Time         { return n.mtime }
func (n *node) IsDir() bool                { return n.mode.IsDir() }
func (n *node) Sys() any                   { return nil }
func (n *node) Type() fs.FileMode          { return n.mode.Type() }
func (n *node) Info() (fs.FileInfo, error) { return n, nil }
func (n *node) String() string             { return fs.FormatDirEntry(n) }

// blobFile is an open file or symbolic link.
type blobFile struct {
	node *node
	*bytes.Reader
}

func (b *blobFile) Stat() (fs.FileInfo, error) { return b.node, nil }
func (b *blobFile) Close() error               { return nil }

// dirFile is an open directory.
type dirFile struct {
	node    *node
	entries []*node
	offset  int
}

func (d *dirFile) Stat() (fs.FileInfo, error) { return d.node, nil }
func (d *dirFile) Close() error               { return nil }

func (d *dirFile) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.node.name, Err: errIsDir}
}

// ReadDir follows fs.ReadDirFile: n > 0 returns at most n entries and io.EOF
// at the end; n <= 0 returns the rest.
func (d *dirFile) ReadDir(n int) ([]fs.DirEntry, error) {
	rest := d.entries[d.offset:]
	if n > 0 {
		if len(rest) == 0 {
			return nil, io.EOF
		}
		rest = rest[:min(n, len(rest))]
	}
	d.offset += len(rest)
	out := make([]fs.DirEntry, len(rest))
	for i, e := range rest {
		out[i] = e
	}
	return out, nil
}
