// Package reconciler is rolecd's GitOps daemon: it turns every pull request
// of the watched repository into a reviewed plan (one comment, one commit
// status), applies a merge only when every role's checksum equals what was
// reviewed (otherwise it waits for an authorised `/rolecd apply <digest>`),
// reports direct pushes and scheduled drift, and keeps everything it must
// not forget (deliveries, pull-request state, unsent reports, drift) in
// the store, so a restart loses nothing and applies nothing twice.
//
// Work arrives as tasks on a queue keyed for coalescing (a burst of pushes
// to one pull request plans its latest head once): from GitHub webhooks
// (recorded in the store before they are acknowledged), from polling (git
// fetch and the list of open pull requests), from the drift schedule, and
// from comment commands. One worker runs the tasks, as the holder of a
// lease in the store, so several daemons can share one store with one
// active; the lease is renewed while a task runs (the task is cancelled
// when that fails), and the store refuses writes of pull-request state and
// reports made under a lease generation that was taken over (fencing). Each task is a sequence of steps (fetch, validate, plan, report,
// apply, report); a failure is either stalled (needs a human: reported,
// not retried) or waiting (retried later, not reported as a failure).
package reconciler

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/robfig/cron/v3"
	"github.com/rs/zerolog"

	"github.com/rolecd/rolecd/internal/backoff"
	"github.com/rolecd/rolecd/internal/forge"
	"github.com/rolecd/rolecd/planner/spec"
	"github.com/rolecd/rolecd/store"
)

// LeaseName is the store lease the active daemon holds.
const LeaseName = "reconciler"

// Defaults of Options.
const (
	DefaultLeaseTTL = 30 * time.Second
	// DefaultTaskDeadline is Options.TaskDeadline's default.
	DefaultTaskDeadline = 15 * time.Minute
	DefaultActor        = "daemon"
)

// Options configures a Reconciler.
type Options struct {
	Source  Source
	Forge   Forge
	Store   Store
	Planner Planner
	Applier Applier

	// Branch is the watched branch (default "main"); Path the role-file
	// directory in the repository, for messages ("" = the root).
	Branch string
	Path   string
	// RolePrefix names roles (default spec.DefaultPrefix).
	RolePrefix string
	// Credentials allow-lists the admin password sources of the role
	// files (rolecd.yaml credentials:); nil checks nothing.
	Credentials *spec.CredentialPolicy
	// Limits bound the role files of each commit (zero fields: spec's
	// defaults); a tree over them is reported as a problem naming the limit.
	Limits spec.Limits
	// ApplyPermission is the least repository permission that may comment
	// /rolecd apply (default "write").
	ApplyPermission string
	// ApplyUnreviewed applies direct pushes to the branch.
	ApplyUnreviewed bool
	// DriftRemediate applies what the drift schedule finds.
	DriftRemediate bool
	// DriftSchedule is a robfig/cron spec ("@every 1h", "0 * * * *"); ""
	// runs no schedule (TriggerDrift still works).
	DriftSchedule string
	// PollInterval is how often Run polls; 0 never (TriggerPoll still works).
	PollInterval time.Duration
	// Webhooks reads and decodes webhook deliveries (reporter/github's
	// Webhooks, which holds the secret); nil refuses every delivery with
	// 401.
	Webhooks Webhooks
	// Repository is the watched repository as GitHub names it
	// ("owner/name"), required with Webhooks: a signed delivery of any
	// other repository is answered 202 and ignored.
	Repository string
	// InstallationID, when set, is the GitHub App installation whose
	// deliveries are accepted; a delivery naming another is ignored.
	InstallationID int64
	// Holder identifies this daemon for the lease (default host, pid and a
	// random suffix); LeaseTTL is how long a lease lasts unrenewed.
	Holder   string
	LeaseTTL time.Duration
	// Actor is recorded on the sessions the daemon creates (default "daemon").
	Actor string
	// TaskDeadline is how long one task (a pull request's plan, a merge's
	// apply, a drift check) may run before /readyz and the
	// rolecd_task_overdue_seconds metric report it (default
	// DefaultTaskDeadline). The task itself is bounded by the planner's and
	// applier's per-resource timeouts.
	TaskDeadline time.Duration
	// MaxCommentLen bounds one comment part (default: the renderer's, 65536).
	MaxCommentLen int
	// Transient tells forge errors worth a retry (GitHub: github.IsTransient)
	// from permanent ones; nil treats every forge error as transient.
	Transient func(error) bool
	// Now is the clock of the outbox's retry schedule (default time.Now).
	Now func() time.Time
	Log zerolog.Logger
	// OnSession is called with every session the daemon finished (e.g. the
	// SIEM export).
	OnSession func(ctx context.Context, sid string)
}

