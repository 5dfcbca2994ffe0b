package spec

import (
	"cmp"
	"fmt"
)

// Default limits on a role-files tree (rolecd.yaml `limits:`). They bound
// what a hostile pull request can make rolecd spend before anything is
// planned: decoding YAML costs about 30-70 times the file size in memory,
// so a 4 MiB file stays within a few hundred MB, and files are decoded one
// at a time. The defaults leave room for far more than real inventories
// need: 20,000 roles at about 100 bytes each is 2 MB of role files.
const (
	// DefaultMaxFileBytes bounds one role file.
	DefaultMaxFileBytes int64 = 4 << 20
	// DefaultMaxTreeBytes bounds the role files of a tree together.
	DefaultMaxTreeBytes int64 = 64 << 20
	// DefaultMaxRoles bounds the roles (and, separately, the resources)
	// declared in a tree.
	DefaultMaxRoles = 20000
)

// maxReported is how many problems Parse reports; the rest are counted.
const maxReported = 500

// Limits bound the size of what Load and Parse read. A zero field means its
// default.
type Limits struct {
	// MaxFileBytes is the largest role file, in bytes (limits.max_file_size).
	MaxFileBytes int64
	// MaxTreeBytes is the largest total of the role files, in bytes
	// (limits.max_tree_size).
	MaxTreeBytes int64
	// MaxRoles is the most roles a tree may declare, and the most resources
	// (limits.max_roles).
	MaxRoles int
}

// withDefaults fills the zero fields of l.
func (l Limits) withDefaults() Limits {
	return Limits{
		MaxFileBytes: cmp.Or(l.MaxFileBytes, DefaultMaxFileBytes),
		MaxTreeBytes: cmp.Or(l.MaxTreeBytes, DefaultMaxTreeBytes),
		MaxRoles:     cmp.Or(l.MaxRoles, DefaultMaxRoles),
	}
}

// fileTooLarge is the problem of one file over MaxFileBytes.
func (l Limits) fileTooLarge(name string, size int64) Error {
	return Error{Pos: Pos{File: name}, Msg: fmt.Sprintf(
		"file is %s, over the limit of %s per role file (limits.max_file_size in rolecd.yaml); not read",
		FormatBytes(size), FormatBytes(l.MaxFileBytes))}
}

// treeTooLarge is the problem of a tree over MaxTreeBytes; first names the
// file that crossed the limit.
func (l Limits) treeTooLarge(first string, total int64) Error {
	return Error{Pos: Pos{File: first}, Msg: fmt.Sprintf(
		"the role files total at least %s, over the limit of %s per tree (limits.max_tree_size in rolecd.yaml); none was read",
		FormatBytes(total), FormatBytes(l.MaxTreeBytes))}
}

// FormatBytes renders a size for messages: "4 MiB", "1.5 KiB", "300 bytes".
func FormatBytes(n int64) string {
	units := []string{"KiB", "MiB", "GiB", "TiB"}
	if n < 1024 {
		return fmt.Sprintf("%d bytes", n)
	}
	v, unit := float64(n)/1024, units[0]
	for _, u := range units[1:] {
		if v < 1024 {
			break
		}
		v, unit = v/1024, u
	}
	if v == float64(int64(v)) {
		return fmt.Sprintf("%d %s", int64(v), unit)
	}
	return fmt.Sprintf("%.1f %s", v, unit)
}
