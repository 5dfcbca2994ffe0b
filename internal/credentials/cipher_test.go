package credentials

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func testKey(fill byte) []byte { return bytes.Repeat([]byte{fill}, KeySize) }

func TestCipherRoundTrip(t *testing.T) {
	c, err := NewCipher(testKey(1))
	if err != nil {
		t.Fatal(err)
	}
	for _, pt := range [][]byte{[]byte("s3cret-password"), {}, bytes.Repeat([]byte{0}, 1000)} {
		ct, err := c.Seal(pt, "role:ro")
		if err != nil {
			t.Fatal(err)
		}
		if ct[0] != cipherVersion || len(ct) != 1+nonceSize+len(pt)+16 {
			t.Fatalf("ciphertext has version %d and length %d", ct[0], len(ct))
		}
		if len(pt) > 4 && bytes.Contains(ct, pt) {
			t.Fatal("ciphertext contains the plaintext")
		}
		got, err := c.Open(ct, "role:ro")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, pt) {
			t.Fatalf("Open = %q, want %q", got, pt)
		}
	}
	a, _ := c.Seal([]byte("same"), "role:ro")
	b, _ := c.Seal([]byte("same"), "role:ro")
	if bytes.Equal(a, b) {
		t.Error("two seals of one plaintext are equal: the nonce is not random")
	}
}

func TestCipherOpenRefuses(t *testing.T) {
	c, _ := NewCipher(testKey(1))
	other, _ := NewCipher(testKey(2))
	const secret = "s3cret-password"
	ct, err := c.Seal([]byte(secret), "role:ro")
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		b := bytes.Clone(ct)
		b[i] ^= 1
		return b
	}
	tests := []struct {
		name    string
		c       *Cipher
		data    []byte
		aad     string
		wantErr string
	}{
		{"wrong key", other, ct, "role:ro", "wrong key"},
		{"wrong aad", c, ct, "role:rw", "wrong record"},
		{"empty aad", c, ct, "", "wrong record"},
		{"tampered nonce", c, flip(1), "role:ro", "tampered"},
		{"tampered body", c, flip(1 + nonceSize), "role:ro", "tampered"},
		{"tampered tag", c, flip(len(ct) - 1), "role:ro", "tampered"},
		{"truncated", c, ct[:len(ct)-1], "role:ro", "tampered"},
		{"too short", c, ct[:10], "role:ro", "too short"},
		{"unknown version", c, append([]byte{9}, ct[1:]...), "role:ro", "version 9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.c.Open(tt.data, tt.aad)
			if err == nil {
				t.Fatalf("Open succeeded with %q", got)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
			if tt.name != "unknown version" && !errors.Is(err, ErrDecrypt) {
				t.Errorf("error %q does not match ErrDecrypt", err)
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "role:") {
				t.Errorf("error %q echoes data", err)
			}
		})
	}
}

func TestNewCipherKeyLength(t *testing.T) {
	for _, n := range []int{0, 16, 24, 31, 33, 64} {
		if _, err := NewCipher(make([]byte, n)); err == nil || !strings.Contains(err.Error(), "want 32") {
			t.Errorf("NewCipher(%d bytes) error = %v, want a length error", n, err)
		}
	}
}