// Reconciler is the daemon. Create it with New; serve Handler over HTTP and
// run Run (or Once).
type Reconciler struct {
	opts    Options
	log     zerolog.Logger
	queue   *queue
	metrics *metrics

	mu       sync.Mutex
	deferred map[string]deferredTask // waiting tasks, retried later
	retryAt  time.Time               // earliest outbox retry ("" = none)
	leader   bool
	// lease is the lease as last taken between tasks: its generation
	// fences every write of pull-request state and reports.
	lease store.Lease
	// lastDrift is the head the last drift check planned, and whether it
	// remediated: Once skips a second check of the same head.
	lastDrift          string
	lastDriftRemediate bool
	// current is the task running now and when it started (zero: none).
	current      string
	currentSince time.Time
}

// overdue returns the running task and how long past its deadline it is,
// or "" when no task is past its deadline.
func (r *Reconciler) overdue() (string, time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.current == "" {
		return "", 0
	}
	late := time.Since(r.currentSince) - r.opts.TaskDeadline
	if late <= 0 {
		return "", 0
	}
	return r.current, late
}

// deferredTask is a task that hit a waiting error.
type deferredTask struct {
	t   task
	due time.Time
}

// New checks opts and returns a Reconciler.
func New(opts Options) (*Reconciler, error) {
	var errs []error
	if opts.Source == nil || opts.Forge == nil || opts.Store == nil || opts.Planner == nil || opts.Applier == nil {
		errs = append(errs, errors.New("source, forge, store, planner and applier are required"))
	}
	if opts.Branch == "" {
		opts.Branch = "main"
	}
	if opts.RolePrefix == "" {
		opts.RolePrefix = spec.DefaultPrefix
	}
	if opts.ApplyPermission == "" {
		opts.ApplyPermission = "write"
	}
	if forge.PermissionRank(forge.CanonicalPermission(opts.ApplyPermission)) <= 0 {
		errs = append(errs, fmt.Errorf("apply permission %q: want read, triage, write, maintain or admin", opts.ApplyPermission))
	}
	if opts.DriftSchedule != "" {
		if _, err := cron.ParseStandard(opts.DriftSchedule); err != nil {
			errs = append(errs, fmt.Errorf("drift schedule %q: %w", opts.DriftSchedule, err))
		}
	}
	if opts.Webhooks != nil && !strings.Contains(opts.Repository, "/") {
		errs = append(errs, fmt.Errorf("repository %q: want owner/name, to accept webhooks of that repository only", opts.Repository))
	}
	if opts.PollInterval < 0 {
		errs = append(errs, fmt.Errorf("poll interval %s is negative", opts.PollInterval))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("reconciler: %w", errors.Join(errs...))
	}
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = DefaultLeaseTTL
	}
	if opts.TaskDeadline <= 0 {
		opts.TaskDeadline = DefaultTaskDeadline
	}
	if opts.Holder == "" {
		host, _ := os.Hostname()
		opts.Holder = fmt.Sprintf("%s/%d/%s", host, os.Getpid(), uuid.NewString()[:8])
	}
	if opts.Actor == "" {
		opts.Actor = DefaultActor
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r := &Reconciler{
		opts:     opts,
		log:      opts.Log.With().Str("component", "reconciler").Logger(),
		queue:    newQueue(),
		deferred: map[string]deferredTask{},
	}
	r.metrics = newMetrics(func() float64 {
		_, late := r.overdue()
		return late.Seconds()
	})
	return r, nil
}

// TriggerPoll queues a poll: fetch, list open pull requests, pick up
// pending deliveries and retry waiting work. Run calls it every
// PollInterval.
func (r *Reconciler) TriggerPoll() { r.queue.add(pollTask()) }

// TriggerDrift queues a drift check of the branch head (remediating when
// DriftRemediate is set). The drift schedule calls it.
func (r *Reconciler) TriggerDrift() { r.queue.add(driftTask(r.opts.DriftRemediate)) }

// Run runs the daemon until ctx is cancelled: the drift schedule, polling,
// the lease, and the worker. It polls once at start, so pending deliveries
// and merges left by a previous run are picked up.
func (r *Reconciler) Run(ctx context.Context) error {
	if r.opts.DriftSchedule != "" {
		c := cron.New()
		if _, err := c.AddFunc(r.opts.DriftSchedule, r.TriggerDrift); err != nil {
			return fmt.Errorf("drift schedule: %w", err)
		}
		c.Start()
		defer c.Stop()
	}
	var pollC <-chan time.Time
	if r.opts.PollInterval > 0 {
		tick := time.NewTicker(r.opts.PollInterval)
		defer tick.Stop()
		pollC = tick.C
	}
	leaseTick := time.NewTicker(r.renewEvery())
	defer leaseTick.Stop()
	defer r.release()
	r.TriggerPoll()
	r.log.Info().Str("holder", r.opts.Holder).Str("branch", r.opts.Branch).Msg("daemon started")
	for {
		if r.lead(ctx) {
			r.drain(ctx)
		}
		retry := time.NewTimer(r.untilRetry())
		select {
		case <-ctx.Done():
			retry.Stop()
			r.log.Info().Msg("daemon stopping")
			return nil
		case <-r.queue.wake:
		case <-pollC:
			r.TriggerPoll()
		case <-leaseTick.C:
		case <-retry.C:
			r.requeueDue()
		}
		retry.Stop()
	}
}

