package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Bookkeeping is the daemon's durable state beside the audit sessions:
// webhook deliveries, pull-request plan/apply state, the outbox of reports
// to the forge, leases for leader election, drift state per resource and
// named cursors. Everything the daemon must not forget across a restart
// lives here. The Store returned by Open implements it for both backends
// (see AsBookkeeping); implementations are safe for concurrent use, also
// by several processes sharing one database.
type Bookkeeping interface {
	// RecordDelivery stores a webhook delivery as pending. It reports
	// false, and changes nothing, when a delivery with this ID exists
	// (GitHub redelivers with the same X-GitHub-Delivery).
	RecordDelivery(ctx context.Context, d Delivery) (inserted bool, err error)
	// GetDelivery returns one delivery, or ErrNotFound.
	GetDelivery(ctx context.Context, id string) (Delivery, error)
	// PendingDeliveries returns the deliveries not yet processed, oldest first.
	PendingDeliveries(ctx context.Context) ([]Delivery, error)
	// DeliveryFailed counts a failed attempt at a pending delivery and
	// records the error; it stays pending.
	DeliveryFailed(ctx context.Context, id, errMsg string) error
	// FinishDelivery marks a delivery processed (errMsg: why it was dropped,
	// "" when handled). Finishing a processed delivery is a no-op.
	FinishDelivery(ctx context.Context, id, errMsg string, at time.Time) error

	// GetPullRequest returns the state of pull request n, or ErrNotFound.
	GetPullRequest(ctx context.Context, n int) (PullRequest, error)
	// PutPullRequest creates or replaces the state of pr.Number and writes
	// back UpdatedAt (now when zero), if fence still holds (see Fence): a
	// write by a leader whose lease was taken over fails with a
	// *FencedError (errors.Is ErrFenced) and changes nothing.
	PutPullRequest(ctx context.Context, pr *PullRequest, fence Fence) error
	// ListPullRequests returns the pull requests in any of states (all when
	// none given), by number.
	ListPullRequests(ctx context.Context, states ...PRState) ([]PullRequest, error)

	// EnqueueReport adds a report to the outbox, or replaces the payload of
	// the report with the same key (the latest payload wins): it becomes
	// due at r.NextAttempt (now when zero; the caller's clock), not done,
	// with no attempts, and gets a new Seq, so that a
	// sender still posting the older payload cannot mark the new one done.
	// It writes back Seq and the times. Like PutPullRequest it is refused
	// with a *FencedError when fence no longer holds.
	EnqueueReport(ctx context.Context, r *OutboxReport, fence Fence) error
	// GetReport returns one report, or ErrNotFound.
	GetReport(ctx context.Context, key string) (OutboxReport, error)
	// DueReports returns up to limit (0: 100) reports not done whose next
	// attempt is at or before now, in Seq order.
	DueReports(ctx context.Context, now time.Time, limit int) ([]OutboxReport, error)
	// ReportDone marks report key done if its Seq is still seq; it reports
	// whether it did (false: a newer payload was enqueued meanwhile).
	ReportDone(ctx context.Context, key string, seq int64, at time.Time) (bool, error)
	// ReportFailed counts a failed attempt of report key at seq and sets its
	// next attempt; a no-op when the report was replaced meanwhile.
	ReportFailed(ctx context.Context, key string, seq int64, next time.Time, errMsg string) error

	// TryLease takes or renews lease name for holder until now + ttl, by
	// the database's clock (never the caller's). It succeeds (ok) when the
	// lease is free, expired, or already holder's, and returns the lease:
	// its Generation is unchanged by a renewal of an unexpired lease and
	// grows whenever the lease is taken anew (also by the same holder after
	// it expired), so work begun under one generation can be fenced off.
	TryLease(ctx context.Context, name, holder string, ttl time.Duration) (l Lease, ok bool, err error)
	// CheckFence returns a *FencedError unless fence still holds now: a
	// last check before work no store write guards (an apply).
	CheckFence(ctx context.Context, fence Fence) error
	// GetLease returns lease name as stored (Holder "" when released), or
	// ErrNotFound when it was never taken.
	GetLease(ctx context.Context, name string) (Lease, error)
	// ReleaseLease gives up lease name if holder has it; it keeps its
	// generation, and the next taker gets a greater one.
	ReleaseLease(ctx context.Context, name, holder string) error

	// GetDrift returns the drift state of a resource, or ErrNotFound.
	GetDrift(ctx context.Context, resource string) (Drift, error)
	// PutDrift creates or replaces a resource's drift state.
	PutDrift(ctx context.Context, d Drift) error
	// ListDrift returns the drift state of every resource, by name.
	ListDrift(ctx context.Context) ([]Drift, error)

	// GetCursor returns a named value ("" and ErrNotFound when unset),
	// e.g. the last branch head the daemon reconciled.
	GetCursor(ctx context.Context, name string) (string, error)
	// PutCursor sets a named value.
	PutCursor(ctx context.Context, name, value string) error

	// Ping checks that the database answers.
	Ping(ctx context.Context) error
}

