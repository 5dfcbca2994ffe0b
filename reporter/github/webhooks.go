package github

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	gh "github.com/google/go-github/v60/github"

	"github.com/rolecd/rolecd/internal/forge"
)

// MaxPayload is GitHub's cap on a webhook payload (25 MB).
const MaxPayload = 25 << 20

// Webhooks reads GitHub's webhook deliveries (POST /webhooks/github): the
// headers X-GitHub-Event and X-GitHub-Delivery, the signature
// X-Hub-Signature-256 over the raw body, and the JSON or form-encoded
// payload. The zero value (no Secret) refuses every delivery.
type Webhooks struct {
	// Secret is the webhook's secret, which signs every delivery.
	Secret []byte
}

// Read verifies and reads one delivery. A refused delivery is a
// *forge.DeliveryError whose message the sender may be told; the returned
// Delivery then still carries the ID, Event and Kind its headers name,
// for logs and metrics. The checks run in this order: body size (at most
// MaxPayload), signature, headers, payload.
func (w Webhooks) Read(req *http.Request) (forge.Delivery, error) {
	d := forge.Delivery{ID: gh.DeliveryID(req), Event: gh.WebHookType(req)}
	d.Kind = kindOf(d.Event)
	body, err := io.ReadAll(io.LimitReader(req.Body, MaxPayload+1))
	if err != nil {
		return d, refuse(forge.Invalid, "reading the body failed")
	}
	if len(body) > MaxPayload {
		return d, refuse(forge.TooLarge, "payload too large")
	}
	signature := req.Header.Get(gh.SHA256SignatureHeader)
	if !w.verify(body, signature) {
		return d, refuse(forge.Unauthorized, "missing or wrong X-Hub-Signature-256")
	}
	if d.Event == "" || d.ID == "" {
		return d, refuse(forge.Invalid, "X-GitHub-Event and X-GitHub-Delivery are required")
	}
	if d.Payload, err = w.payload(req.Header.Get("Content-Type"), body, signature); err != nil {
		return d, &forge.DeliveryError{Reason: forge.Invalid, Err: err}
	}
	return d, nil
}

func refuse(reason forge.Reason, msg string) error {
	return &forge.DeliveryError{Reason: reason, Err: errors.New(msg)}
}

// verify checks X-Hub-Signature-256 ("sha256=<hex HMAC-SHA256 of the raw
// body>") with go-github's ValidateSignature (constant time). Without a
// secret nothing verifies, and only SHA-256 signatures are accepted.
func (w Webhooks) verify(body []byte, header string) bool {
	if len(w.Secret) == 0 || !strings.HasPrefix(header, "sha256=") {
		return false
	}
	return gh.ValidateSignature(header, body, w.Secret) == nil
}

// payload returns the JSON document of a verified delivery: the body
// itself (application/json, also assumed when no Content-Type is sent) or
// its payload form field (application/x-www-form-urlencoded).
func (w Webhooks) payload(contentType string, body []byte, signature string) ([]byte, error) {
	mediaType := "application/json"
	if contentType != "" {
		mt, _, err := mime.ParseMediaType(contentType)
		if err != nil {
			return nil, fmt.Errorf("content type %q: %w", contentType, err)
		}
		mediaType = mt
	}
	payload, err := gh.ValidatePayloadFromBody(mediaType, bytes.NewReader(body), signature, w.Secret)
	if err != nil {
		return nil, fmt.Errorf("reading the delivery: %w", err)
	}
	if !json.Valid(payload) {
		return nil, errors.New("decoding the delivery: the payload is not a JSON document")
	}
	return payload, nil
}

// kindOf is the kind of a GitHub event name.
func kindOf(event string) forge.Kind {
	switch k := forge.Kind(event); k {
	case forge.KindPullRequest, forge.KindPush, forge.KindComment, forge.KindPing:
		return k
	}
	return forge.KindOther
}

// Parse decodes a delivery (as Read returned it, or as the store recorded
// it) with go-github's ParseWebHook. Pings and events rolecd does not read
// are not decoded: their Event has only a Kind.
func (Webhooks) Parse(d forge.Delivery) (forge.Event, error) {
	kind := kindOf(d.Event)
	if kind == forge.KindPing || kind == forge.KindOther {
		return forge.Event{Kind: kind}, nil
	}
	parsed, err := gh.ParseWebHook(d.Event, d.Payload)
	if err != nil {
		return forge.Event{}, fmt.Errorf("decoding %s payload: %w", d.Event, err)
	}
	ev := forge.Event{Kind: kind}
	if o, ok := parsed.(interface{ GetInstallation() *gh.Installation }); ok {
		ev.Installation = installation(o.GetInstallation())
	}
	switch e := parsed.(type) {
	case *gh.PullRequestEvent:
		ev.Repository = e.GetRepo().GetFullName()
		ev.Action, ev.Number = e.GetAction(), e.GetNumber()
		if ev.Number == 0 {
			ev.Number = e.GetPullRequest().GetNumber()
		}
	case *gh.PushEvent:
		ev.Repository = e.GetRepo().GetFullName()
		ev.Ref = e.GetRef()
	case *gh.IssueCommentEvent:
		ev.Repository = e.GetRepo().GetFullName()
		ev.Action, ev.Number = e.GetAction(), e.GetIssue().GetNumber()
		user := e.GetComment().GetUser()
		ev.Comment = forge.Comment{
			User: user.GetLogin(), Bot: user.GetType() == "Bot", Body: e.GetComment().GetBody(),
			OnPR: e.GetIssue() != nil && e.GetIssue().IsPullRequest(),
		}
	}
	return ev, nil
}

// installation is the ID of the installation a payload names; nil when
// it names none.
func installation(inst *gh.Installation) *int64 {
	if inst == nil {
		return nil
	}
	id := inst.GetID()
	return &id
}
