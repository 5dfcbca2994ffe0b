//go:build !unix

package store

// lockFile is a no-op where flock does not exist; SQLite's own locking
// still serialises writers.
func lockFile(string) (func(), error) { return func() {}, nil }
