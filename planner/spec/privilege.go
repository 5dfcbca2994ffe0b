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
	if up == AllPrivileges || slices.Contains(TablePrivileges(), up) {
		return up, nil
	}
	switch up {
	case "":
		return "", fmt.Errorf("empty privilege")
	case "CONNECT":
		return "", fmt.Errorf("privilege %s is a database privilege: every scope grants CONNECT on its database; list table privileges only", quote(p))
	case "USAGE":
		return "", fmt.Errorf("privilege %s is a schema and sequence privilege: every scope grants USAGE on its schemas, and INSERT or UPDATE adds USAGE, SELECT on their sequences; list table privileges only", quote(p))
	case "TEMPORARY", "TEMP":
		return "", fmt.Errorf("privilege %s is a database privilege that rolecd does not grant; list table privileges only", quote(p))
	case "CREATE":
		return "", fmt.Errorf("privilege %s is a database and schema privilege that rolecd does not grant (roles that create tables belong in the resource's object_creators); list table privileges only", quote(p))
	case "EXECUTE":
		return "", fmt.Errorf("privilege %s is a function privilege, not a table privilege: declare functions: [EXECUTE] on the role", quote(p))
	}
	return "", fmt.Errorf("unknown privilege %s: want %s or %s", quote(p), strings.Join(TablePrivileges(), ", "), AllPrivileges)
}

// normalizePrivileges returns privs de-duplicated in TablePrivileges() order,
// or exactly [ALL] when ALL is among them. privs must be canonical.
func normalizePrivileges(privs []string) []string {
	if slices.Contains(privs, AllPrivileges) {
		return []string{AllPrivileges}
	}
	var out []string
	for _, p := range TablePrivileges() {
		if slices.Contains(privs, p) {
			out = append(out, p)
		}
	}
	return out
}
