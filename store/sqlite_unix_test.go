//go:build unix

package store_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/rolecd/rolecd/store"
)

// SQLite's unix locking: a reader holds a read lock on the shared range,
// sqliteSharedSize bytes from sqlitePendingByte+2.
const (
	sqlitePendingByte = 0x40000000
	sqliteSharedSize  = 510
)

// probeLocked reports whether another process holds a lock on the shared
// range of the SQLite database file at path (a connection open in WAL mode
// always does).
func probeLocked(path string) (bool, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return false, err
	}
	defer f.Close()
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0, Start: sqlitePendingByte + 2, Len: sqliteSharedSize}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_GETLK, &lk); err != nil {
		return false, fmt.Errorf("F_GETLK %s: %w", path, err)
	}
	return lk.Type != syscall.F_UNLCK, nil
}

// TestSQLiteOpenKeepsOtherHandlesLocks guards against Open touching the
// database file itself while another handle of this process uses it:
// closing any descriptor of a file drops every POSIX lock the process
// holds on it. Other processes then no longer see the first handle's
// SQLite lock and may think themselves the database's only user (and, as
// the last to close, checkpoint and delete the WAL it still writes to).
func TestSQLiteOpenKeepsOtherHandlesLocks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rolecd.db")
	first := openSQLite(t, path)
	sess := store.Session{SID: "x", Kind: store.KindHealth, Status: store.StatusOK}
	if err := first.CreateSession(t.Context(), &sess); err != nil {
		t.Fatal(err)
	}
	probe := func() string {
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), helperLockEnv+"="+path)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("lock probe: %v\n%s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if got := probe(); got != "locked" {
		t.Fatalf("another process sees the database of an open handle %s", got)
	}
	openSQLite(t, path)
	if got := probe(); got != "locked" {
		t.Errorf("after a second Open, another process sees the database %s: the first handle's lock was dropped", got)
	}
}
