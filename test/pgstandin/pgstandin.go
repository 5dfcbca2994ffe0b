// Package pgstandin is a PostgreSQL look-alike for tests of the trust
// boundary: it listens on 127.0.0.1, refuses TLS, asks every client for a
// cleartext (or MD5) password and records whatever the client sends back.
// A test points a resource at it and asserts that nothing arrived.
package pgstandin

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Authentication request codes of PostgreSQL's AuthenticationRequest message.
const (
	AuthCleartext = 3
	AuthMD5       = 5
)

const (
	sslRequestCode = 80877103
	gssRequestCode = 80877104
	protocol3      = 196608
	maxStartupLen  = 10000
)

// Attempt is one client connection as the stand-in saw it.
type Attempt struct {
	// Startup holds the startup message's parameters (user, database, ...);
	// nil when the client sent none.
	Startup map[string]string
	// Password is the body of the client's PasswordMessage (the password
	// itself for cleartext, "md5..." for MD5); nil when none came.
	Password []byte
}

// Server is a running stand-in.
type Server struct {
	Host string
	Port int
	// Auth is the authentication request sent (AuthCleartext or AuthMD5).
	Auth int

	ln       net.Listener
	wg       sync.WaitGroup
	mu       sync.Mutex
	attempts []Attempt
	conns    int
	closed   bool
}

// Start runs a stand-in asking for auth (AuthCleartext or AuthMD5) until
// the test ends.
func Start(t testing.TB, auth int) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("pgstandin: %v", err)
	}
	s := &Server{Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, Auth: auth, ln: ln}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(s.Close)
	return s
}

// Addr is host:port.
func (s *Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// Close stops listening and waits until every accepted connection has been
// handled, so Attempts and Connections are final afterwards.
func (s *Server) Close() {
	s.mu.Lock()
	already := s.closed
	s.closed = true
	s.mu.Unlock()
	if !already {
		s.ln.Close()
	}
	s.wg.Wait()
}

// Connections is how many TCP connections were accepted.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

// Attempts are the connections that sent a startup message, in order.
func (s *Server) Attempts() []Attempt {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Attempt(nil), s.attempts...)
}

// Passwords are the password messages received.
func (s *Server) Passwords() [][]byte {
	var out [][]byte
	for _, a := range s.Attempts() {
		if a.Password != nil {
			out = append(out, a.Password)
		}
	}
	return out
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns++
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			// A client that neither answers nor hangs up must not block
			// Close forever.
			_ = c.SetDeadline(time.Now().Add(30 * time.Second))
			if a, ok := s.handle(c); ok {
				s.mu.Lock()
				s.attempts = append(s.attempts, a)
				s.mu.Unlock()
			}
		}()
	}
}

// handle speaks the server side of a startup: 'N' to SSL and GSS
// requests, then an authentication request, then it reads one message.
func (s *Server) handle(c net.Conn) (Attempt, bool) {
	var body []byte
	for {
		var hdr [8]byte
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			return Attempt{}, false
		}
		n := int(binary.BigEndian.Uint32(hdr[:4]))
		code := binary.BigEndian.Uint32(hdr[4:])
		if n < 8 || n > maxStartupLen {
			return Attempt{}, false
		}
		if code == sslRequestCode || code == gssRequestCode {
			if _, err := c.Write([]byte{'N'}); err != nil {
				return Attempt{}, false
			}
			continue
		}
		if code != protocol3 {
			return Attempt{}, false
		}
		body = make([]byte, n-8)
		if _, err := io.ReadFull(c, body); err != nil {
			return Attempt{}, false
		}
		break
	}
	a := Attempt{Startup: parseParams(body)}
	req := []byte{'R', 0, 0, 0, 8, 0, 0, 0, byte(s.Auth)}
	if s.Auth == AuthMD5 {
		req = append([]byte{'R', 0, 0, 0, 12, 0, 0, 0, AuthMD5}, 1, 2, 3, 4) // salt
	}
	if _, err := c.Write(req); err != nil {
		return a, true
	}
	var hdr [5]byte
	k, _ := io.ReadFull(c, hdr[:])
	if k == 0 {
		return a, true // the client hung up: nothing sent
	}
	n := int(binary.BigEndian.Uint32(hdr[1:]))
	if k < len(hdr) || hdr[0] != 'p' || n < 4 || n > maxStartupLen {
		a.Password = append([]byte{}, hdr[:k]...) // not a password message, but something came
		return a, true
	}
	pw := make([]byte, n-4)
	k, _ = io.ReadFull(c, pw)
	a.Password = bytes.TrimRight(pw[:k], "\x00")
	// Refuse like a server would, so the client stops.
	msg := []byte("SFATAL\x00C28P01\x00Mpassword authentication failed\x00\x00")
	out := append([]byte{'E', 0, 0, 0, 0}, msg...)
	binary.BigEndian.PutUint32(out[1:], uint32(len(msg)+4))
	_, _ = c.Write(out)
	return a, true
}

// parseParams reads a startup message's NUL-separated key/value pairs.
func parseParams(b []byte) map[string]string {
	out := map[string]string{}
	parts := bytes.Split(b, []byte{0})
	for i := 0; i+1 < len(parts); i += 2 {
		if len(parts[i]) == 0 {
			break
		}
		out[string(parts[i])] = string(parts[i+1])
	}
	return out
}
