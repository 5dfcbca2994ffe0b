// Package report is the outcome of an apply: per resource, per role, per
// statement, as the applier produces it, the store keeps it (the apply
// session's detail, in this JSON) and the reporter, the reconciler, the hub
// and the CLI read it. It has no I/O, so reading a report does not bring
// in the apply engine.
package report

import (
	"time"

	"github.com/rolecd/rolecd/internal/session"
)

// Report is the outcome of an apply, stored as the session's detail.
type Report struct {
	SID       string     `json:"sid"`
	PlanSID   string     `json:"plan_sid"`
	Resources []Resource `json:"resources"`
	// Interrupted is set when the apply was cancelled (SIGINT, SIGTERM):
	// the transaction in flight was rolled back and nothing after it ran.
	Interrupted bool `json:"interrupted,omitempty"`
}

// Resource is one resource's outcome.
type Resource struct {
	Resource string `json:"resource"`
	Error    string `json:"error,omitempty"`
	Roles    []Role `json:"roles"`
}

// Role is one role's outcome.
type Role struct {
	RoleName   string      `json:"role_name"`
	Label      string      `json:"label"`
	Status     string      `json:"status"` // applied, skipped, refused, failed
	Reason     string      `json:"reason,omitempty"`
	Statements []Statement `json:"statements,omitempty"`
}

// Role outcomes (Role.Status).
const (
	RoleApplied = "applied"
	RoleSkipped = "skipped"
	RoleRefused = "refused"
	RoleFailed  = "failed"
)

// NotApplied reports whether a role outcome (Role.Status) left the role
// short of its declared state: refused or failed.
func NotApplied(status string) bool { return status == RoleRefused || status == RoleFailed }

// Statement is one statement's outcome; SQL is redacted.
type Statement struct {
	Database string        `json:"database"`
	SQL      string        `json:"sql"`
	Outcome  string        `json:"outcome"` // ok, failed, rolled-back, skipped, unknown
	Error    string        `json:"error,omitempty"`
	Duration time.Duration `json:"duration_ns"`
	// Seq is the statement's number in the apply session.
	Seq int `json:"seq,omitempty"`
	// Roles is, for a statement shared by several roles, how many it
	// served: SQL is then this role's own statement, and the session's
	// statement Seq the shared one that ran, naming them all.
	Roles int `json:"roles,omitempty"`
}

// Counts summarises a report.
func (r *Report) Counts() (applied, skipped, refused, failed int) {
	for _, rr := range r.Resources {
		if rr.Error != "" {
			failed++
		}
		for _, role := range rr.Roles {
			switch role.Status {
			case RoleApplied:
				applied++
			case RoleSkipped:
				skipped++
			case RoleRefused:
				refused++
			default:
				failed++
			}
		}
	}
	return
}

// Status is the session status of a report.
func (r *Report) Status() session.Status {
	_, _, refused, failed := r.Counts()
	switch {
	case r.Interrupted:
		return session.Interrupted
	case failed > 0:
		return session.Failed
	case refused > 0:
		return session.Refused
	}
	return session.Applied
}
