package cluster

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rolecd/rolecd/planner/spec"
)

// The authentication policy: rolecd never answers a server that asks for
// the admin password in cleartext (AuthenticationCleartextPassword, code
// 3) or as an MD5 response (code 5) unless the resource says
// `admin.allow_cleartext: true`. A cleartext answer hands the password to
// whoever runs the server or sits on an unencrypted path to it; an MD5
// answer hands them a salted hash that cracks offline. SCRAM-SHA-256 (the
// PostgreSQL default since 14), GSS and trust are accepted.
//
// pgx enforces it (pgconn's require_auth, libpq's semantics: the refused
// request fails the connection before any password is written); a passive
// reader on the connection notes which method the server asked for, so
// the error says so as a typed value.

// refuseWeakAuth is the require_auth policy of a resource without
// allow_cleartext.
const refuseWeakAuth = "!password,!md5"

// Authentication request codes of PostgreSQL's AuthenticationRequest.
const (
	authOK        = 0
	authCleartext = 3
	authMD5       = 5
)

// AuthRefusedError is a connection rolecd ended because the server asked
// for a password method the resource does not allow. No password was sent.
type AuthRefusedError struct {
	Resource string
	Endpoint string // host:port
	// Method is "cleartext" or "md5".
	Method string
	// Err is pgx's error.
	Err error
}

func (e *AuthRefusedError) Unwrap() error { return e.Err }

func (e *AuthRefusedError) Error() string {
	why := "the server would receive the password itself"
	if e.Method == "md5" {
		why = "the server would receive a hash of the password that can be cracked offline"
	}
	return fmt.Sprintf("resource %s: %s asked for %s password authentication; rolecd refused and sent no password (%s). "+
		"Configure the server for scram-sha-256, or set admin.allow_cleartext: true on the resource if you trust every hop to it",
		e.Resource, e.Endpoint, e.Method, why)
}

// requireAuth sets cfg's authentication policy for res. An operator's
// own require_auth (PGREQUIREAUTH) is kept, less the methods rolecd
// refuses.
func requireAuth(cfg *pgx.ConnConfig, res spec.Resource) {
	if !res.Admin.AllowCleartext {
		cfg.RequireAuth = withoutWeakAuth(cfg.RequireAuth)
	}
}

// withoutWeakAuth narrows a require_auth list so it refuses password and
// md5: "" (anything) becomes "!password,!md5"; a negated list gains the
// two; an allow list loses them ("none" when nothing is left but them).
func withoutWeakAuth(policy string) string {
	if strings.TrimSpace(policy) == "" {
		return refuseWeakAuth
	}
	var methods []string
	for m := range strings.SplitSeq(policy, ",") {
		methods = append(methods, strings.TrimSpace(m))
	}
	if strings.HasPrefix(methods[0], "!") {
		for _, weak := range []string{"!password", "!md5"} {
			if !slices.Contains(methods, weak) {
				methods = append(methods, weak)
			}
		}
		return strings.Join(methods, ",")
	}
	kept := slices.DeleteFunc(methods, func(m string) bool { return m == "password" || m == "md5" })
	if len(kept) == 0 {
		// Only weak methods were allowed: allow none, so the connection
		// fails unless the server needs no password at all.
		return "none"
	}
	return strings.Join(kept, ",")
}

// authWatch records the authentication methods servers ask for on the
// connections of one Connect call.
type authWatch struct {
	mu     sync.Mutex
	asked  []int
	wrapIn func(ctx context.Context, cfg *pgconn.Config, c net.Conn) (net.Conn, error)
}

// install chains the watch into cfg's AfterNetConnect.
func (w *authWatch) install(cfg *pgx.ConnConfig) {
	w.wrapIn = cfg.AfterNetConnect
	cfg.AfterNetConnect = func(ctx context.Context, pc *pgconn.Config, c net.Conn) (net.Conn, error) {
		if w.wrapIn != nil {
			var err error
			if c, err = w.wrapIn(ctx, pc, c); err != nil {
				return nil, err
			}
		}
		return &authSniffer{Conn: c, note: w.note}, nil
	}
}

func (w *authWatch) note(code int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.asked = append(w.asked, code)
}

// refused returns the weak method a server asked for, if any ("cleartext"
// or "md5").
func (w *authWatch) refused() (string, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, code := range w.asked {
		switch code {
		case authCleartext:
			return "cleartext", true
		case authMD5:
			return "md5", true
		}
	}
	return "", false
}

// authSniffer reads along the server's messages until authentication
// ends, and reports each AuthenticationRequest code. It never changes
// what pgx reads.
type authSniffer struct {
	net.Conn
	note func(code int)
	done bool
	hdr  [9]byte // type, length, first 4 bytes of the body
	have int     // bytes of hdr filled
	skip int     // body bytes of the current message still to pass
}

func (s *authSniffer) Read(p []byte) (int, error) {
	n, err := s.Conn.Read(p)
	s.feed(p[:n])
	return n, err
}

// feed parses b as the continuation of the backend message stream.
func (s *authSniffer) feed(b []byte) {
	for len(b) > 0 && !s.done {
		if s.skip > 0 {
			k := min(s.skip, len(b))
			s.skip, b = s.skip-k, b[k:]
			continue
		}
		need := 5
		if s.have >= 5 && s.hdr[0] == 'R' {
			need = 9
		}
		k := min(need-s.have, len(b))
		copy(s.hdr[s.have:], b[:k])
		s.have, b = s.have+k, b[k:]
		if s.have < need {
			continue
		}
		length := int(binary.BigEndian.Uint32(s.hdr[1:5])) // includes itself
		if need == 5 && s.hdr[0] == 'R' && length >= 8 {
			continue // read the code too
		}
		body := length - 4
		if s.hdr[0] == 'R' && length >= 8 {
			code := int(binary.BigEndian.Uint32(s.hdr[5:9]))
			s.note(code)
			body -= 4
			if code == authOK {
				s.done = true
			}
		}
		if s.hdr[0] == 'E' {
			s.done = true
		}
		s.skip, s.have = max(body, 0), 0
	}
}
