package reconciler

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rolecd/rolecd/store"
)

// ErrLeaseLost is why a task's context is cancelled when the lease could
// not be renewed while it ran (context.Cause).
var ErrLeaseLost = errors.New("the lease could not be renewed")

// lead takes or renews the lease and reports whether this daemon holds it.
func (r *Reconciler) lead(ctx context.Context) bool {
	l, ok, err := r.opts.Store.TryLease(ctx, LeaseName, r.opts.Holder, r.opts.LeaseTTL)
	if err != nil {
		if ctx.Err() == nil {
			r.log.Warn().Err(err).Msg("lease: store unreachable; not working until it answers")
		}
		ok = false
	}
	r.setLeader(ok, l)
	return ok
}

func (r *Reconciler) setLeader(ok bool, l store.Lease) {
	r.mu.Lock()
	changed := r.leader != ok || r.lease.Generation != l.Generation
	r.leader = ok
	r.lease = l
	r.mu.Unlock()
	if ok {
		r.metrics.leader.Set(1)
	} else {
		r.metrics.leader.Set(0)
	}
	if changed {
		r.log.Info().Bool("leader", ok).Str("holder", r.opts.Holder).Int64("generation", l.Generation).Msg("lease")
	}
}

// isLeader reports whether this daemon took the lease last time it tried.
func (r *Reconciler) isLeader() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.leader
}

// fence is the condition of every write of pull-request state and
// reports: the lease still at the generation this daemon took it at.
func (r *Reconciler) fence() store.Fence {
	r.mu.Lock()
	defer r.mu.Unlock()
	return store.Fence{Lease: LeaseName, Generation: r.lease.Generation}
}

// holdLease renews the lease every LeaseTTL/3 while work runs under the
// returned context. The context is cancelled (cause ErrLeaseLost) when a
// renewal finds the lease held by another or taken anew (a new
// generation: the old tenure lapsed), or when renewals failed for so long
// that the lease may have lapsed (2/3 of the TTL since the last renewal
// began). done stops renewing and returns why the lease was lost, or nil.
func (r *Reconciler) holdLease(ctx context.Context) (work context.Context, done func() error) {
	work, cancel := context.WithCancelCause(ctx)
	gen := r.fence().Generation
	stop := make(chan struct{})
	finished := make(chan error, 1)
	go func() {
		finished <- r.renewWhile(work, gen, stop, cancel)
	}()
	return work, func() error {
		close(stop)
		lost := <-finished
		cancel(nil)
		return lost
	}
}

// renewWhile is holdLease's renewal loop; it returns why the lease was
// lost (nil when stopped while held).
func (r *Reconciler) renewWhile(ctx context.Context, gen int64, stop <-chan struct{}, cancel context.CancelCauseFunc) error {
	ttl := r.opts.LeaseTTL
	tick := time.NewTicker(r.renewEvery())
	defer tick.Stop()
	lastOK := time.Now()
	for {
		select {
		case <-stop:
			return nil
		case <-ctx.Done():
			return nil // shutting down, or the task is over
		case <-tick.C:
		}
		began := time.Now()
		l, ok, err := r.opts.Store.TryLease(ctx, LeaseName, r.opts.Holder, ttl)
		var lost error
		switch {
		case err != nil && ctx.Err() != nil:
			return nil
		case err != nil:
			r.log.Warn().Err(err).Msg("lease: renewal failed")
			if time.Since(lastOK) >= ttl*2/3 {
				lost = fmt.Errorf("%w: the store did not answer for %s: %v", ErrLeaseLost, time.Since(lastOK).Round(time.Millisecond), err)
			}
		case !ok:
			lost = fmt.Errorf("%w: another daemon holds it", ErrLeaseLost)
		case l.Generation != gen:
			lost = fmt.Errorf("%w: it lapsed and was taken anew (generation %d, working under %d)", ErrLeaseLost, l.Generation, gen)
		default:
			lastOK = began
			r.metrics.leader.Set(1)
		}
		if lost != nil {
			r.log.Error().Err(lost).Msg("lease lost: cancelling the running work")
			cancel(lost)
			return lost
		}
	}
}

// renewEvery is how often the lease is renewed: a third of its TTL.
func (r *Reconciler) renewEvery() time.Duration {
	return max(r.opts.LeaseTTL/3, time.Millisecond)
}

// release gives the lease up, so another daemon can take over at once.
func (r *Reconciler) release() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.opts.Store.ReleaseLease(ctx, LeaseName, r.opts.Holder); err != nil {
		r.log.Warn().Err(err).Msg("releasing the lease (it expires by itself)")
	}
	r.setLeader(false, store.Lease{})
}
