package gitsource

import (
	"cmp"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// redacted replaces every credential removed from a message.
const redacted = "<redacted>"

// urlUserinfo matches the credentials part of an http(s) URL inside any text.
var urlUserinfo = regexp.MustCompile(`(?i)\b(https?://)[^/\s@"']+@`)

// scrub removes the secrets, and any http(s) URL credentials, from msg.
func (r *remote) scrub(msg string) string {
	secrets := slices.Clone(r.secrets)
	// Longest first, so that a secret containing another is removed whole.
	slices.SortFunc(secrets, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	for _, s := range secrets {
		msg = strings.ReplaceAll(msg, s, redacted)
	}
	return urlUserinfo.ReplaceAllString(msg, "${1}"+redacted+"@")
}

// wrap returns "<context>: <cause>" with every credential scrubbed. The
// result matches errors.Is for cause and extra, but does not unwrap to cause,
// so the raw message of a go-git or net/http error cannot leak through it.
func (r *remote) wrap(context string, cause error, extra ...error) error {
	return &scrubbedError{
		msg:    r.scrub(context + ": " + cause.Error()),
		causes: append([]error{cause}, extra...),
	}
}

// scrubbedError is an error whose message has been cleaned of credentials.
type scrubbedError struct {
	msg    string
	causes []error
}

func (e *scrubbedError) Error() string { return e.msg }

// Is reports whether any wrapped cause matches target.
func (e *scrubbedError) Is(target error) bool {
	for _, c := range e.causes {
		if errors.Is(c, target) {
			return true
		}
	}
	return false
}

// Format prints the scrubbed message for every verb, so %+v or %#v cannot
// reach the causes.
func (e *scrubbedError) Format(f fmt.State, verb rune) {
	_, _ = f.Write([]byte(e.msg))
}
