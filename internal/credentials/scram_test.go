package credentials

import (
	"encoding/base64"
	"regexp"
	"strings"
	"testing"
)

func TestGeneratePassword(t *testing.T) {
	seen := map[string]bool{}
	for range 20 {
		pw, err := GeneratePassword()
		if err != nil {
			t.Fatal(err)
		}
		if len(pw) != 43 || !regexp.MustCompile(`^[A-Za-z0-9_-]+$`).MatchString(pw) {
			t.Fatalf("password %q is not 43 base64url characters without padding", pw)
		}
		raw, err := base64.RawURLEncoding.DecodeString(pw)
		if err != nil || len(raw) != 32 {
			t.Fatalf("password decodes to %d bytes (%v), want 32", len(raw), err)
		}
		if seen[pw] {
			t.Fatalf("password %q generated twice", pw)
		}
		seen[pw] = true
	}
}

var verifierRE = regexp.MustCompile(`^SCRAM-SHA-256\$4096:([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$`)

func TestSCRAMVerifierRoundTrip(t *testing.T) {
	for _, pw := range []string{"pw", "", "p\u00e4ssw\u00f6rd", "x\x00y", mustPassword(t)} {
		v, err := SCRAMVerifier(pw)
		if err != nil {
			t.Fatal(err)
		}
		m := verifierRE.FindStringSubmatch(v)
		if m == nil {
			t.Fatalf("verifier %q is not in PostgreSQL's format", v)
		}
		for i, want := range []int{16, 32, 32} {
			b, err := base64.StdEncoding.DecodeString(m[i+1])
			if err != nil || len(b) != want {
				t.Errorf("part %d of %q decodes to %d bytes (%v), want %d", i+1, v, len(b), err, want)
			}
		}
		// A short password can occur in random base64 by chance: only
		// a long one makes this check meaningful.
		if len(pw) >= 8 && strings.Contains(v, pw) {
			t.Errorf("verifier contains the plaintext")
		}
		ok, err := VerifyPassword(v, "anyrole", pw)
		if err != nil || !ok {
			t.Errorf("VerifyPassword(own verifier, %q) = %v, %v; want true", pw, ok, err)
		}
		ok, err = VerifyPassword(v, "anyrole", pw+"x")
		if err != nil || ok {
			t.Errorf("VerifyPassword(own verifier, wrong password) = %v, %v; want false", ok, err)
		}
	}
	a, _ := SCRAMVerifier("same")
	b, _ := SCRAMVerifier("same")
	if a == b {
		t.Error("two verifiers of one password are equal: the salt is not random")
	}
}

func mustPassword(t *testing.T) string {
	t.Helper()
	pw, err := GeneratePassword()
	if err != nil {
		t.Fatal(err)
	}
	return pw
}

func TestVerifyPassword(t *testing.T) {
	// Computed independently (Python hashlib/hmac): salt = bytes 0..15.
	const pencil = "SCRAM-SHA-256$4096:AAECAwQFBgcICQoLDA0ODw==$zHCdol2044/ZyWzPLi7oxApCkamKw9Z+E4U/QApd/5Y=:dd5peBOitVnLNFu7VmwP+HiDaaw4OUCv396eVCWhYiE="
	// md5("pencil" + "alice")
	const md5Alice = "md5ee69efad287c7423caf0b3229d71f567"
	tests := []struct {
		name, verifier, role, password string
		want                           bool
		wantErr                        string
	}{
		{name: "scram match", verifier: pencil, password: "pencil", want: true},
		{name: "scram other password", verifier: pencil, password: "pencil2"},
		{name: "scram empty password", verifier: pencil, password: ""},
		{name: "scram stored key altered", verifier: strings.Replace(pencil, "$zHCd", "$zHCe", 1), password: "pencil"},
		{name: "scram server key altered", verifier: strings.Replace(pencil, ":dd5p", ":dd5q", 1), password: "pencil"},
		{name: "scram other iterations", verifier: strings.Replace(pencil, "$4096:", "$4095:", 1), password: "pencil"},
		{name: "md5 match", verifier: md5Alice, role: "alice", password: "pencil", want: true},
		{name: "md5 upper-case hex", verifier: "md5" + strings.ToUpper(md5Alice[3:]), role: "alice", password: "pencil", want: true},
		{name: "md5 other role", verifier: md5Alice, role: "bob", password: "pencil"},
		{name: "md5 other password", verifier: md5Alice, role: "alice", password: "pencil2"},
		{name: "no password", verifier: "", password: "pencil"},
		{name: "plaintext", verifier: "pencil", password: "pencil", wantErr: "unrecognised"},
		{name: "md5 short", verifier: "md5abc", password: "pencil", wantErr: "unrecognised"},
		{name: "md5 not hex", verifier: "md5" + strings.Repeat("z", 32), password: "pencil", wantErr: "unrecognised"},
		{name: "scram no keys", verifier: "SCRAM-SHA-256$4096:AAECAwQFBgcICQoLDA0ODw==", wantErr: "no keys"},
		{name: "scram no salt", verifier: "SCRAM-SHA-256$4096$a:b", wantErr: "no salt"},
		{name: "scram zero iterations", verifier: strings.Replace(pencil, "$4096:", "$0:", 1), wantErr: "iteration"},
		{name: "scram huge iterations", verifier: strings.Replace(pencil, "$4096:", "$99999999999:", 1), wantErr: "iteration"},
		{name: "scram bad salt", verifier: strings.Replace(pencil, ":AAEC", ":!AEC", 1), wantErr: "salt"},
		{name: "scram short stored key", verifier: "SCRAM-SHA-256$4096:AAECAwQFBgcICQoLDA0ODw==$AAAA:dd5peBOitVnLNFu7VmwP+HiDaaw4OUCv396eVCWhYiE=", wantErr: "stored key"},
		{name: "scram no server key", verifier: "SCRAM-SHA-256$4096:AAECAwQFBgcICQoLDA0ODw==$zHCdol2044/ZyWzPLi7oxApCkamKw9Z+E4U/QApd/5Y=", wantErr: "no server key"},
		{name: "scram bad server key", verifier: strings.Replace(pencil, ":dd5p", ":*d5p", 1), wantErr: "server key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := VerifyPassword(tt.verifier, tt.role, tt.password)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				if got {
					t.Error("returned true with an error")
				}
				for _, secret := range []string{"AAECAwQF", "zHCdol", "dd5pe", "pencil"} {
					if strings.Contains(err.Error(), secret) {
						t.Errorf("error %q echoes the verifier or password", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("VerifyPassword = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestVerifyPasswordOwnParameters checks that verification uses the
// verifier's salt and iteration count, not SCRAMVerifier's defaults.
func TestVerifyPasswordOwnParameters(t *testing.T) {
	for _, tc := range []struct {
		iterations int
		salt       []byte
	}{
		{1, []byte{1}},
		{1000, []byte("a-longer-salt-of-28-bytes!!!")},
		{10000, make([]byte, 16)},
	} {
		stored, server, err := scramKeys("pencil", tc.salt, tc.iterations)
		if err != nil {
			t.Fatal(err)
		}
		v := formatVerifier(tc.iterations, tc.salt, stored, server)
		if ok, err := VerifyPassword(v, "", "pencil"); err != nil || !ok {
			t.Errorf("%d iterations, %d-byte salt: VerifyPassword = %v, %v; want true", tc.iterations, len(tc.salt), ok, err)
		}
		if ok, err := VerifyPassword(v, "", "pencil!"); err != nil || ok {
			t.Errorf("%d iterations: wrong password verified (%v, %v)", tc.iterations, ok, err)
		}
	}
}
