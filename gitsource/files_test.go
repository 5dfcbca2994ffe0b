package gitsource_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/rolecd/rolecd/gitsource"
	"github.com/rolecd/rolecd/gitsource/gittest"
	"github.com/rolecd/rolecd/planner/spec"
)

// walk lists every file of fsys with its content.
func walk(t *testing.T, fsys fs.FS) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		out[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestFilesAtTwoCommits(t *testing.T) {
	r := gittest.New(t)
	a := r.Commit("main", "first", gittest.File("roles/a.yaml", "v1"), gittest.File("README.md", "docs"))
	b := r.Commit("main", "second", gittest.File("roles/a.yaml", "v2"), gittest.File("roles/sub/c.csv", "csv"))
	c := r.Commit("main", "third", gittest.Remove("roles/sub"))
	s := open(t, gitsource.Config{URL: r.Dir(), Path: "roles"})

	want := map[string]map[string]string{
		a: {"a.yaml": "v1"},
		b: {"a.yaml": "v2", "sub/c.csv": "csv"},
		c: {"a.yaml": "v2"},
	}
	for sha, files := range want {
		fsys, err := s.Files(sha)
		if err != nil {
			t.Fatalf("Files(%s): %v", sha, err)
		}
		if got := walk(t, fsys); !reflect.DeepEqual(got, files) {
			t.Errorf("Files(%s) = %v, want %v", sha, got, files)
		}
	}

	root := open(t, gitsource.Config{URL: r.Dir()})
	fsys, err := root.Files(a)
	if err != nil {
		t.Fatal(err)
	}
	if got := walk(t, fsys); !reflect.DeepEqual(got, map[string]string{"README.md": "docs", "roles/a.yaml": "v1"}) {
		t.Errorf("Files at the root = %v", got)
	}
}

func TestFilesConformsToFS(t *testing.T) {
	r := gittest.New(t)
	sha := r.Commit("main", "all kinds of entries",
		gittest.File("roles/analytics.yaml", "roles: []\n"),
		gittest.File("roles/empty.csv", ""),
		gittest.File("roles/.hidden.yaml", "x"),
		gittest.Executable("roles/bin/check.sh", "#!/bin/sh\n"),
		gittest.Symlink("roles/link.yaml", "analytics.yaml"),
		gittest.File("roles/deep/er/still/billing.csv", "resource_name,type,role,scopes,permissions,source_role\n"),
		gittest.File("outside.txt", "not served"),
	)
	s := open(t, gitsource.Config{URL: r.Dir(), Path: "/roles/"})
	fsys, err := s.Files(sha)
	if err != nil {
		t.Fatal(err)
	}
	if err := fstest.TestFS(fsys, "analytics.yaml", "empty.csv", ".hidden.yaml", "bin/check.sh", "link.yaml", "deep/er/still/billing.csv"); err != nil {
		t.Fatal(err)
	}

	when := time.Date(2026, 1, 1, 12, 1, 0, 0, time.UTC) // gittest's first commit
	for name, mode := range map[string]fs.FileMode{
		".":            fs.ModeDir | 0o755,
		"bin":          fs.ModeDir | 0o755,
		"empty.csv":    0o644,
		"bin/check.sh": 0o755,
		"link.yaml":    fs.ModeSymlink | 0o777,
	} {
		fi, err := fs.Stat(fsys, name)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != mode || !fi.ModTime().Equal(when) {
			t.Errorf("%s: mode %v time %v, want %v %v", name, fi.Mode(), fi.ModTime(), mode, when)
		}
	}
	if target, err := fs.ReadFile(fsys, "link.yaml"); err != nil || string(target) != "analytics.yaml" {
		t.Errorf("symlink content = %q, %v", target, err)
	}
	for _, name := range []string{"outside.txt", "../outside.txt", "/analytics.yaml", "missing.yaml"} {
		if _, err := fs.ReadFile(fsys, name); err == nil {
			t.Errorf("ReadFile(%q) succeeded", name)
		}
	}
	if _, err := fs.ReadFile(fsys, "bin"); err == nil {
		t.Error("ReadFile of a directory succeeded")
	}
}

// TestFilesLoadsRoleFiles reads roles.example from a commit with planner/spec
// and gets what it gets from the directory on disk.
func TestFilesLoadsRoleFiles(t *testing.T) {
	dir := filepath.Join("..", "roles.example")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var changes []gittest.Change
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		changes = append(changes, gittest.File("db/roles/"+e.Name(), string(b)))
	}
	r := gittest.New(t)
	sha := r.Commit("main", "roles", changes...)
	s := open(t, gitsource.Config{URL: r.Dir(), Path: "db/roles"})
	fsys, err := s.Files(sha)
	if err != nil {
		t.Fatal(err)
	}
	got, err := spec.Load(fsys, spec.Options{})
	if err != nil {
		t.Fatalf("spec.Load on the commit: %v", err)
	}
	want, err := spec.Load(os.DirFS(dir), spec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Roles) == 0 || !reflect.DeepEqual(got, want) {
		t.Fatalf("spec.Load on the commit = %+v, want %+v", got, want)
	}
}