// Once runs one pass and returns: fetch, pending deliveries, plan open pull
// requests, apply merges, a drift check, post reports. It fails when
// another daemon holds the lease, and returns the errors of work left
// waiting (a retry later will do it).
func (r *Reconciler) Once(ctx context.Context) error {
	l, ok, err := r.opts.Store.TryLease(ctx, LeaseName, r.opts.Holder, r.opts.LeaseTTL)
	if err != nil {
		return fmt.Errorf("taking the lease: %w", err)
	}
	if !ok {
		return errors.New("another rolecd daemon holds the lease on this store")
	}
	r.setLeader(true, l)
	defer r.release()
	r.TriggerPoll()
	errs := r.drain(ctx)
	head, _ := r.opts.Source.BranchHead()
	r.mu.Lock()
	checked := head != "" && r.lastDrift == head && (r.lastDriftRemediate || !r.opts.DriftRemediate)
	r.mu.Unlock()
	if !checked {
		r.TriggerDrift()
		errs = append(errs, r.drain(ctx)...)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if n := r.dueCount(ctx); n > 0 {
		errs = append(errs, fmt.Errorf("%d report(s) could not be posted yet; they are kept in the store", n))
	}
	return errors.Join(errs...)
}

// Drain runs every queued task and posts due reports, as the lease holder;
// it returns the waiting errors. Tests drive the daemon with it.
func (r *Reconciler) Drain(ctx context.Context) error {
	if !r.lead(ctx) {
		return errors.New("another rolecd daemon holds the lease on this store")
	}
	return errors.Join(r.drain(ctx)...)
}

// drain runs queued tasks until none is left, then flushes the outbox, as
// the lease holder: the lease is renewed while each task runs (holdLease)
// and between tasks; when it is lost the running task is cancelled, its
// writes are refused by the store (fenced by the lease generation), and
// draining stops.
func (r *Reconciler) drain(ctx context.Context) []error {
	var errs []error
	for ctx.Err() == nil && r.isLeader() {
		t, ok := r.queue.next()
		if !ok {
			break
		}
		taskCtx, done := r.holdLease(ctx)
		err := r.run(taskCtx, t)
		lost := done()
		if lost != nil || errors.Is(err, store.ErrFenced) {
			r.queue.add(t) // the next leader (maybe this daemon again) does it
			errs = append(errs, fmt.Errorf("lease lost while working: %w", errors.Join(lost, err)))
			r.setLeader(false, store.Lease{})
			return errs
		}
		if err != nil && !IsStalled(err) {
			errs = append(errs, err)
		}
		if r.queue.len() > 0 && !r.lead(ctx) {
			break
		}
	}
	if ctx.Err() == nil && r.isLeader() {
		flushCtx, done := r.holdLease(ctx)
		r.flush(flushCtx)
		if lost := done(); lost != nil {
			errs = append(errs, fmt.Errorf("lease lost while posting reports: %w", lost))
			r.setLeader(false, store.Lease{})
		}
	}
	return errs
}

// retryBackoff is how long a waiting task or a failed report waits before
// its attempt-th retry: 10s doubling up to 10 minutes.
func retryBackoff(attempt int) time.Duration {
	return retrySchedule.Delay(attempt)
}

// retrySchedule is retryBackoff's schedule.
var retrySchedule = backoff.Exponential{Base: 10 * time.Second, Cap: 10 * time.Minute}

// deferTask keeps a waiting task for a later retry.
func (r *Reconciler) deferTask(t task, attempt int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.deferred[t.key] = deferredTask{t: t, due: r.opts.Now().Add(retryBackoff(attempt))}
}

// requeueDue queues the deferred tasks that are due.
func (r *Reconciler) requeueDue() {
	now := r.opts.Now()
	r.mu.Lock()
	var due []task
	for k, d := range r.deferred {
		if !d.due.After(now) {
			due = append(due, d.t)
			delete(r.deferred, k)
		}
	}
	r.mu.Unlock()
	for _, t := range due {
		r.queue.add(t)
	}
}

// requeueAll queues every deferred task (a poll retries everything).
func (r *Reconciler) requeueAll() {
	r.mu.Lock()
	var all []task
	for k, d := range r.deferred {
		all = append(all, d.t)
		delete(r.deferred, k)
	}
	r.mu.Unlock()
	for _, t := range all {
		r.queue.add(t)
	}
}

// untilRetry is how long until the next deferred task or outbox retry is
// due (an hour when nothing is).
func (r *Reconciler) untilRetry() time.Duration {
	now := r.opts.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	var next time.Time
	if r.retryAt.After(now) {
		next = r.retryAt
	}
	for _, d := range r.deferred {
		if next.IsZero() || d.due.Before(next) {
			next = d.due
		}
	}
	if next.IsZero() {
		return time.Hour
	}
	return max(next.Sub(now), 10*time.Millisecond)
}
