package spec

import (
	"fmt"
	"slices"
	"strings"
)

// canonicalPrivilege upper-cases p and checks it is a table privilege or ALL.
// The error says where a non-table privilege belongs.
func canonicalPrivilege(p string) (string, error) {
	up := strings.Join(strings.Fields(strings.ToUpper(p)), " ")
	if up == "ALL PRIVILEGES" {
		up = AllPrivileges
	}
	if up == AllPrivileges || slices.Contains(TablePrivileges, up) {
		return up, nil
	}
	switch up {
	case "":
		return "", fmt.Errorf("empty privilege")
	case "CONNECT", "USAGE":
		return "", fmt.Errorf("privilege %s is granted from scopes (CONNECT on the database, USAGE on the schema); list table privileges only", quote(p))
	case "TEMPORARY", "TEMP", "CREATE":
		return "", fmt.Errorf("privilege %s is not granted by rolecd; list table privileges only", quote(p))
	case "EXECUTE":
		return "", fmt.Errorf("privilege %s is a function privilege, not a table privilege", quote(p))
	}
	return "", fmt.Errorf("unknown privilege %s: want %s or %s", quote(p), strings.Join(TablePrivileges, ", "), AllPrivileges)
}

// normalizePrivileges returns privs de-duplicated in TablePrivileges order,
// or exactly [ALL] when ALL is among them. privs must be canonical.
func normalizePrivileges(privs []string) []string {
	if slices.Contains(privs, AllPrivileges) {
		return []string{AllPrivileges}
	}
	var out []string
	for _, p := range TablePrivileges {
		if slices.Contains(privs, p) {
			out = append(out, p)
		}
	}
	return out
}