// AsBookkeeping returns the Bookkeeping side of a Store opened by Open.
func AsBookkeeping(s Store) (Bookkeeping, bool) {
	b, ok := s.(Bookkeeping)
	return b, ok
}

// Lease is a named lease for leader election.
type Lease struct {
	Name   string
	Holder string
	// Generation is the fencing token: it grows every time the lease is
	// taken by a holder that did not hold it unexpired.
	Generation int64
	// ExpiresAt is when the lease lapses unrenewed, by the database clock.
	ExpiresAt time.Time
}

// Fence makes a write conditional on a lease: the write happens only
// while lease Lease is still at Generation, i.e. nobody took the lease over
// since the writer got it. The zero Fence fences nothing (for tools that
// run without a lease, e.g. tests and one-shot commands).
type Fence struct {
	Lease      string
	Generation int64
}

// Fenced reports whether f fences anything.
func (f Fence) Fenced() bool { return f.Lease != "" }

// ErrFenced is what a write refused by its Fence matches (errors.Is).
var ErrFenced = errors.New("the lease was taken over by another holder")

// FencedError is a write refused because the lease moved on from the
// writer's generation: the writer is a stale leader and must stop.
type FencedError struct {
	Lease string
	// Generation is the writer's; Current the lease's now (0: released or
	// never taken).
	Generation, Current int64
}

func (e *FencedError) Error() string {
	return fmt.Sprintf("lease %q: write under generation %d refused, the lease is at generation %d: %v",
		e.Lease, e.Generation, e.Current, ErrFenced)
}

// Is makes errors.Is(err, ErrFenced) true.
func (e *FencedError) Is(target error) bool { return target == ErrFenced }

// DeliveryState is where a webhook delivery is in its life cycle.
type DeliveryState string

// Delivery states.
const (
	DeliveryPending   DeliveryState = "pending"
	DeliveryProcessed DeliveryState = "processed"
)

// Delivery is one webhook delivery, recorded before it is acknowledged.
type Delivery struct {
	ID          string // X-GitHub-Delivery
	Event       string // X-GitHub-Event: pull_request, push, issue_comment
	Payload     json.RawMessage
	State       DeliveryState
	Attempts    int    // failed processing attempts
	Error       string // last error, or why it was dropped
	ReceivedAt  time.Time
	ProcessedAt time.Time // zero while pending
}

// PRState is where a pull request is in the daemon's state machine:
//
//	open -> (merged) merged-pending -> applied
//	                                -> waiting-approval -> (/rolecd apply) applied
//	                                -> refused (invalid merged tree, or apply refused)
//	open -> closed (closed without merge, or merged without touching the role files)
type PRState string

// Pull-request states.
const (
	PROpen            PRState = "open"
	PRMergedPending   PRState = "merged-pending"
	PRApplied         PRState = "applied"
	PRWaitingApproval PRState = "waiting-approval"
	PRRefused         PRState = "refused"
	PRClosed          PRState = "closed"
)

// PullRequest is what the daemon planned, reported and applied for one
// pull request.
type PullRequest struct {
	Number int
	State  PRState
	// HeadSHA is the last head seen; PlannedSHA the head last planned (or
	// found not to touch the role files, then PlanSID is empty).
	HeadSHA    string
	PlannedSHA string
	PlanSID    string
	Digest     string
	// Checksums maps "resource/role_name" to the reviewed plan's checksum.
	Checksums map[string]string
	// MergeSHA is the merge commit; MergePlanSID and MergeDigest the plan
	// of the merged tree when it differs from the reviewed one.
	MergeSHA     string
	MergePlanSID string
	MergeDigest  string
	// ApplySID is the apply session started for the merge ("" before).
	ApplySID  string
	UpdatedAt time.Time
}

// OutboxReport is one report to post to the forge, kept until posted.
type OutboxReport struct {
	Key         string // deduplication key, e.g. "comment/12/plan"
	Seq         int64  // increases with every EnqueueReport
	Kind        string // what to post: the sender's vocabulary
	Payload     json.RawMessage
	Attempts    int
	NextAttempt time.Time
	LastError   string
	CreatedAt   time.Time
	UpdatedAt   time.Time
	DoneAt      time.Time // zero while not done
}

// Drift is the last drift check of one resource.
type Drift struct {
	Resource string
	// Roles are the role names that differ from the branch (none: in sync).
	Roles     []string
	Digest    string // digest of the drifted roles' checksums
	Commit    string // branch head checked
	SID       string // last drift session
	Since     time.Time
	CheckedAt time.Time
}
