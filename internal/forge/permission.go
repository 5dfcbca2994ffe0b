package forge

import "strings"

// PermissionRank orders repository permissions: none (or unknown) 0, read
// 1, triage 2, write 3, maintain 4, admin 5. Names are exact, as the forge
// reports them; CanonicalPermission maps older spellings first.
func PermissionRank(p string) int {
	switch p {
	case "read":
		return 1
	case "triage":
		return 2
	case "write":
		return 3
	case "maintain":
		return 4
	case "admin":
		return 5
	}
	return 0
}

// AtLeast reports whether permission have ranks at least as high as want
// (exact names, as PermissionRank reads them).
func AtLeast(have, want string) bool { return PermissionRank(have) >= PermissionRank(want) }

// CanonicalPermission lowercases p and maps GitHub's legacy names ("pull",
// "push") to today's ("read", "write"), for permissions people write in a
// configuration.
func CanonicalPermission(p string) string {
	p = strings.ToLower(p)
	switch p {
	case "pull":
		return "read"
	case "push":
		return "write"
	}
	return p
}

// RepositoryPermission is a user's permission from what a forge reports
// for a collaborator: its role name when it is a known permission (a
// custom role's name is not), else the base permission, else "none".
func RepositoryPermission(roleName, permission string) string {
	switch {
	case PermissionRank(roleName) > 0:
		return roleName
	case permission != "":
		return permission
	}
	return "none"
}
