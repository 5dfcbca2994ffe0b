package reconciler

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/rolecd/rolecd/store"
)

// maxPayload is GitHub's cap on a webhook payload (25 MB).
const maxPayload = 25 << 20

// Webhook payloads, reduced to what the daemon reads.
type (
	prEvent struct {
		Action      string `json:"action"`
		Number      int    `json:"number"`
		PullRequest struct {
			Number int `json:"number"`
			Base   struct {
				Ref string `json:"ref"`
			} `json:"base"`
		} `json:"pull_request"`
	}
	pushEvent struct {
		Ref   string `json:"ref"`
		After string `json:"after"`
	}
	commentEvent struct {
		Action string `json:"action"`
		Issue  struct {
			Number      int              `json:"number"`
			PullRequest *json.RawMessage `json:"pull_request"`
		} `json:"issue"`
		Comment struct {
			Body string `json:"body"`
			User struct {
				Login string `json:"login"`
				Type  string `json:"type"`
			} `json:"user"`
		} `json:"comment"`
	}
)

// webhook is POST /webhooks/github: verify the signature, record the
// delivery, answer 202, and let the worker do the work.
func (r *Reconciler) webhook(w http.ResponseWriter, req *http.Request) {
	event := req.Header.Get("X-GitHub-Event")
	id := req.Header.Get("X-GitHub-Delivery")
	label := event
	if !knownEvents[label] {
		label = "other"
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, maxPayload+1))
	if err != nil {
		r.metrics.deliveries.WithLabelValues(label, "invalid").Inc()
		http.Error(w, "reading the body failed", http.StatusBadRequest)
		return
	}
	if len(body) > maxPayload {
		r.metrics.deliveries.WithLabelValues(label, "invalid").Inc()
		http.Error(w, "payload too large", http.StatusRequestEntityTooLarge)
		return
	}
	if !r.verify(body, req.Header.Get("X-Hub-Signature-256")) {
		r.metrics.deliveries.WithLabelValues(label, "unauthorized").Inc()
		r.log.Warn().Str("delivery", id).Str("event", event).Str("remote", req.RemoteAddr).Msg("webhook refused: missing or wrong X-Hub-Signature-256")
		http.Error(w, "missing or wrong X-Hub-Signature-256", http.StatusUnauthorized)
		return
	}
	if event == "" || id == "" {
		r.metrics.deliveries.WithLabelValues(label, "invalid").Inc()
		http.Error(w, "X-GitHub-Event and X-GitHub-Delivery are required", http.StatusBadRequest)
		return
	}
	if event == "ping" {
		r.metrics.deliveries.WithLabelValues(label, "ignored").Inc()
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "pong\n")
		return
	}
	t, relevant, err := r.taskFor(event, id, body)
	switch {
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
		ID: id, Event: event, Payload: body, ReceivedAt: time.Now(),
	})
	if err != nil {
		// Not recorded: GitHub shows the failure and the delivery can be
		// redelivered; polling catches up meanwhile.
		r.metrics.deliveries.WithLabelValues(label, "error").Inc()
		r.log.Error().Err(err).Str("delivery", id).Msg("recording a webhook delivery")
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
	r.log.Info().Str("delivery", id).Str("event", event).Int("pr", t.pr).Msg("webhook accepted")
	r.queue.add(t)
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, "accepted\n")
}

var knownEvents = map[string]bool{"pull_request": true, "push": true, "issue_comment": true, "ping": true}

// verify checks X-Hub-Signature-256 ("sha256=<hex HMAC-SHA256 of body>")
// in constant time. Without a secret nothing verifies.
func (r *Reconciler) verify(body []byte, header string) bool {
	if len(r.opts.WebhookSecret) == 0 {
		return false
	}
	hexSum, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(hexSum)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, r.opts.WebhookSecret)
	m.Write(body)
	return hmac.Equal(got, m.Sum(nil))
}

// taskFor turns a delivery into a task; relevant is false for deliveries
// the daemon has nothing to do with (another branch, a comment that is not
// a command, an action it does not handle).
func (r *Reconciler) taskFor(event, id string, body []byte) (t task, relevant bool, err error) {
	switch event {
	case "pull_request":
		var e prEvent
		if err := json.Unmarshal(body, &e); err != nil {
			return task{}, false, fmt.Errorf("decoding pull_request payload: %w", err)
		}
		n := e.Number
		if n == 0 {
			n = e.PullRequest.Number
		}
		switch e.Action {
		case "opened", "synchronize", "reopened", "closed", "edited":
		default:
			return task{}, false, nil
		}
		if n <= 0 {
			return task{}, false, errors.New("pull_request payload without a number")
		}
		t = prTask(n)
	case "push":
		var e pushEvent
		if err := json.Unmarshal(body, &e); err != nil {
			return task{}, false, fmt.Errorf("decoding push payload: %w", err)
		}
		if e.Ref != "refs/heads/"+r.opts.Branch {
			return task{}, false, nil
		}
		t = branchTask()
		t.force = true // fetch first: the push is news
	case "issue_comment":
		var e commentEvent
		if err := json.Unmarshal(body, &e); err != nil {
			return task{}, false, fmt.Errorf("decoding issue_comment payload: %w", err)
		}
		if e.Action != "created" || e.Issue.PullRequest == nil || e.Comment.User.Type == "Bot" {
			return task{}, false, nil
		}
		verb, arg, ok := parseCommand(e.Comment.Body)
		if !ok {
			return task{}, false, nil
		}
		t = task{key: "command/" + id, kind: taskCommand, pr: e.Issue.Number,
			cmd: &command{pr: e.Issue.Number, user: e.Comment.User.Login, verb: verb, arg: arg, id: id}}
	default:
		return task{}, false, nil
	}
	t.deliveries = []string{id}
	return t, true, nil
}

// enqueueDelivery queues the task of a recorded delivery (at start, or one
// another daemon recorded); one that turns out irrelevant is marked
// processed.
func (r *Reconciler) enqueueDelivery(ctx context.Context, d store.Delivery) {
	t, relevant, err := r.taskFor(d.Event, d.ID, d.Payload)
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
