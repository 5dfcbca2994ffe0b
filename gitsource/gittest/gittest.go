// Package gittest creates bare Git repositories on disk for tests, and
// commits to them with go-git (no git CLI, no work tree). Commits get fixed,
// increasing timestamps, so the same sequence of calls gives the same SHAs.
package gittest

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Remote is a bare repository in a temporary directory.
type Remote struct {
	t    testing.TB
	dir  string
	repo *git.Repository
	n    int // commits made, for timestamps
}

// New creates an empty bare repository in a new temporary directory.
func New(t testing.TB) *Remote {
	t.Helper()
	dir := t.TempDir()
	repo, err := git.PlainInit(dir, true)
	if err != nil {
		t.Fatalf("gittest: init %s: %v", dir, err)
	}
	return &Remote{t: t, dir: dir, repo: repo}
}

// Dir is the repository's directory, usable as a plain-path git URL.
func (r *Remote) Dir() string { return r.dir }

// URL is the repository's file:// URL.
func (r *Remote) URL() string { return "file://" + r.dir }

// Change is one file change of a commit.
type Change struct {
	Path    string
	Content string
	Mode    filemode.FileMode // 0 means filemode.Regular
	Delete  bool
}

// File writes a regular file.
func File(p, content string) Change { return Change{Path: p, Content: content} }

// Executable writes an executable file.
func Executable(p, content string) Change {
	return Change{Path: p, Content: content, Mode: filemode.Executable}
}

// Symlink writes a symbolic link to target.
func Symlink(p, target string) Change {
	return Change{Path: p, Content: target, Mode: filemode.Symlink}
}

// Remove deletes a file, or every file under a directory.
func Remove(p string) Change { return Change{Path: p, Delete: true} }

// Files turns a path -> content map into changes, in path order.
func Files(m map[string]string) []Change {
	out := make([]Change, 0, len(m))
	for p, c := range m {
		out = append(out, File(p, c))
	}
	slices.SortFunc(out, func(a, b Change) int { return strings.Compare(a.Path, b.Path) })
	return out
}

// Commit applies changes on top of branch (an orphan commit when the branch
// does not exist yet), moves the branch to the new commit and returns its SHA.
func (r *Remote) Commit(branch, message string, changes ...Change) string {
	r.t.Helper()
	ref := plumbing.NewBranchReferenceName(branch)
	var parents []plumbing.Hash
	files := map[string]blob{}
	if cur, err := r.repo.Reference(ref, true); err == nil {
		parents = append(parents, cur.Hash())
		files = r.flatten(cur.Hash())
	} else if !errors.Is(err, plumbing.ErrReferenceNotFound) {
		r.t.Fatalf("gittest: reading %s: %v", ref, err)
	}
	for _, c := range changes {
		p := strings.Trim(c.Path, "/")
		if c.Delete {
			for k := range files {
				if k == p || strings.HasPrefix(k, p+"/") {
					delete(files, k)
				}
			}
			continue
		}
		mode := c.Mode
		if mode == 0 {
			mode = filemode.Regular
		}
		files[p] = blob{hash: r.writeBlob(c.Content), mode: mode}
	}
	return r.commitTree(branch, message, r.writeTree(files), parents...)
}

// Branch points branch at commit sha (creating or moving it).
func (r *Remote) Branch(branch, sha string) {
	r.t.Helper()
	r.SetRef(plumbing.NewBranchReferenceName(branch).String(), sha)
}

// SetRef points any ref (say refs/pull/3/head) at commit sha.
func (r *Remote) SetRef(name, sha string) {
	r.t.Helper()
	if err := r.repo.Storer.SetReference(plumbing.NewHashReference(plumbing.ReferenceName(name), plumbing.NewHash(sha))); err != nil {
		r.t.Fatalf("gittest: setting %s: %v", name, err)
	}
}

// DeleteRef removes a ref.
func (r *Remote) DeleteRef(name string) {
	r.t.Helper()
	if err := r.repo.Storer.RemoveReference(plumbing.ReferenceName(name)); err != nil {
		r.t.Fatalf("gittest: removing %s: %v", name, err)
	}
}

// Head returns the SHA branch points at.
func (r *Remote) Head(branch string) string {
	r.t.Helper()
	ref, err := r.repo.Reference(plumbing.NewBranchReferenceName(branch), true)
	if err != nil {
		r.t.Fatalf("gittest: reading branch %s: %v", branch, err)
	}
	return ref.Hash().String()
}

