// Package credentials generates role passwords, turns them into the
// SCRAM-SHA-256 verifiers PostgreSQL stores (so the plaintext never reaches
// the server or its logs), checks a password against a live verifier, and
// encrypts passwords at rest with AES-256-GCM under a key loaded by LoadKey.
package credentials

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
)

// passwordBytes is the entropy of a generated password.
const passwordBytes = 32

// GeneratePassword returns 32 random bytes from crypto/rand, base64url
// encoded without padding (43 characters of [A-Za-z0-9_-]).
func GeneratePassword() (string, error) {
	b := make([]byte, passwordBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating password: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
