package cluster

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/rolecd/rolecd/planner/spec"
	"github.com/rolecd/rolecd/test/pgstandin"
	"github.com/rolecd/rolecd/test/pgtest"
)

const standinSecret = "the-admin-password-1"

func standinResource(s *pgstandin.Server, sslmode string, allow bool) spec.Resource {
	return spec.Resource{Name: "legacy", Host: s.Host, Port: s.Port, Database: "postgres", SSLMode: sslmode,
		Admin: spec.Admin{User: "postgres", PasswordEnv: "LEGACY_PW", AllowCleartext: allow}}
}

func standinDialer() Dialer {
	return Dialer{Getenv: func(k string) string {
		if k == "LEGACY_PW" {
			return standinSecret
		}
		return ""
	}}
}

// A server asking for a cleartext or MD5 password gets no password and
// the error says why, unless the resource allows it.
func TestWeakAuthRefused(t *testing.T) {
	tests := []struct {
		name    string
		auth    int
		sslmode string
		method  string
	}{
		{"cleartext, sslmode disable", pgstandin.AuthCleartext, "disable", "cleartext"},
		{"cleartext, sslmode prefer (TLS refused, plain fallback)", pgstandin.AuthCleartext, "prefer", "cleartext"},
		{"md5", pgstandin.AuthMD5, "disable", "md5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := pgstandin.Start(t, tt.auth)
			_, err := standinDialer().Health(context.Background(), standinResource(s, tt.sslmode, false))
			s.Close()
			var refused *AuthRefusedError
			if !errors.As(err, &refused) || refused.Method != tt.method || refused.Resource != "legacy" {
				t.Fatalf("err = %v, want an AuthRefusedError for %s", err, tt.method)
			}
			for _, want := range []string{"resource legacy: " + s.Addr(), tt.method + " password authentication", "sent no password", "allow_cleartext"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
			if len(s.Attempts()) == 0 {
				t.Fatal("the stand-in saw no startup: the test did not exercise authentication")
			}
			if pws := s.Passwords(); len(pws) != 0 {
				t.Errorf("the stand-in received %q", pws)
			}
		})
	}
}

// allow_cleartext: true answers (the stand-in can observe a password, so
// the refusal above is not an artefact of the stand-in).
func TestAllowCleartextAnswers(t *testing.T) {
	for _, auth := range []int{pgstandin.AuthCleartext, pgstandin.AuthMD5} {
		s := pgstandin.Start(t, auth)
		_, err := standinDialer().Health(context.Background(), standinResource(s, "disable", true))
		s.Close()
		var refused *AuthRefusedError
		if err == nil || errors.As(err, &refused) {
			t.Fatalf("auth %d: err = %v, want the stand-in's authentication failure", auth, err)
		}
		pws := s.Passwords()
		want := standinSecret
		if auth == pgstandin.AuthMD5 {
			want = "md5"
		}
		if len(pws) != 1 || !strings.HasPrefix(string(pws[0]), want) {
			t.Errorf("auth %d: stand-in received %q, want a password starting %q", auth, pws, want)
		}
	}
}

// SCRAM (the default of the real clusters) still works with the policy.
func TestSCRAMAccepted(t *testing.T) {
	c := pgtest.Start(t)
	conn := c.Connect(t, "postgres")
	var enc string
	if err := conn.QueryRow(context.Background(), "SELECT current_setting('password_encryption')").Scan(&enc); err != nil {
		t.Fatal(err)
	}
	conn.Close(context.Background())
	if enc != "scram-sha-256" {
		t.Fatalf("password_encryption = %s, want scram-sha-256", enc)
	}
	d := Dialer{Getenv: func(string) string { return c.Password }}
	res := resource(c, spec.Admin{User: c.User, PasswordEnv: "PW"})
	cfg, err := d.Config(res, "postgres")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RequireAuth != refuseWeakAuth {
		t.Errorf("RequireAuth = %q, want %q", cfg.RequireAuth, refuseWeakAuth)
	}
	if _, err := d.Health(context.Background(), res); err != nil {
		t.Fatalf("Health over SCRAM: %v", err)
	}
}

// The sniffer finds every AuthenticationRequest code however the stream
// is cut, and stops at AuthenticationOk.
func TestAuthSnifferSplits(t *testing.T) {
	stream := []byte{
		'v', 0, 0, 0, 10, 0, 0, 0, 0, 0, 0, // NegotiateProtocolVersion-like, 6-byte body
		'R', 0, 0, 0, 12, 0, 0, 0, 5, 1, 2, 3, 4, // MD5 with salt
		'R', 0, 0, 0, 8, 0, 0, 0, 3, // cleartext
		'R', 0, 0, 0, 8, 0, 0, 0, 0, // ok
		'R', 0, 0, 0, 8, 0, 0, 0, 3, // after ok: not authentication
	}
	for size := 1; size <= len(stream); size++ {
		var got []int
		s := &authSniffer{note: func(code int) { got = append(got, code) }}
		for i := 0; i < len(stream); i += size {
			s.feed(stream[i:min(i+size, len(stream))])
		}
		if want := []int{5, 3, 0}; !slices.Equal(got, want) {
			t.Fatalf("chunks of %d: codes %v, want %v", size, got, want)
		}
	}
}

// An operator's PGREQUIREAUTH is narrowed, never widened.
func TestWithoutWeakAuth(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"", "!password,!md5"},
		{"scram-sha-256", "scram-sha-256"},
		{"password,scram-sha-256", "scram-sha-256"},
		{"md5, password", "none"},
		{"!none", "!none,!password,!md5"},
		{"!md5", "!md5,!password"},
		{"!password,!md5", "!password,!md5"},
	} {
		if got := withoutWeakAuth(tt.in); got != tt.want {
			t.Errorf("withoutWeakAuth(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	t.Setenv("PGREQUIREAUTH", "scram-sha-256")
	cfg, err := standinDialer().Config(spec.Resource{Name: "x", Host: "127.0.0.1", Port: 5432, Database: "postgres", SSLMode: "disable",
		Admin: spec.Admin{User: "u"}}, "postgres")
	if err != nil || cfg.RequireAuth != "scram-sha-256" {
		t.Errorf("with PGREQUIREAUTH=scram-sha-256: RequireAuth = %q, %v", cfg.RequireAuth, err)
	}
}
