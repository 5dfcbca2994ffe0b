package reconciler

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/rolecd/rolecd/store"
)

// Reports to the forge go through the outbox in the store: a report is
// enqueued under a key (the latest payload wins), posted by flush, and
// kept with a retry schedule until the forge took it, across restarts.

// Outbox report kinds.
const (
	kindUpsertComment = "upsert_comment"
	kindComment       = "comment"
	kindStatus        = "status"
	kindUpsertIssue   = "upsert_issue"
	kindCloseIssue    = "close_issue"
)

// maxPermanentAttempts is how often a report the forge rejects for good
// (4xx other than rate limits) is tried before it is dropped.
const maxPermanentAttempts = 5

// outgoing is the payload of an outbox report.
type outgoing struct {
	PR          int      `json:"pr,omitempty"`
	Key         string   `json:"key,omitempty"` // comment or issue key
	Parts       []string `json:"parts,omitempty"`
	Body        string   `json:"body,omitempty"`
	SHA         string   `json:"sha,omitempty"`
	Context     string   `json:"context,omitempty"`
	State       string   `json:"state,omitempty"`
	Description string   `json:"description,omitempty"`
	Title       string   `json:"title,omitempty"`
}

// enqueue adds a report to the outbox.
func (r *Reconciler) enqueue(ctx context.Context, key, kind string, o outgoing) error {
	payload, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("encoding report %s: %w", key, err)
	}
	rep := &store.OutboxReport{Key: key, Kind: kind, Payload: payload, NextAttempt: r.opts.Now()}
	if err := r.opts.Store.EnqueueReport(ctx, rep, r.fence()); err != nil {
		return waiting("queueing a report", err)
	}
	return nil
}

// upsertComment queues the comment series key of pull request pr.
func (r *Reconciler) upsertComment(ctx context.Context, pr int, key string, parts []string) error {
	return r.enqueue(ctx, "comment/"+strconv.Itoa(pr)+"/"+key, kindUpsertComment, outgoing{PR: pr, Key: key, Parts: parts})
}

// comment queues a new comment on pull request pr, posted once per key.
func (r *Reconciler) comment(ctx context.Context, pr int, key, body string) error {
	return r.enqueue(ctx, "comment/"+strconv.Itoa(pr)+"/"+key, kindComment, outgoing{PR: pr, Body: body})
}

// setStatus queues commit status statusContext of sha.
func (r *Reconciler) setStatus(ctx context.Context, sha, statusContext, state, description string) error {
	return r.enqueue(ctx, "status/"+sha+"/"+statusContext, kindStatus,
		outgoing{SHA: sha, Context: statusContext, State: state, Description: description})
}

// upsertIssue queues the open issue of key; closeIssue its closing. Both
// share one outbox key: whichever came last is what gets posted.
func (r *Reconciler) upsertIssue(ctx context.Context, key, title, body string) error {
	return r.enqueue(ctx, "issue/"+key, kindUpsertIssue, outgoing{Key: key, Title: title, Body: body})
}

func (r *Reconciler) closeIssue(ctx context.Context, key, comment string) error {
	return r.enqueue(ctx, "issue/"+key, kindCloseIssue, outgoing{Key: key, Body: comment})
}

// flush posts the due reports in order. It stops at the first transient
// failure (the forge is down or rate-limited: the rest waits), and
// schedules that report's retry with a backoff.
func (r *Reconciler) flush(ctx context.Context) {
	now := r.opts.Now()
	due, err := r.opts.Store.DueReports(ctx, now, 0)
	if err != nil {
		r.log.Warn().Err(err).Msg("reading the outbox")
		return
	}
	for i, rep := range due {
		err := r.send(ctx, rep)
		if err == nil {
			if _, err := r.opts.Store.ReportDone(ctx, rep.Key, rep.Seq, r.opts.Now()); err != nil {
				r.log.Error().Err(err).Str("report", rep.Key).Msg("marking a report posted")
			}
			continue
		}
		if ctx.Err() != nil {
			return
		}
		r.metrics.forgeErrs.WithLabelValues(rep.Kind).Inc()
		attempt := rep.Attempts + 1
		transient := r.opts.Transient == nil || r.opts.Transient(err)
		log := r.log.Warn().Err(err).Str("report", rep.Key).Int("attempt", attempt)
		if !transient && attempt >= maxPermanentAttempts {
			r.log.Error().Err(err).Str("report", rep.Key).Int("attempt", attempt).Msg("report rejected by the forge: dropped")
			if _, err := r.opts.Store.ReportDone(ctx, rep.Key, rep.Seq, r.opts.Now()); err != nil {
				r.log.Error().Err(err).Str("report", rep.Key).Msg("dropping a report")
			}
			continue
		}
		next := r.opts.Now().Add(retryBackoff(attempt))
		if err := r.opts.Store.ReportFailed(ctx, rep.Key, rep.Seq, next, err.Error()); err != nil {
			r.log.Error().Err(err).Str("report", rep.Key).Msg("recording a failed report")
		}
		r.mu.Lock()
		if !r.retryAt.After(now) || next.Before(r.retryAt) {
			r.retryAt = next
		}
		r.mu.Unlock()
		if transient {
			log.Time("retry_at", next).Msg("posting a report failed: kept for a retry")
			r.metrics.outbox.Set(float64(len(due) - i))
			return
		}
		log.Time("retry_at", next).Msg("the forge rejected a report: retrying")
	}
	r.metrics.outbox.Set(0)
}

// dueCount is how many reports are not posted yet, due or scheduled.
func (r *Reconciler) dueCount(ctx context.Context) int {
	due, err := r.opts.Store.DueReports(ctx, r.opts.Now().Add(24*365*time.Hour), 0)
	if err != nil {
		return 0
	}
	return len(due)
}

// send posts one report.
func (r *Reconciler) send(ctx context.Context, rep store.OutboxReport) error {
	var o outgoing
	if err := json.Unmarshal(rep.Payload, &o); err != nil {
		return fmt.Errorf("decoding report %s: %w", rep.Key, err)
	}
	f := r.opts.Forge
	switch rep.Kind {
	case kindUpsertComment:
		return f.UpsertComment(ctx, o.PR, o.Key, o.Parts)
	case kindComment:
		return f.Comment(ctx, o.PR, o.Body)
	case kindStatus:
		return f.SetStatus(ctx, o.SHA, o.Context, o.State, o.Description, "")
	case kindUpsertIssue:
		_, err := f.UpsertIssue(ctx, o.Key, o.Title, o.Body)
		return err
	case kindCloseIssue:
		return f.CloseIssue(ctx, o.Key, o.Body)
	}
	return fmt.Errorf("report %s: unknown kind %q", rep.Key, rep.Kind)
}