// Merge creates a merge commit of head into branch base and returns its
// SHA, like GitHub's merge button: the changes head made since the merge
// base are applied to base's files (a path both sides changed takes head's
// version; there is no conflict detection).
func (r *Remote) Merge(base, head, message string) string {
	r.t.Helper()
	baseSHA, headSHA := plumbing.NewHash(r.Head(base)), plumbing.NewHash(head)
	files := r.flatten(baseSHA)
	theirs := r.flatten(headSHA)
	ancestor := map[string]blob{}
	bc, err1 := r.repo.CommitObject(baseSHA)
	hc, err2 := r.repo.CommitObject(headSHA)
	if err := errors.Join(err1, err2); err != nil {
		r.t.Fatalf("gittest: reading commits to merge: %v", err)
	}
	if mbs, err := hc.MergeBase(bc); err != nil {
		r.t.Fatalf("gittest: merge base: %v", err)
	} else if len(mbs) > 0 {
		ancestor = r.flatten(mbs[0].Hash)
	}
	for p, b := range theirs {
		if old, ok := ancestor[p]; !ok || old != b {
			files[p] = b
		}
	}
	for p := range ancestor {
		if _, ok := theirs[p]; !ok {
			delete(files, p)
		}
	}
	return r.commitTree(base, message, r.writeTree(files), baseSHA, headSHA)
}

// commitTree writes a commit of tree with parents and moves branch to it.
func (r *Remote) commitTree(branch, message string, tree plumbing.Hash, parents ...plumbing.Hash) string {
	r.n++
	when := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC).Add(time.Duration(r.n) * time.Minute)
	sig := object.Signature{Name: "rolecd test", Email: "test@rolecd.invalid", When: when}
	c := &object.Commit{Author: sig, Committer: sig, Message: message, TreeHash: tree, ParentHashes: parents}
	h := r.store(c)
	r.Branch(branch, h.String())
	return h.String()
}

type blob struct {
	hash plumbing.Hash
	mode filemode.FileMode
}

// flatten lists every file of commit h by path.
func (r *Remote) flatten(h plumbing.Hash) map[string]blob {
	c, err := r.repo.CommitObject(h)
	if err != nil {
		r.t.Fatalf("gittest: reading commit %s: %v", h, err)
	}
	t, err := c.Tree()
	if err != nil {
		r.t.Fatalf("gittest: reading tree of %s: %v", h, err)
	}
	out := map[string]blob{}
	w := object.NewTreeWalker(t, true, nil)
	defer w.Close()
	for {
		name, e, err := w.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			r.t.Fatalf("gittest: walking tree of %s: %v", h, err)
		}
		if e.Mode != filemode.Dir {
			out[name] = blob{hash: e.Hash, mode: e.Mode}
		}
	}
	return out
}

func (r *Remote) writeBlob(content string) plumbing.Hash {
	o := r.repo.Storer.NewEncodedObject()
	o.SetType(plumbing.BlobObject)
	w, err := o.Writer()
	if err == nil {
		_, err = w.Write([]byte(content))
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		r.t.Fatalf("gittest: writing blob: %v", err)
	}
	return r.storeObject(o)
}

// writeTree writes the trees for a flat path -> blob map and returns the root.
func (r *Remote) writeTree(files map[string]blob) plumbing.Hash {
	sub := map[string]map[string]blob{}
	var entries []object.TreeEntry
	for p, b := range files {
		if dir, rest, ok := strings.Cut(p, "/"); ok {
			if sub[dir] == nil {
				sub[dir] = map[string]blob{}
			}
			sub[dir][rest] = b
			continue
		}
		entries = append(entries, object.TreeEntry{Name: p, Mode: b.mode, Hash: b.hash})
	}
	for dir, m := range sub {
		entries = append(entries, object.TreeEntry{Name: dir, Mode: filemode.Dir, Hash: r.writeTree(m)})
	}
	// Git orders entries by name, a directory's name taken with a trailing "/".
	key := func(e object.TreeEntry) string {
		if e.Mode == filemode.Dir {
			return e.Name + "/"
		}
		return e.Name
	}
	slices.SortFunc(entries, func(a, b object.TreeEntry) int { return strings.Compare(key(a), key(b)) })
	return r.store(&object.Tree{Entries: entries})
}

type encoder interface {
	Encode(plumbing.EncodedObject) error
}

func (r *Remote) store(obj encoder) plumbing.Hash {
	o := r.repo.Storer.NewEncodedObject()
	if err := obj.Encode(o); err != nil {
		r.t.Fatalf("gittest: encoding object: %v", err)
	}
	return r.storeObject(o)
}

func (r *Remote) storeObject(o plumbing.EncodedObject) plumbing.Hash {
	h, err := r.repo.Storer.SetEncodedObject(o)
	if err != nil {
		r.t.Fatalf("gittest: storing object: %v", err)
	}
	return h
}

// SilentListener returns the address of a TCP listener on 127.0.0.1 that
// accepts connections and never sends a byte: a remote that is up but hangs.
// Connections are closed when the test ends.
func SilentListener(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("gittest: listen: %v", err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().String()
}

// SSHKey writes a throwaway ed25519 private key (PKCS#8 PEM) and an empty
// known_hosts file, for ssh remotes that are never actually reached.
func SSHKey(t testing.TB) (keyFile, knownHosts string) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("gittest: generating key: %v", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatalf("gittest: encoding key: %v", err)
	}
	dir := t.TempDir()
	keyFile, knownHosts = filepath.Join(dir, "id_ed25519"), filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatalf("gittest: %v", err)
	}
	if err := os.WriteFile(knownHosts, nil, 0o600); err != nil {
		t.Fatalf("gittest: %v", err)
	}
	return keyFile, knownHosts
}