func TestFilesErrors(t *testing.T) {
	r := gittest.New(t)
	noRoles := r.Commit("main", "no roles yet", gittest.File("README.md", "x"))
	roleFile := r.Commit("main", "roles is a file", gittest.File("roles", "x"))
	r.Commit("main", "roles", gittest.Remove("roles"), gittest.File("roles/a.yaml", "x"))
	s := open(t, gitsource.Config{URL: r.Dir(), Path: "roles"})
	unknown := strings.Repeat("ab", 20)
	tests := []struct {
		name, sha, want string
		is              error
	}{
		{name: "path missing", sha: noRoles, want: "commit " + noRoles + ` has no directory "roles"`, is: gitsource.ErrPathNotFound},
		{name: "path is a file", sha: roleFile, want: "commit " + roleFile + ` has no directory "roles"`, is: gitsource.ErrPathNotFound},
		{name: "commit not fetched", sha: unknown, want: "commit " + unknown, is: gitsource.ErrCommitNotFound},
		{name: "not a sha", sha: "main", want: `invalid commit "main"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Files(tt.sha)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Fatalf("err = %v, want errors.Is %v", err, tt.is)
			}
		})
	}
}

func TestTouches(t *testing.T) {
	r := gittest.New(t)
	m0 := r.Commit("main", "base", gittest.File("roles/a.yaml", "v1"), gittest.File("README.md", "docs"))

	r.Branch("docs", m0)
	docs := r.Commit("docs", "readme only", gittest.File("README.md", "better docs"), gittest.File("other/x.yaml", "x"))
	r.Branch("edit", m0)
	edit := r.Commit("edit", "edit a role", gittest.File("roles/a.yaml", "v2"))
	r.Branch("add", m0)
	add := r.Commit("add", "add a role file", gittest.File("roles/new/b.csv", "b"))
	r.Branch("remove", m0)
	remove := r.Commit("remove", "remove every role file", gittest.Remove("roles"))
	r.Branch("revert", m0)
	r.Commit("revert", "edit", gittest.File("roles/a.yaml", "oops"))
	revert := r.Commit("revert", "and revert", gittest.File("roles/a.yaml", "v1"))
	orphanRoles := r.Commit("orphan-roles", "unrelated history", gittest.File("roles/a.yaml", "v1"))
	orphanDocs := r.Commit("orphan-docs", "unrelated history", gittest.File("README.md", "x"))
	// main moves on and changes the roles after docs branched off: docs still
	// touches nothing under roles/.
	m1 := r.Commit("main", "main changes roles", gittest.File("roles/a.yaml", "main"))
	merged := r.Merge("main", docs, "merge docs")

	for i, sha := range []string{docs, edit, add, remove, revert, orphanRoles, orphanDocs} {
		r.SetRef("refs/pull/"+string(rune('1'+i))+"/head", sha)
	}
	roles := open(t, gitsource.Config{URL: r.Dir(), Path: "roles"})
	root := open(t, gitsource.Config{URL: r.Dir()})

	tests := []struct {
		name       string
		base, head string
		roles      bool // Path "roles"
		root       bool // Path ""
	}{
		{name: "readme only", base: m0, head: docs, roles: false, root: true},
		{name: "readme only, main moved on", base: m1, head: docs, roles: false, root: true},
		{name: "edit", base: m0, head: edit, roles: true, root: true},
		{name: "edit, main moved on", base: m1, head: edit, roles: true, root: true},
		{name: "new file in a new directory", base: m0, head: add, roles: true, root: true},
		{name: "all role files removed", base: m0, head: remove, roles: true, root: true},
		{name: "edited then reverted", base: m0, head: revert, roles: false, root: false},
		{name: "same commit", base: m1, head: m1, roles: false, root: false},
		{name: "head behind base", base: m1, head: m0, roles: false, root: false},
		{name: "merge commit of a readme change", base: m1, head: merged, roles: false, root: true},
		{name: "unrelated history with roles", base: m0, head: orphanRoles, roles: true, root: true},
		{name: "unrelated history without roles", base: m0, head: orphanDocs, roles: false, root: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, c := range []struct {
				s    *gitsource.Source
				want bool
			}{{roles, tt.roles}, {root, tt.root}} {
				got, err := c.s.Touches(tt.base, tt.head)
				if err != nil {
					t.Fatal(err)
				}
				if got != c.want {
					t.Errorf("Touches(%s) with Path %q = %v, want %v", tt.name, map[bool]string{true: "roles", false: ""}[c.s == roles], got, c.want)
				}
			}
		})
	}

	unknown := strings.Repeat("cd", 20)
	if _, err := roles.Touches(m0, unknown); !errors.Is(err, gitsource.ErrCommitNotFound) {
		t.Errorf("Touches with an unfetched head: %v", err)
	}
	if _, err := roles.Touches(unknown, m0); !errors.Is(err, gitsource.ErrCommitNotFound) {
		t.Errorf("Touches with an unfetched base: %v", err)
	}
}

func TestFilesLimits(t *testing.T) {
	r := gittest.New(t)
	big := strings.Repeat("#", 2000)
	sha := r.Commit("main", "a big file", gittest.File("roles/big.yaml", big), gittest.File("roles/small.yaml", "roles: []\n"))
	s := open(t, gitsource.Config{URL: r.Dir(), Path: "roles", MaxFileSize: 1000})
	fsys, err := s.Files(sha)
	if err != nil {
		t.Fatal(err)
	}
	// The size is known from the listing, without reading the blob.
	if fi, err := fs.Stat(fsys, "big.yaml"); err != nil || fi.Size() != int64(len(big)) {
		t.Fatalf("Stat(big.yaml) = %v, %v; want size %d", fi, err, len(big))
	}
	if _, err := fs.ReadFile(fsys, "big.yaml"); !errors.Is(err, gitsource.ErrTooLarge) {
		t.Errorf("ReadFile(big.yaml) error = %v, want ErrTooLarge", err)
	}
	if _, err := fsys.Open("big.yaml"); !errors.Is(err, gitsource.ErrTooLarge) {
		t.Errorf("Open(big.yaml) error = %v, want ErrTooLarge", err)
	}
	if b, err := fs.ReadFile(fsys, "small.yaml"); err != nil || string(b) != "roles: []\n" {
		t.Errorf("ReadFile(small.yaml) = %q, %v", b, err)
	}
	// planner/spec refuses the file by its listed size, naming the limit.
	_, err = spec.Load(fsys, spec.Options{Limits: spec.Limits{MaxFileBytes: 1000}})
	var es spec.Errors
	if !errors.As(err, &es) || len(es) != 1 || !strings.Contains(es[0].Error(), "big.yaml: file is 2.0 KiB, over the limit of 1000 bytes per role file (limits.max_file_size") {
		t.Errorf("spec.Load = %v, want the file-size limit", err)
	}

	many := r.Commit("main", "many files", gittest.File("roles/a/1.yaml", "x"), gittest.File("roles/a/2.yaml", "x"))
	s = open(t, gitsource.Config{URL: r.Dir(), Path: "roles", MaxEntries: 4})
	if _, err := s.Files(many); !errors.Is(err, gitsource.ErrTooLarge) || !strings.Contains(err.Error(), "more than 4 files and directories") {
		t.Errorf("Files with 5 entries, MaxEntries 4: %v, want ErrTooLarge", err)
	}
	if _, err := s.Files(sha); err != nil {
		t.Errorf("Files with 2 entries, MaxEntries 4: %v", err)
	}
}
