package spec

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// MaxNameLen is PostgreSQL's identifier limit in bytes (NAMEDATALEN-1).
const MaxNameLen = 63

// MaxLabelLen is the longest role label accepted in role files. It is the
// longest label that fits the 63-byte budget under Hoop's "hoopdev" prefix.
const MaxLabelLen = 44

// hashLen is the length of the hash suffix of a role name.
const hashLen = 8

// minRoleNameOverhead is what a role name needs besides prefix and label:
// three "_" separators, a 1-byte resource slug and the hash.
const minRoleNameOverhead = 3 + 1 + hashLen

// Slug lower-cases s, replaces each run of characters outside [a-z0-9] with
// a single "_" and trims "_" from both ends (DESIGN §3).
func Slug(s string) string {
	var b strings.Builder
	gap := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if gap && b.Len() > 0 {
				b.WriteByte('_')
			}
			gap = false
			b.WriteRune(r)
			continue
		}
		gap = true
	}
	return b.String()
}

// Hash8 returns the first 8 hex digits of SHA-256("<resource>:<label>"),
// computed on the raw strings: the identity of a role (DESIGN §3).
func Hash8(resource, label string) string {
	sum := sha256.Sum256([]byte(resource + ":" + label))
	return hex.EncodeToString(sum[:])[:hashLen]
}

// RoleName returns <prefix>_<resource slug>_<label slug>_<hash8>, at most 63
// bytes, byte-compatible with Hoop's scheme. The label is never cut: when it
// does not fit even with a 1-byte resource slug, RoleName fails. The resource
// slug is cut to fit, its trailing "_" trimmed, and "x" stands for an empty one.
func RoleName(prefix, resource, label string) (string, error) {
	if err := CheckPrefix(prefix); err != nil {
		return "", err
	}
	lab := Slug(label)
	if lab == "" {
		return "", fmt.Errorf("label %s has no letter or digit", quote(label))
	}
	room := MaxNameLen - len(prefix) - len(lab) - (minRoleNameOverhead - 1)
	if room < 1 {
		return "", fmt.Errorf("label %s is too long for the %d-byte role name under prefix %q: its slug has %d characters, at most %d fit",
			quote(label), MaxNameLen, prefix, len(lab), maxLabelSlug(prefix))
	}
	res := Slug(resource)
	if len(res) > room {
		res = strings.TrimRight(res[:room], "_")
	}
	if res == "" {
		res = "x"
	}
	return prefix + "_" + res + "_" + lab + "_" + Hash8(resource, label), nil
}

// maxLabelSlug is the longest label slug that fits under prefix.
func maxLabelSlug(prefix string) int {
	return MaxNameLen - len(prefix) - minRoleNameOverhead
}

// CheckPrefix reports whether prefix is usable as a role-name prefix: non-empty,
// only [a-z0-9_], and short enough to leave room for a label.
func CheckPrefix(prefix string) error {
	if prefix == "" {
		return fmt.Errorf("role prefix is empty")
	}
	for i := 0; i < len(prefix); i++ {
		c := prefix[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return fmt.Errorf("invalid role prefix %s: want lower-case letters, digits and \"_\"", quote(prefix))
		}
	}
	if maxLabelSlug(prefix) < 1 {
		return fmt.Errorf("role prefix %s is too long: at most %d bytes", quote(prefix), MaxNameLen-minRoleNameOverhead-1)
	}
	return nil
}
