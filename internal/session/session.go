// Package session names how an audit session ended: its Status. It has no
// I/O, so the store, which keeps sessions, and the apply report, which
// decides an apply session's status, share one vocabulary without the
// report depending on the store.
package session

// Status is a session's outcome.
type Status string

// Session statuses.
const (
	Running   Status = "running" // an apply in progress (or one that died)
	NoChanges Status = "no-changes"
	Changes   Status = "changes"
	Applied   Status = "applied"
	Refused   Status = "refused"
	Failed    Status = "failed"
	OK        Status = "ok"
	// Interrupted is an apply that was cancelled, or whose process died
	// while it ran (marked on the store's next open).
	Interrupted Status = "interrupted"
)
