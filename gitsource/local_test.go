package gitsource_test

import (
	"errors"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/rolecd/rolecd/gitsource"
	"github.com/rolecd/rolecd/gitsource/gittest"
)

func TestIsAncestor(t *testing.T) {
	r := gittest.New(t)
	a := r.Commit("main", "first", gittest.File("roles/a.yaml", "v1"))
	b := r.Commit("main", "second", gittest.File("roles/a.yaml", "v2"))
	r.Branch("pr-1", a)
	side := r.Commit("pr-1", "side", gittest.File("roles/a.yaml", "v3"))
	r.SetRef("refs/pull/1/head", side)
	s := open(t, gitsource.Config{URL: r.Dir(), Path: "roles"})
	for _, tt := range []struct {
		a, d string
		want bool
	}{{a, b, true}, {b, b, true}, {b, a, false}, {side, b, false}, {a, side, true}} {
		if got, err := s.IsAncestor(tt.a, tt.d); err != nil || got != tt.want {
			t.Errorf("IsAncestor(%s, %s) = %v, %v; want %v", tt.a[:7], tt.d[:7], got, err, tt.want)
		}
	}
}

func TestLocalFiles(t *testing.T) {
	r := gittest.New(t)
	r.Commit("main", "first", gittest.File("roles/a.yaml", "trusted"))
	r.Branch("pr-1", r.Head("main"))
	pr := r.Commit("pr-1", "change", gittest.File("roles/a.yaml", "proposed"))
	checkout := t.TempDir()
	repo, err := git.PlainClone(checkout, false, &git.CloneOptions{URL: r.URL(), ReferenceName: plumbing.NewBranchReferenceName("main")})
	if err != nil {
		t.Fatal(err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	if err := wt.Checkout(&git.CheckoutOptions{Hash: plumbing.NewHash(pr)}); err != nil {
		t.Fatal(err)
	}
	l, err := gitsource.OpenLocal(filepath.Join(checkout, "roles"))
	if err != nil {
		t.Fatal(err)
	}
	if l.Dir != "roles" {
		t.Errorf("Dir = %q, want roles", l.Dir)
	}
	for rev, want := range map[string]string{"origin/main": "trusted", "main": "trusted", pr: "proposed", "HEAD": "proposed"} {
		fsys, _, err := l.Files(rev)
		if err != nil {
			t.Fatalf("Files(%s): %v", rev, err)
		}
		if got := walk(t, fsys); !reflect.DeepEqual(got, map[string]string{"a.yaml": want}) {
			t.Errorf("Files(%s) = %v, want a.yaml %q", rev, got, want)
		}
	}
	if _, _, err := l.Files("origin/nope"); !errors.Is(err, gitsource.ErrNoRevision) {
		t.Errorf("unknown revision: %v, want ErrNoRevision", err)
	}
	outside := t.TempDir()
	if !l.Contains(filepath.Join(checkout, "roles")) || !l.Contains(checkout) || l.Contains(outside) || l.Contains(checkout+"-sibling") {
		t.Error("Contains does not tell the work tree from elsewhere")
	}
	if _, err := gitsource.OpenLocal(outside); !errors.Is(err, git.ErrRepositoryNotExists) {
		t.Errorf("OpenLocal outside a repository: %v", err)
	}
}
