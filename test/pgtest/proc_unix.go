//go:build unix

package pgtest

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// serverOSUser is the OS account that runs initdb, pg_ctl and postgres when
// the harness runs as root (both refuse to run as root).
const serverOSUser = "postgres"

// lookupOwner returns the OS account that owns and runs the clusters.
func lookupOwner() (owner, error) {
	if os.Geteuid() != 0 {
		return owner{uid: os.Geteuid(), gid: os.Getegid()}, nil
	}
	u, err := user.Lookup(serverOSUser)
	if err != nil {
		return owner{}, fmt.Errorf("running as root needs the %q OS user to run PostgreSQL: %w", serverOSUser, err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return owner{}, fmt.Errorf("uid of %q: %w", serverOSUser, err)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return owner{}, fmt.Errorf("gid of %q: %w", serverOSUser, err)
	}
	return owner{uid: uid, gid: gid, switchUser: true}, nil
}

// sysProcAttr makes a child process run as the owner.
func (o owner) sysProcAttr() *syscall.SysProcAttr {
	if !o.switchUser {
		return nil
	}
	return &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(o.uid), Gid: uint32(o.gid)}}
}

// fileOwnerUID returns the uid owning fi.
func fileOwnerUID(fi os.FileInfo) (int, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}

// processAlive reports whether a process with this pid exists.
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
