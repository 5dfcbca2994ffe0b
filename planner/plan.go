// Package planner computes, from the desired roles of one resource and a
// catalog.Snapshot of its cluster, the minimal SQL that reconciles the live
// state, per role and per database, with its checksum. It is pure: it takes
// values and returns values, and never talks to PostgreSQL.
package planner

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/rolecd/rolecd/planner/spec"
)

// DocumentVersion is the version of the plan document format (DESIGN §5).
const DocumentVersion = 1

// Redacted replaces every secret in plans, sessions and logs.
const Redacted = "<redacted>"

// PasswordPlaceholder is the literal that stands for a generated password in
// rendered SQL (CREATE ROLE ... PASSWORD '<redacted>'). Apply puts a
// SCRAM-SHA-256 verifier in its place only in the statement the planner
// marked (Statement.Password), never by searching the text: a role option
// whose value is this same text is applied literally.
const PasswordPlaceholder = "'" + Redacted + "'"

// Scope statuses.
const (
	StatusInSync        = "in-sync"
	StatusOutOfSync     = "out-of-sync"
	StatusUnprovisioned = "unprovisioned"
)

// Document is the plan document of DESIGN §5.
type Document struct {
	Version   int            `json:"version"`
	SID       string         `json:"sid"`
	CreatedAt time.Time      `json:"created_at"`
	Source    Source         `json:"source"`
	Resources []ResourcePlan `json:"resources"`
	// Connections tells, per planned resource, where rolecd connects and
	// which credential source it uses (never a secret), so a saved plan is
	// self-contained: apply needs only it, the store and the admin secret.
	// Not covered by the checksums (they cover the SQL); apply checks it
	// against the credential policy, and against the role files when given.
	Connections map[string]spec.Connection `json:"connections,omitempty"`
}

// Source says where the desired state came from.
type Source struct {
	Commit      string `json:"commit"`
	PullRequest int    `json:"pull_request"`
}

// ResourcePlan is the plan for one resource, or the error that prevented it.
type ResourcePlan struct {
	Resource string `json:"resource"`
	// MaintenanceDatabase is where cluster-level statements run; its
	// sql_plan entry comes first in the apply order.
	MaintenanceDatabase string `json:"maintenance_database,omitempty"`
	// ServerVersion is the cluster's server_version when it was inspected.
	ServerVersion string `json:"server_version,omitempty"`
	// Settings are the resource's settings that apply's re-plan needs
	// besides its connection; absent when all are defaults.
	Settings *ResourceSettings `json:"settings,omitempty"`
	Roles    []RolePlan        `json:"roles"`
	// Error is set when the resource could not be planned (unreachable,
	// scope naming a missing database, ...); Roles is then empty.
	Error string `json:"error,omitempty"`
	// Notes say what this plan could not check on this cluster (e.g.
	// password drift, with an admin that cannot read pg_authid).
	Notes []string `json:"notes,omitempty"`
}

// ResourceSettings are a resource's declared settings, other than its
// connection, that decide its plan (spec.Resource).
type ResourceSettings struct {
	ObjectCreators []string `json:"object_creators,omitempty"`
	DropReassignTo string   `json:"drop_reassign_to,omitempty"`
	// KeepRemoved is `prune: false`.
	KeepRemoved bool `json:"keep_removed,omitempty"`
	// AllowSourceRoles is allow_source_roles: the reviewed opt-in to
	// dangerous source roles, which apply's re-plan checks again.
	AllowSourceRoles []string `json:"allow_source_roles,omitempty"`
}

// SettingsOf returns res's settings for a plan document, nil when they
// are all defaults.
func SettingsOf(res spec.Resource) *ResourceSettings {
	if len(res.ObjectCreators) == 0 && res.DropReassignTo == "" && !res.KeepRemoved && len(res.AllowSourceRoles) == 0 {
		return nil
	}
	return &ResourceSettings{ObjectCreators: res.ObjectCreators, DropReassignTo: res.DropReassignTo, KeepRemoved: res.KeepRemoved,
		AllowSourceRoles: res.AllowSourceRoles}
}

// ResourceSpecs rebuilds, from the document alone, the resources apply
// needs: each planned resource's connection and settings. Resources whose
// plan failed are left out (apply skips them). It fails when a planned
// resource has no connection (a document written before plans carried
// them).
func (d *Document) ResourceSpecs() (map[string]spec.Resource, error) {
	out := map[string]spec.Resource{}
	var missing []string
	var errs []error
	for _, rp := range d.Resources {
		if rp.Error != "" {
			continue
		}
		c, ok := d.Connections[rp.Resource]
		if !ok {
			missing = append(missing, rp.Resource)
			continue
		}
		res, err := c.Resource(rp.Resource)
		if err != nil {
			errs = append(errs, fmt.Errorf("plan document: %w", err))
			continue
		}
		if s := rp.Settings; s != nil {
			res.ObjectCreators, res.DropReassignTo, res.KeepRemoved = s.ObjectCreators, s.DropReassignTo, s.KeepRemoved
			res.AllowSourceRoles = s.AllowSourceRoles
		}
		out[rp.Resource] = res
	}
	if len(missing) > 0 {
		errs = append(errs, fmt.Errorf("the plan document has no connection for %s (it was written by an older rolecd): plan again, or give --repo with the role files", strings.Join(missing, ", ")))
	}
	return out, errors.Join(errs...)
}

