//go:build !unix

package pgtest

import (
	"errors"
	"os"
	"syscall"
)

func lookupOwner() (owner, error) {
	return owner{}, errors.New("pgtest: throwaway clusters are supported on unix systems only")
}

func (o owner) sysProcAttr() *syscall.SysProcAttr { return nil }

func fileOwnerUID(os.FileInfo) (int, bool) { return 0, false }

func processAlive(int) bool { return true }
