package reconciler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/rolecd/rolecd/internal/forge"
	"github.com/rolecd/rolecd/store"
)

// webhook is POST /webhooks/github: read the delivery (Options.Webhooks
// verifies its signature), record it, answer 202, and let the worker do
// the work. A signed delivery of another repository (or installation) is
// answered 202 and ignored.
func (r *Reconciler) webhook(w http.ResponseWriter, req *http.Request) {
	d, err := r.readDelivery(req)
	label := string(d.Kind)
	if err != nil {
		r.refuse(w, req, d, label, err)
		return
	}
	if d.Kind == forge.KindPing {
		r.metrics.deliveries.WithLabelValues(label, "ignored").Inc()
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "pong\n")
		return
	}
	t, relevant, err := r.taskFor(d)
	var foreign *foreignError
	switch {
	case errors.As(err, &foreign):
		r.metrics.deliveries.WithLabelValues(label, "foreign").Inc()
		r.log.Warn().Str("delivery", d.ID).Str("event", d.Event).Str("reason", foreign.Error()).Msg("webhook ignored: not the configured repository")
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, "ignored: not the configured repository\n")
		return
	case err != nil:
		r.metrics.deliveries.WithLabelValues(label, "invalid").Inc()
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	case !relevant:
		r.metrics.deliveries.WithLabelValues(label, "ignored").Inc()
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, "ignored\n")
		return
	}
	inserted, err := r.opts.Store.RecordDelivery(req.Context(), store.Delivery{
		ID: d.ID, Event: d.Event, Payload: d.Payload, ReceivedAt: time.Now(),
	})
	if err != nil {
		// Not recorded: GitHub shows the failure and the delivery can be
		// redelivered; polling catches up meanwhile.
		r.metrics.deliveries.WithLabelValues(label, "error").Inc()
		r.log.Error().Err(err).Str("delivery", d.ID).Msg("recording a webhook delivery")
		http.Error(w, "cannot record the delivery now", http.StatusServiceUnavailable)
		return
	}
	if !inserted {
		r.metrics.deliveries.WithLabelValues(label, "duplicate").Inc()
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, "duplicate\n")
		return
	}
	r.metrics.deliveries.WithLabelValues(label, "accepted").Inc()
	r.log.Info().Str("delivery", d.ID).Str("event", d.Event).Int("pr", t.pr).Msg("webhook accepted")
	r.queue.add(t)
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, "accepted\n")
}

// errNoWebhooks refuses every delivery when no Webhooks is configured.
var errNoWebhooks = &forge.DeliveryError{Reason: forge.Unauthorized, Err: errors.New("webhooks are not configured")}

// readDelivery reads the delivery of req with Options.Webhooks.
func (r *Reconciler) readDelivery(req *http.Request) (forge.Delivery, error) {
	if r.opts.Webhooks == nil {
		return forge.Delivery{Kind: forge.KindOther}, errNoWebhooks
	}
	return r.opts.Webhooks.Read(req)
}

// refuse answers a delivery that could not be read: 401 for a missing or
// wrong signature, 413 for a payload over the limit, 400 otherwise.
func (r *Reconciler) refuse(w http.ResponseWriter, req *http.Request, d forge.Delivery, label string, err error) {
	switch forge.Refused(err) {
	case forge.Unauthorized:
		r.metrics.deliveries.WithLabelValues(label, "unauthorized").Inc()
		r.log.Warn().Str("delivery", d.ID).Str("event", d.Event).Str("remote", req.RemoteAddr).Msg("webhook refused: " + err.Error())
		http.Error(w, err.Error(), http.StatusUnauthorized)
	case forge.TooLarge:
		r.metrics.deliveries.WithLabelValues(label, "invalid").Inc()
		http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
	default:
		r.metrics.deliveries.WithLabelValues(label, "invalid").Inc()
		http.Error(w, err.Error(), http.StatusBadRequest)
	}
}

// foreignError is a delivery about another repository or installation.
type foreignError struct{ got, want string }

func (e *foreignError) Error() string {
	return fmt.Sprintf("delivery for %s, configured %s", e.got, e.want)
}

// checkOrigin refuses an event whose repository (and installation, when
// both the event and the configuration name one) is not the configured
// one. GitHub repository names compare case-insensitively.
func (r *Reconciler) checkOrigin(ev forge.Event) error {
	fullName := ev.Repository
	if fullName == "" {
		fullName = "no repository"
	}
	if !strings.EqualFold(fullName, r.opts.Repository) {
		return &foreignError{got: "repository " + fullName, want: r.opts.Repository}
	}
	if r.opts.InstallationID != 0 && ev.Installation != nil && *ev.Installation != r.opts.InstallationID {
		return &foreignError{got: fmt.Sprintf("installation %d", *ev.Installation), want: fmt.Sprintf("installation %d", r.opts.InstallationID)}
	}
	return nil
}

// prActions are the pull-request actions the daemon plans (or, closed,
// applies) on.
var prActions = map[string]bool{"opened": true, "synchronize": true, "reopened": true, "closed": true, "edited": true}

// taskFor turns a delivery into a task; relevant is false for deliveries
// the daemon has nothing to do with (another branch, a comment that is not
// a command, an action it does not handle). A delivery of another
// repository is a *foreignError.
func (r *Reconciler) taskFor(d forge.Delivery) (t task, relevant bool, err error) {
	if r.opts.Webhooks == nil {
		return task{}, false, errNoWebhooks
	}
	ev, err := r.opts.Webhooks.Parse(d)
	if err != nil {
		return task{}, false, err
	}
	switch ev.Kind {
	case forge.KindPullRequest, forge.KindPush, forge.KindComment:
		if err := r.checkOrigin(ev); err != nil {
			return task{}, false, err
		}
	default:
		return task{}, false, nil
	}
	switch ev.Kind {
	case forge.KindPullRequest:
		if !prActions[ev.Action] {
			return task{}, false, nil
		}
		if ev.Number <= 0 {
			return task{}, false, errors.New("pull_request payload without a number")
		}
		t = prTask(ev.Number)
	case forge.KindPush:
		if ev.Ref != "refs/heads/"+r.opts.Branch {
			return task{}, false, nil
		}
		t = branchTask()
		t.force = true // fetch first: the push is news
	case forge.KindComment:
		c := ev.Comment
		if ev.Action != "created" || !c.OnPR || c.Bot {
			return task{}, false, nil
		}
		verb, arg, ok := parseCommand(c.Body)
		if !ok {
			return task{}, false, nil
		}
		if ev.Number <= 0 {
			return task{}, false, errors.New("issue_comment payload without an issue number")
		}
		t = task{key: "command/" + d.ID, kind: taskCommand, pr: ev.Number,
			cmd: &command{pr: ev.Number, user: c.User, verb: verb, arg: arg, id: d.ID}}
	}
	t.deliveries = []string{d.ID}
	return t, true, nil
}

// enqueueDelivery queues the task of a recorded delivery (at start, or one
// another daemon recorded); one that turns out irrelevant is marked
// processed.
func (r *Reconciler) enqueueDelivery(ctx context.Context, d store.Delivery) {
	t, relevant, err := r.taskFor(forge.Delivery{ID: d.ID, Event: d.Event, Payload: d.Payload})
	if err != nil || !relevant {
		msg := "ignored"
		if err != nil {
			msg = err.Error()
		}
		if ferr := r.opts.Store.FinishDelivery(ctx, d.ID, msg, time.Time{}); ferr != nil {
			r.log.Error().Err(ferr).Str("delivery", d.ID).Msg("marking a delivery processed")
		}
		return
	}
	r.queue.add(t)
}
