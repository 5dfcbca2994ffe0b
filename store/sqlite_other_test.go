//go:build !unix

package store_test

import "errors"

// probeLocked is for POSIX record locks, which this platform lacks.
func probeLocked(string) (bool, error) { return false, errors.New("no POSIX record locks here") }
