package reconciler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/rolecd/rolecd/store"
)

// maxPayload is GitHub's cap on a webhook payload (25 MB).
const maxPayload = 25 << 20

// webhook is POST /webhooks/github: verify the signature (go-github's
// ValidateSignature over the raw body, JSON or form-encoded), record the
// delivery, answer 202, and let the worker do the work. A signed delivery
// of another repository (or installation) is answered 202 and ignored.
func (r *Reconciler) webhook(w http.ResponseWriter, req *http.Request) {
	event := github.WebHookType(req)
	id := github.DeliveryID(req)
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
	if !r.verify(body, req.Header.Get(github.SHA256SignatureHeader)) {
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
	payload, err := jsonPayload(req.Header.Get("Content-Type"), body, req.Header.Get(github.SHA256SignatureHeader), r.opts.WebhookSecret)
	if err != nil {
		r.metrics.deliveries.WithLabelValues(label, "invalid").Inc()
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if event == "ping" {
		r.metrics.deliveries.WithLabelValues(label, "ignored").Inc()
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "pong\n")
		return
	}
	t, relevant, err := r.taskFor(event, id, payload)
	var foreign *foreignError
	switch {
	case errors.As(err, &foreign):
		r.metrics.deliveries.WithLabelValues(label, "foreign").Inc()
		r.log.Warn().Str("delivery", id).Str("event", event).Str("reason", foreign.Error()).Msg("webhook ignored: not the configured repository")
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
		ID: id, Event: event, Payload: payload, ReceivedAt: time.Now(),
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

// verify checks X-Hub-Signature-256 ("sha256=<hex HMAC-SHA256 of the raw
// body>") with go-github's ValidateSignature (constant time). Without a
// secret nothing verifies, and only SHA-256 signatures are accepted.
func (r *Reconciler) verify(body []byte, header string) bool {
	if len(r.opts.WebhookSecret) == 0 || !strings.HasPrefix(header, "sha256=") {
		return false
	}
	return github.ValidateSignature(header, body, r.opts.WebhookSecret) == nil
}

// jsonPayload returns the JSON document of a verified delivery: the body
// itself (application/json, also assumed when no Content-Type is sent) or
// its payload form field (application/x-www-form-urlencoded).
func jsonPayload(contentType string, body []byte, signature string, secret []byte) ([]byte, error) {
	mediaType := "application/json"
	if contentType != "" {
		mt, _, err := mime.ParseMediaType(contentType)
		if err != nil {
			return nil, fmt.Errorf("content type %q: %w", contentType, err)
		}
		mediaType = mt
	}
	payload, err := github.ValidatePayloadFromBody(mediaType, bytes.NewReader(body), signature, secret)
	if err != nil {
		return nil, fmt.Errorf("reading the delivery: %w", err)
	}
	if !json.Valid(payload) {
		return nil, errors.New("decoding the delivery: the payload is not a JSON document")
	}
	return payload, nil
}

// foreignError is a delivery about another repository or installation.
type foreignError struct{ got, want string }

func (e *foreignError) Error() string {
	return fmt.Sprintf("delivery for %s, configured %s", e.got, e.want)
}

// checkOrigin refuses a delivery whose repository (and installation, when
// both the delivery and the configuration name one) is not the configured
// one. GitHub repository names compare case-insensitively.
func (r *Reconciler) checkOrigin(fullName string, inst *github.Installation) error {
	if fullName == "" {
		fullName = "no repository"
	}
	if !strings.EqualFold(fullName, r.opts.Repository) {
		return &foreignError{got: "repository " + fullName, want: r.opts.Repository}
	}
	if r.opts.InstallationID != 0 && inst != nil && inst.GetID() != r.opts.InstallationID {
		return &foreignError{got: fmt.Sprintf("installation %d", inst.GetID()), want: fmt.Sprintf("installation %d", r.opts.InstallationID)}
	}
	return nil
}

// taskFor turns a delivery into a task; relevant is false for deliveries
// the daemon has nothing to do with (another branch, a comment that is not
// a command, an action it does not handle). A delivery of another
// repository is a *foreignError.
func (r *Reconciler) taskFor(event, id string, payload []byte) (t task, relevant bool, err error) {
	if !knownEvents[event] || event == "ping" {
		return task{}, false, nil
	}
	parsed, err := github.ParseWebHook(event, payload)
	if err != nil {
		return task{}, false, fmt.Errorf("decoding %s payload: %w", event, err)
	}
	switch e := parsed.(type) {
	case *github.PullRequestEvent:
		if err := r.checkOrigin(e.GetRepo().GetFullName(), e.GetInstallation()); err != nil {
			return task{}, false, err
		}
		n := e.GetNumber()
		if n == 0 {
			n = e.GetPullRequest().GetNumber()
		}
		switch e.GetAction() {
		case "opened", "synchronize", "reopened", "closed", "edited":
		default:
			return task{}, false, nil
		}
		if n <= 0 {
			return task{}, false, errors.New("pull_request payload without a number")
		}
		t = prTask(n)
	case *github.PushEvent:
		if err := r.checkOrigin(e.GetRepo().GetFullName(), e.GetInstallation()); err != nil {
			return task{}, false, err
		}
		if e.GetRef() != "refs/heads/"+r.opts.Branch {
			return task{}, false, nil
		}
		t = branchTask()
		t.force = true // fetch first: the push is news
	case *github.IssueCommentEvent:
		if err := r.checkOrigin(e.GetRepo().GetFullName(), e.GetInstallation()); err != nil {
			return task{}, false, err
		}
		user := e.GetComment().GetUser()
		if e.GetAction() != "created" || !e.GetIssue().IsPullRequest() || user.GetType() == "Bot" {
			return task{}, false, nil
		}
		verb, arg, ok := parseCommand(e.GetComment().GetBody())
		if !ok {
			return task{}, false, nil
		}
		n := e.GetIssue().GetNumber()
		if n <= 0 {
			return task{}, false, errors.New("issue_comment payload without an issue number")
		}
		t = task{key: "command/" + id, kind: taskCommand, pr: n,
			cmd: &command{pr: n, user: user.GetLogin(), verb: verb, arg: arg, id: id}}
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
