package reconciler

import (
	"errors"
	"fmt"
)

// StalledError is a failure that needs a human (invalid role files, a
// merged tree that cannot be planned): it is reported, never retried.
type StalledError struct {
	Reason string // short, for logs and status descriptions
	Err    error
}

func (e *StalledError) Error() string {
	if e.Err == nil {
		return e.Reason
	}
	return e.Reason + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *StalledError) Unwrap() error { return e.Err }

// WaitingError is a failure that goes away by itself (GitHub or PostgreSQL
// down, a commit not fetched yet): the work is retried later, and nothing
// is reported as failed.
type WaitingError struct {
	Reason string
	Err    error
}

func (e *WaitingError) Error() string {
	if e.Err == nil {
		return e.Reason
	}
	return e.Reason + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *WaitingError) Unwrap() error { return e.Err }

func stalled(reason string, err error) error { return &StalledError{Reason: reason, Err: err} }

func waiting(reason string, err error) error { return &WaitingError{Reason: reason, Err: err} }

func waitingf(format string, args ...any) error {
	return &WaitingError{Reason: fmt.Sprintf(format, args...)}
}

// IsStalled reports whether err needs a human.
func IsStalled(err error) bool {
	var s *StalledError
	return errors.As(err, &s)
}
