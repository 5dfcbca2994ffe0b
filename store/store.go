// Package store keeps rolecd's durable state: audit sessions (every plan,
// apply, health check, credential change and drift check, with the
// statements an apply ran), generated role credentials and admin
// credentials (both encrypted by the caller: the store only ever sees
// ciphertext). Two backends implement Store behind one URL: SQLite
// (sqlite://path, the embedded default) and PostgreSQL (postgres://...).
package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/rolecd/rolecd/internal/credentials"
	"github.com/rolecd/rolecd/internal/session"
)

// ErrNotFound is returned when a session or credential does not exist.
var ErrNotFound = errors.New("not found")

// Kind is what a session records.
type Kind string

// Session kinds.
const (
	KindPlan       Kind = "plan"
	KindApply      Kind = "apply"
	KindHealth     Kind = "health"
	KindCredential Kind = "credential"
	KindDrift      Kind = "drift"
	KindAudit      Kind = "audit" // a failed SIEM delivery
	// KindView is a page of the web hub someone read; KindAction an
	// action someone took there (e.g. "check now"). Both are audit records
	// of the hub itself.
	KindView   Kind = "view"
	KindAction Kind = "action"
)

// Status is a session's outcome (session.Status, named here too so the
// store's callers write store.StatusApplied beside store.KindApply).
type Status = session.Status

// Session statuses.
const (
	StatusRunning     = session.Running
	StatusNoChanges   = session.NoChanges
	StatusChanges     = session.Changes
	StatusApplied     = session.Applied
	StatusRefused     = session.Refused
	StatusFailed      = session.Failed
	StatusOK          = session.OK
	StatusInterrupted = session.Interrupted
)

// Session is one audit record. Secrets never appear in it: SQL is stored
// redacted, credentials are stored elsewhere, encrypted.
type Session struct {
	SID         string
	Kind        Kind
	Status      Status
	Actor       string // who ran it: user@host, or "daemon"
	Commit      string
	PullRequest int
	Resources   []string // sorted
	Roles       []string // role names, sorted
	// Checksum: for a plan, the digest over its roles' checksums; for an
	// apply, the checksum it was gated on.
	Checksum string
	// PlanSID is, for an apply, the plan session it applied ("" for -f).
	PlanSID string
	// Detail is the kind's own JSON document: the plan document for a plan,
	// the apply report for an apply, and so on.
	Detail     json.RawMessage
	Error      string
	StartedAt  time.Time
	FinishedAt time.Time // zero while running
	// Statements are filled by Get, in Seq order.
	Statements []Statement
}

// Statement is one SQL statement an apply ran or meant to run.
type Statement struct {
	Seq      int // 1, 2, ... within the session
	Resource string
	// Role is the role the statement served; for a statement shared by
	// several roles (GRANT ... TO r1, r2), recorded once, the roles it
	// served joined by ", ", for display.
	Role string
	// Roles are the roles a shared statement served, in order (nil for a
	// statement of one role: Role).
	Roles    []string
	Database string
	SQL      string // redacted
	Outcome  string // "ok", "failed", "skipped" (not run because an earlier one failed), "rolled-back"
	Error    string
	Duration time.Duration
	At       time.Time
}

// Filter selects sessions for List; zero fields match everything.
type Filter struct {
	Kind     Kind
	Resource string
	Status   Status
	// Role matches sessions that touched this role name; Actor matches
	// the actor exactly.
	Role  string
	Actor string
	// Since and Until bound StartedAt: Since <= started_at < Until.
	Since time.Time
	Until time.Time
	// ExcludeKinds leaves these kinds out (e.g. the hub's own views).
	ExcludeKinds []Kind
	Limit        int // 0 = 100
}

// CredentialState is the life cycle of one stored password version
// (credentials.State, kept here so store's callers need not import both).
type CredentialState = credentials.State

// Credential states.
const (
	CredentialPending = credentials.Pending
	CredentialActive  = credentials.Active
	CredentialRetired = credentials.Retired
)

// Credential is one version of a role's generated password, encrypted by
// the caller (credentials.Stored).
type Credential = credentials.Stored

// AdminCredential is a resource's admin login, password encrypted by the
// caller (credentials.StoredAdmin).
type AdminCredential = credentials.StoredAdmin

// Store is the durable state. Implementations are safe for concurrent use,
// also by several processes sharing one database.
type Store interface {
	// CreateSession inserts a new session (finished or running).
	CreateSession(ctx context.Context, s *Session) error
	// AppendStatement records one statement of a running session.
	AppendStatement(ctx context.Context, sid string, st Statement) error
	// AppendStatements records statements of a running session, in order,
	// in one transaction.
	AppendStatements(ctx context.Context, sid string, sts []Statement) error
	// FinishSession sets the final status, detail, error and finish time of
	// a running session, once; finishing a finished session is an error.
	FinishSession(ctx context.Context, sid string, status Status, detail json.RawMessage, errMsg string, finishedAt time.Time) error
	// KeepSessionAlive renews the lease of a running session: its process
	// is alive. A running session whose lease lapsed (its process died) is
	// marked StatusInterrupted when the store is next opened.
	KeepSessionAlive(ctx context.Context, sid string) error
	// GetSession returns a session with its statements, or ErrNotFound.
	GetSession(ctx context.Context, sid string) (*Session, error)
	// ListSessions returns matching sessions, newest first, without statements.
	ListSessions(ctx context.Context, f Filter) ([]Session, error)

	// PutPendingCredential stores a new pending version and returns its number.
	PutPendingCredential(ctx context.Context, c Credential) (int, error)
	// ActivateCredential makes version the active one and retires the others.
	ActivateCredential(ctx context.Context, roleName string, version int) error
	// PutPendingCredentials stores several new pending versions in one
	// transaction and returns their numbers, in order.
	PutPendingCredentials(ctx context.Context, cs []Credential) ([]int, error)
	// ActivateCredentials activates a version of each role, in one
	// transaction.
	ActivateCredentials(ctx context.Context, versions map[string]int) error
	// Credentials returns every version of a role's password, newest first,
	// or ErrNotFound when there is none.
	Credentials(ctx context.Context, roleName string) ([]Credential, error)
	// DeleteCredentials removes every version (after the role is dropped).
	DeleteCredentials(ctx context.Context, roleName string) error

	// PutAdmin stores (replaces) a resource's admin credential.
	PutAdmin(ctx context.Context, c AdminCredential) error
	// GetAdmin returns a resource's admin credential, or ErrNotFound.
	GetAdmin(ctx context.Context, resource string) (AdminCredential, error)

	Close() error
}
