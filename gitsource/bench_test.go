package gitsource_test

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/rolecd/rolecd/gitsource"
	"github.com/rolecd/rolecd/gitsource/gittest"
)

// BenchmarkFetchUpToDate: the cost of a poll when nothing changed (local
// remote, so mostly git-upload-pack start-up and ref negotiation).
func BenchmarkFetchUpToDate(b *testing.B) {
	r := gittest.New(b)
	r.Commit("main", "roles", gittest.File("roles/a.yaml", "x"))
	s, err := gitsource.Open(b.Context(), gitsource.Config{URL: r.Dir(), Path: "roles", CacheDir: filepath.Join(b.TempDir(), "c")})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := s.Fetch(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFilesRead: list and read 200 role files of one commit.
func BenchmarkFilesRead(b *testing.B) {
	r := gittest.New(b)
	var changes []gittest.Change
	for i := range 200 {
		changes = append(changes, gittest.File(fmt.Sprintf("roles/team%02d/r%03d.yaml", i%20, i), fmt.Sprintf("roles: [] # %d\n", i)))
	}
	sha := r.Commit("main", "roles", changes...)
	s, err := gitsource.Open(b.Context(), gitsource.Config{URL: r.Dir(), Path: "roles", CacheDir: filepath.Join(b.TempDir(), "c")})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		fsys, err := s.Files(sha)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			n++
			_, err = fs.ReadFile(fsys, p)
			return err
		})
		if err != nil || n != 200 {
			b.Fatalf("read %d files: %v", n, err)
		}
	}
}
