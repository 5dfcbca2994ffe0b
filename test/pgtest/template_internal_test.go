package pgtest

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// linkedBinDir returns a bin directory of symlinks to the real one: the
// same PostgreSQL under another path, hence its own template key, so the
// test does not disturb the template other tests share.
func linkedBinDir(t *testing.T) string {
	t.Helper()
	real, err := BinDir()
	if err != nil {
		t.Fatal(err)
	}
	// Not t.TempDir(): its parent is private, and the server's OS user must
	// reach the programs.
	dir, err := os.MkdirTemp("", "pgtest-bin-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"initdb", "pg_ctl", "postgres"} {
		if err := os.Symlink(filepath.Join(real, name), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestTemplateCacheAndRepair(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	binDir := linkedBinDir(t)

	first, err := loadOrBuildTemplate(ctx, binDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(first.root) })
	if fi, err := os.Stat(filepath.Join(first.root, passwordFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("password file: %v, %v", fi, err)
	}

	// A second process (here: call) reuses the published template.
	again, err := loadOrBuildTemplate(ctx, binDir)
	if err != nil {
		t.Fatal(err)
	}
	if again.root != first.root || again.password != first.password {
		t.Errorf("template rebuilt: %s/%s, was %s/%s", again.root, again.password, first.root, first.password)
	}

	// A damaged template is replaced by a new one.
	if err := os.Remove(filepath.Join(first.root, "data", "global", "pg_control")); err != nil {
		t.Fatal(err)
	}
	repaired, err := loadOrBuildTemplate(ctx, binDir)
	if err != nil {
		t.Fatal(err)
	}
	if repaired.root != first.root || repaired.password == first.password {
		t.Errorf("damaged template not rebuilt: %s, same password %v", repaired.root, repaired.password == first.password)
	}
	if _, err := os.Stat(filepath.Join(repaired.root, "data", "global", "pg_control")); err != nil {
		t.Errorf("rebuilt template: %v", err)
	}
}

func TestCollectGarbage(t *testing.T) {
	t.Parallel()
	r, err := newRunner(linkedBinDir(t))
	if err != nil {
		t.Fatal(err)
	}
	base, err := baseDir()
	if err != nil {
		t.Fatal(err)
	}
	// The pid of a process that has exited.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	deadPid := strconv.Itoa(dead.Process.Pid)
	mine := strconv.Itoa(os.Getpid())
	dirs := map[string]bool{ // name -> removed
		"c-" + deadPid + "-gctest":     true,
		"build-" + deadPid + "-gctest": true,
		"c-" + mine + "-gctest":        false,
		"other-" + deadPid + "-gctest": false,
	}
	for name := range dirs {
		if err := os.MkdirAll(filepath.Join(base, name, "data"), 0o700); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.RemoveAll(filepath.Join(base, name)) })
	}
	collectGarbage(context.Background(), base, r)
	for name, removed := range dirs {
		_, err := os.Stat(filepath.Join(base, name))
		if gone := errors.Is(err, os.ErrNotExist); gone != removed {
			t.Errorf("%s: removed %v, want %v (%v)", name, gone, removed, err)
		}
	}
}
