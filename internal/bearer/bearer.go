// Package bearer guards HTTP handlers with a static bearer token
// ("Authorization: Bearer <token>"), compared in constant time. A guard
// without a token refuses every request: nothing it guards is ever public
// by accident.
package bearer

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
)

// MinLength is the shortest token Load accepts.
const MinLength = 16

// Guard checks bearer tokens against one configured token. The zero Guard
// has no token and refuses everything.
type Guard struct {
	sum [sha256.Size]byte
	set bool
}

// New returns a Guard for token; an empty token refuses everything.
func New(token string) Guard {
	if token == "" {
		return Guard{}
	}
	return Guard{sum: sha256.Sum256([]byte(token)), set: true}
}

// Configured reports whether the Guard has a token (false: it refuses
// every request).
func (g Guard) Configured() bool { return g.set }

// Allows reports whether the request carries the token. Both sides are
// hashed first, so the comparison takes the same time whatever the
// length or content of the presented token.
func (g Guard) Allows(req *http.Request) bool {
	if !g.set {
		return false
	}
	scheme, tok, ok := strings.Cut(req.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	return subtle.ConstantTimeCompare(sum[:], g.sum[:]) == 1
}

// Require serves next only to requests carrying the token; others get 401
// with a WWW-Authenticate challenge.
func (g Guard) Require(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if !g.Allows(req) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="rolecd"`)
			msg := "a valid bearer token is required"
			if !g.set {
				msg = "no API token is configured (api.token_env or api.token_file): the API refuses every request"
			}
			http.Error(w, msg, http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, req)
	})
}

// Load reads the token from file (when set; surrounding white space is
// dropped) or else from the variable env names, via getenv. No token is
// not an error (the Guard refuses everything); an unreadable file or a
// token shorter than MinLength is.
func Load(file, env string, getenv func(string) string) (Guard, error) {
	var token, from string
	switch {
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return Guard{}, fmt.Errorf("reading the API token: %w", err)
		}
		token, from = strings.TrimSpace(string(b)), file
	case env != "":
		token, from = strings.TrimSpace(getenv(env)), "$"+env
	}
	if token == "" {
		return Guard{}, nil
	}
	if len(token) < MinLength {
		return Guard{}, fmt.Errorf("the API token in %s is shorter than %d characters", from, MinLength)
	}
	if strings.ContainsAny(token, " \t\r\n") {
		return Guard{}, errors.New("the API token in " + from + " contains white space")
	}
	return New(token), nil
}
