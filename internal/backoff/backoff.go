// Package backoff holds the one retry schedule rolecd's retry loops share:
// exponential delays from a base up to a cap, optionally jittered, and a
// context-aware sleep. It is pure apart from Sleep's timer.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Exponential is a doubling schedule: Base after the first failed attempt,
// twice that after the second, and so on, never more than Cap.
type Exponential struct {
	// Base is the delay after attempt 1 (and after attempt 0 or less).
	Base time.Duration
	// Cap bounds every delay.
	Cap time.Duration
	// Jitter, when set, draws each delay uniformly from the upper half of
	// the schedule's value, so that many clients do not retry in step.
	Jitter bool
}

// Delay is the wait after failed attempt number attempt (1, 2, ...). It
// never overflows, however large attempt is.
func (e Exponential) Delay(attempt int) time.Duration {
	d := e.Base
	for i := 1; i < attempt && d < e.Cap; i++ {
		d *= 2
	}
	d = min(d, e.Cap)
	if e.Jitter && d > 0 {
		d = d/2 + rand.N(d/2+1)
	}
	return d
}

// Sleep waits d or until ctx ends, whichever comes first, and returns
// ctx.Err() when ctx ended. A d of zero or less does not wait.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
