package pgtest

import "syscall"

// shmDir is a tmpfs on most Linux systems.
const shmDir = "/dev/shm"

// minShmFree is the free space /dev/shm needs for the harness to use it
// (Docker's default 64 MB is too small for a few clusters).
const minShmFree = 1 << 30

const tmpfsMagic = 0x01021994

// fastTempDir returns /dev/shm when it is a tmpfs with at least 1 GiB free:
// data directories hold about a thousand files, and creating files on a
// tmpfs is an order of magnitude faster than on some disk file systems.
// It returns "" otherwise.
func fastTempDir() string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(shmDir, &st); err != nil {
		return ""
	}
	if int64(st.Type) != tmpfsMagic || uint64(st.Bavail)*uint64(st.Bsize) < minShmFree {
		return ""
	}
	return shmDir
}
