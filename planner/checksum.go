package planner

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"slices"
	"strings"

	"github.com/rolecd/rolecd/planner/catalog"
	"github.com/rolecd/rolecd/planner/spec"
)

// checksumDoc is what Checksum hashes. Its fields are declared in sorted key
// order; encoding/json sorts the keys of sql_plan.
type checksumDoc struct {
	Resource string              `json:"resource"`
	RoleName string              `json:"role_name"`
	SQLPlan  map[string][]string `json:"sql_plan"`
}

// Checksum is the sql_plan_checksum of DESIGN §5: the SHA-256, in lower-case
// hex, of the canonical JSON of {"resource", "role_name", "sql_plan"} (keys
// sorted, no insignificant whitespace, no HTML escaping). It depends on
// nothing else (no session id, no time), so a plan re-computed at apply time
// from the same live state has the same checksum. sqlPlan must already be
// redacted. A nil plan hashes like an empty one, and so does a nil statement
// list like an empty one, so a JSON round trip never changes the checksum.
func Checksum(resource, roleName string, sqlPlan map[string][]string) string {
	plan := make(map[string][]string, len(sqlPlan))
	for db, stmts := range sqlPlan {
		if stmts == nil {
			stmts = []string{}
		}
		plan[db] = stmts
	}
	sum := sha256.Sum256(canonicalJSON(checksumDoc{Resource: resource, RoleName: roleName, SQLPlan: plan}))
	return hex.EncodeToString(sum[:])
}

// canonicalJSON encodes v compactly, without HTML escaping and without the
// encoder's trailing newline. It is only given structs of strings, string
// slices and string-keyed maps, for which encoding cannot fail (invalid
// UTF-8 is replaced, not refused), hence the ignored error.
func canonicalJSON(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// markerDoc is the JSON part of the ownership marker, in its fixed key order.
type markerDoc struct {
	Resource string `json:"resource"`
	Label    string `json:"label"`
	Type     string `json:"type"`
}

// Marker returns the COMMENT ON ROLE text that marks r as rolecd's own:
// catalog.MarkerPrefix followed by {"resource":..,"label":..,"type":..}.
func Marker(r spec.Role) string {
	return catalog.MarkerPrefix + string(canonicalJSON(markerDoc{
		Resource: r.Resource,
		Label:    r.Label,
		Type:     string(roleType(r)),
	}))
}

// ConfigOf returns the plan document's config for r: scopes as written in
// role files, privileges as declared (["ALL"] stays ALL).
func ConfigOf(r spec.Role) Config {
	c := Config{
		Type:           string(roleType(r)),
		Label:          r.Label,
		RoleName:       r.Name,
		SourceRole:     r.SourceRole,
		RotatePassword: r.RotatePassword,
	}
	for _, s := range r.Scopes {
		c.Scopes = append(c.Scopes, s.String())
	}
	if len(r.Privileges) > 0 {
		c.Privileges = slices.Clone(r.Privileges)
	}
	if len(r.Functions) > 0 {
		c.Functions = slices.Clone(r.Functions)
	}
	if r.ConnectionLimit != nil {
		limit := *r.ConnectionLimit
		c.ConnectionLimit = &limit
	}
	c.ValidUntil = r.ValidUntil
	c.PasswordMaxAge = spec.FormatPasswordMaxAge(r.PasswordMaxAge)
	if len(r.Options) > 0 {
		c.Options = maps.Clone(r.Options)
	}
	return c
}

// OrderedDatabases returns the databases of a sql_plan in the fixed order in
// which they are applied and displayed: the maintenance database (which holds
// the cluster-level statements) first, then the others by name.
func OrderedDatabases(sqlPlan map[string][]string, maintenanceDB string) []string {
	dbs := make([]string, 0, len(sqlPlan))
	for db := range sqlPlan {
		dbs = append(dbs, db)
	}
	slices.SortFunc(dbs, func(a, b string) int {
		switch {
		case a == b:
			return 0
		case a == maintenanceDB:
			return -1
		case b == maintenanceDB:
			return 1
		}
		return cmp.Compare(a, b)
	})
	return dbs
}

// dropRolePrefix starts the statement that ends a removal.
const dropRolePrefix = "DROP ROLE "

// IsRemoval reports whether a sql_plan drops its role: the maintenance
// database's statements end with DROP ROLE.
func IsRemoval(sqlPlan map[string][]string, maintenanceDB string) bool {
	stmts := sqlPlan[maintenanceDB]
	return len(stmts) > 0 && strings.HasPrefix(stmts[len(stmts)-1], dropRolePrefix)
}

// Step is one transaction of an apply: statements of one database.
type Step struct {
	Database   string
	Statements []string
}

// ApplySteps returns the transactions that apply a role's sql_plan, in
// order: each database's statements in one transaction, in the order of
// OrderedDatabases. A removal (see IsRemoval) is the exception: its DROP
// ROLE runs alone, in a last transaction in the maintenance database,
// after every database (the maintenance one first) has reassigned and
// dropped what the role owns there.
func ApplySteps(sqlPlan map[string][]string, maintenanceDB string) []Step {
	var steps []Step
	var last *Step
	for _, db := range OrderedDatabases(sqlPlan, maintenanceDB) {
		stmts := sqlPlan[db]
		if db == maintenanceDB && IsRemoval(sqlPlan, maintenanceDB) {
			last = &Step{Database: db, Statements: stmts[len(stmts)-1:]}
			stmts = stmts[:len(stmts)-1]
		}
		if len(stmts) > 0 {
			steps = append(steps, Step{Database: db, Statements: stmts})
		}
	}
	if last != nil {
		steps = append(steps, *last)
	}
	return steps
}

// roleType is r's type, managed when unset (the role-file default).
func roleType(r spec.Role) spec.Type {
	if r.Type == "" {
		return spec.Managed
	}
	return r.Type
}
