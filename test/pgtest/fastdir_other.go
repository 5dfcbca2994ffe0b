//go:build !linux

package pgtest

// fastTempDir returns "": only Linux has a tmpfs the harness looks for.
func fastTempDir() string { return "" }
