package hub

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
)

// Cookie names.
const (
	sessionCookie = "rolecd_hub"
	stateCookie   = "rolecd_hub_oauth"
)

// cookieKeys are derived from the configured key: one AES-256-GCM key for
// cookies, one HMAC key for CSRF tokens.
type cookieKeys struct {
	aead cipher.AEAD
	csrf []byte
}

func deriveKeys(key []byte) cookieKeys {
	derive := func(purpose string) []byte {
		m := hmac.New(sha256.New, key)
		m.Write([]byte("rolecd hub " + purpose))
		return m.Sum(nil)
	}
	block, err := aes.NewCipher(derive("cookie"))
	if err != nil {
		panic(err) // a 32-byte key always makes a cipher
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return cookieKeys{aead: aead, csrf: derive("csrf")}
}

// seal encrypts and authenticates v as a cookie value; name is bound in,
// so one cookie's value is never accepted as another's.
func (k cookieKeys) seal(name string, v any) (string, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encoding cookie %s: %w", name, err)
	}
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("cookie nonce: %w", err)
	}
	out := k.aead.Seal(nonce, nonce, plain, []byte(name))
	return base64.RawURLEncoding.EncodeToString(out), nil
}

// errBadCookie is any cookie that does not open.
var errBadCookie = errors.New("invalid cookie")

// open reverses seal.
func (k cookieKeys) open(name, value string, v any) error {
	if len(value) > 4096 {
		return errBadCookie
	}
	raw, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil || len(raw) < k.aead.NonceSize() {
		return errBadCookie
	}
	n := k.aead.NonceSize()
	plain, err := k.aead.Open(nil, raw[:n], raw[n:], []byte(name))
	if err != nil {
		return errBadCookie
	}
	if err := json.Unmarshal(plain, v); err != nil {
		return errBadCookie
	}
	return nil
}

// csrfToken is the CSRF token of sign-in session id.
func (k cookieKeys) csrfToken(id string) string {
	m := hmac.New(sha256.New, k.csrf)
	m.Write([]byte(id))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// checkCSRF compares a submitted token with session id's, in constant time.
func (k cookieKeys) checkCSRF(id, got string) bool {
	want := k.csrfToken(id)
	return id != "" && subtle.ConstantTimeCompare([]byte(want), []byte(got)) == 1
}

// randomID is 16 random bytes, URL-safe.
func randomID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random id: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