// RolePlan is the plan for one declared role.
type RolePlan struct {
	Config       Config `json:"config"`
	CurrentState State  `json:"current_state"`
	// SQLPlan maps database name to its ordered statements; cluster-level
	// statements come first under the resource's maintenance database.
	// Empty (not nil) for an in-sync role.
	SQLPlan  map[string][]string `json:"sql_plan"`
	Checksum string              `json:"sql_plan_checksum"`
	// PasswordStatements gives, per database, the positions in SQLPlan of
	// the statements that set the role's generated password (where apply
	// puts a SCRAM verifier for PasswordPlaceholder). It is not part of
	// the checksum: apply re-plans and requires the same positions.
	PasswordStatements map[string][]int `json:"password_statements,omitempty"`
	// Statements are SQLPlan's statements with their structure (phase,
	// password, role); filled by the planner, not by a JSON round trip.
	Statements map[string][]Statement `json:"-"`
}

// Config is the role definition as declared.
type Config struct {
	Type           string   `json:"type"`
	Label          string   `json:"label"`
	RoleName       string   `json:"role_name"`
	Scopes         []string `json:"scopes,omitempty"`
	Privileges     []string `json:"privileges,omitempty"`
	SourceRole     string   `json:"source_role,omitempty"`
	RotatePassword bool     `json:"rotate_password"`
	// Functions is ["EXECUTE"] when the role gets EXECUTE on its scopes'
	// functions and procedures.
	Functions []string `json:"functions,omitempty"`
	// ConnectionLimit is the declared CONNECTION LIMIT (absent: -1).
	ConnectionLimit *int `json:"connection_limit,omitempty"`
	// ValidUntil is the declared password expiry (absent: never).
	ValidUntil string `json:"valid_until,omitempty"`
	// PasswordMaxAge is the declared password_max_age ("90d"; absent:
	// none), for the reviewer: the rotation it causes is in the SQL.
	PasswordMaxAge string `json:"password_max_age,omitempty"`
	// Options are the declared per-role settings.
	Options map[string]string `json:"options,omitempty"`
}

// State is the live state of a role at plan time.
type State struct {
	Exists bool `json:"exists"`
	// Adopt is true when a role exists under the computed name without
	// rolecd's ownership marker: the plan adds the marker and reconciles it.
	Adopt bool `json:"adopt,omitempty"`
	// Remove is true for a role rolecd owns (its marker names this
	// resource) that the role files no longer declare: the plan drops it,
	// after reassigning and dropping what it owns in every database.
	Remove bool `json:"remove,omitempty"`
	// Keep is true for a removed role of a resource with prune: false:
	// the plan only disables its login.
	Keep              bool         `json:"keep,omitempty"`
	Scopes            []ScopeState `json:"scopes,omitempty"`
	RequiresMigration bool         `json:"requires_migration"`
	// Changes describes, one line each, what the SQL changes and why
	// (e.g. "revoke INSERT outside declared privileges on app.public").
	Changes []string `json:"changes,omitempty"`
}

// ScopeState is one declared scope's live state.
type ScopeState struct {
	Scope  string `json:"scope"`
	Tables int    `json:"tables"`
	Status string `json:"status"`
}

// Summary counts what a plan document would do.
type Summary struct {
	Resources       int `json:"resources"`
	FailedResources int `json:"failed_resources"`
	Roles           int `json:"roles"`
	Changes         int `json:"changes"` // roles that require migration
	InSync          int `json:"in_sync"`
	Statements      int `json:"statements"`
}

// Summary counts resources, roles and statements of the document.
func (d *Document) Summary() Summary {
	var s Summary
	for _, rp := range d.Resources {
		r := rp.Summary()
		s.Resources += r.Resources
		s.FailedResources += r.FailedResources
		s.Roles += r.Roles
		s.Changes += r.Changes
		s.InSync += r.InSync
		s.Statements += r.Statements
	}
	return s
}

// Summary counts the roles and statements of one resource's plan
// (Resources is 1; FailedResources is 1 when it has an error).
func (rp ResourcePlan) Summary() Summary {
	s := Summary{Resources: 1}
	if rp.Error != "" {
		s.FailedResources = 1
	}
	for _, r := range rp.Roles {
		s.Roles++
		if r.CurrentState.RequiresMigration {
			s.Changes++
		} else {
			s.InSync++
		}
		for _, stmts := range r.SQLPlan {
			s.Statements += len(stmts)
		}
	}
	return s
}

// Digest is the overall digest of a plan document: SHA-256 (hex) over one
// line "<resource> <role_name> <sql_plan_checksum>" per role, sorted. It
// changes when any role's SQL changes, and only then.
func (d *Document) Digest() string {
	var lines []string
	for _, rp := range d.Resources {
		for _, r := range rp.Roles {
			lines = append(lines, rp.Resource+" "+r.Config.RoleName+" "+r.Checksum)
		}
	}
	sort.Strings(lines)
	sum := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	return hex.EncodeToString(sum[:])
}
