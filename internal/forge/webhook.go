package forge

import "errors"

// Delivery is one verified webhook delivery, as the store records it.
type Delivery struct {
	// ID is the forge's delivery identifier (a redelivery keeps it).
	ID string
	// Event is the forge's event name ("pull_request", "push", ...).
	Event string
	// Kind is the kind of Event (KindOther for events rolecd does not read).
	Kind Kind
	// Payload is the delivery's JSON document.
	Payload []byte
}

// Kind is the kind of a webhook event. The values are the metric labels
// of deliveries.
type Kind string

// The kinds of events rolecd reads; every other event is KindOther.
const (
	// KindPullRequest: a pull request was opened, pushed to, edited,
	// closed or merged.
	KindPullRequest Kind = "pull_request"
	// KindPush: a branch was pushed to.
	KindPush Kind = "push"
	// KindComment: an issue or a pull request was commented on.
	KindComment Kind = "issue_comment"
	// KindPing: the forge checks that the webhook is reachable.
	KindPing Kind = "ping"
	// KindOther: an event rolecd does not read.
	KindOther Kind = "other"
)

// Event is a decoded delivery: what rolecd reads of it, whatever the forge.
type Event struct {
	Kind Kind
	// Repository is the full name ("owner/name") of the repository the
	// event is about; "" when the payload names none.
	Repository string
	// Installation is the app installation the payload names; nil when it
	// names none.
	Installation *int64
	// Action is what happened ("opened", "closed", "created", ...).
	Action string
	// Number is the pull request's (or commented issue's) number.
	Number int
	// Ref is the pushed ref ("refs/heads/main") of a push.
	Ref string
	// Comment is the comment of a KindComment event.
	Comment Comment
}

// Comment is a comment on an issue or a pull request.
type Comment struct {
	// User is the author's login; Bot tells an app's account.
	User string
	Bot  bool
	Body string
	// OnPR is true when the commented issue is a pull request.
	OnPR bool
}

// Reason is why a delivery was refused.
type Reason string

// The reasons of a DeliveryError.
const (
	// Unauthorized: the signature is missing or wrong (or no secret is
	// configured to check it).
	Unauthorized Reason = "unauthorized"
	// TooLarge: the body is over the forge's payload limit.
	TooLarge Reason = "too_large"
	// Invalid: the body cannot be read, a required header is missing, or
	// the payload is not a JSON document.
	Invalid Reason = "invalid"
)

// DeliveryError is a delivery refused before it was recorded. Its message
// is what the sender may be told: it never holds the secret.
type DeliveryError struct {
	Reason Reason
	Err    error
}

func (e *DeliveryError) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *DeliveryError) Unwrap() error { return e.Err }

// Refused returns an error's Reason when it is a DeliveryError, Invalid
// for any other error.
func Refused(err error) Reason {
	var de *DeliveryError
	if errors.As(err, &de) {
		return de.Reason
	}
	return Invalid
}
