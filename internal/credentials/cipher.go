package credentials

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// KeySize is the length of a secret key: AES-256.
const KeySize = 32

// cipherVersion is the first byte of every ciphertext, so the format can
// change later without guessing.
const cipherVersion byte = 1

// nonceSize is GCM's standard 96-bit nonce.
const nonceSize = 12

// ErrDecrypt is returned by Open when a ciphertext does not authenticate:
// another key, another record (aad), or altered bytes.
var ErrDecrypt = errors.New("cannot decrypt: wrong key, wrong record or tampered data")

// Cipher encrypts secrets at rest with AES-256-GCM. It is safe for
// concurrent use.
type Cipher struct {
	aead cipher.AEAD
}

// NewCipher returns a Cipher for a 32-byte key.
func NewCipher(key []byte) (*Cipher, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secret key is %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("creating AES cipher: %w", err)
	}
	aead, err := cipher.NewGCMWithNonceSize(block, nonceSize)
	if err != nil {
		return nil, fmt.Errorf("creating GCM: %w", err)
	}
	return &Cipher{aead: aead}, nil
}

// Seal encrypts plaintext bound to aad, the record it belongs to (e.g.
// "role:<name>" or "admin:<resource>"): Open succeeds only with the same
// aad. The output is a version byte, a random nonce and the ciphertext
// with its tag.
func (c *Cipher) Seal(plaintext []byte, aad string) ([]byte, error) {
	nonce := make([]byte, nonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("generating nonce: %w", err)
	}
	out := make([]byte, 0, 1+nonceSize+len(plaintext)+c.aead.Overhead())
	out = append(out, cipherVersion)
	out = append(out, nonce...)
	return c.aead.Seal(out, nonce, plaintext, []byte(aad)), nil
}

// Open decrypts what Seal returned for the same aad. A ciphertext sealed
// under another key or aad, or altered, yields an error matching ErrDecrypt;
// no error contains the data.
func (c *Cipher) Open(ciphertext []byte, aad string) ([]byte, error) {
	if len(ciphertext) < 1+nonceSize+c.aead.Overhead() {
		return nil, fmt.Errorf("ciphertext too short (%d bytes): %w", len(ciphertext), ErrDecrypt)
	}
	if v := ciphertext[0]; v != cipherVersion {
		return nil, fmt.Errorf("unknown ciphertext version %d", v)
	}
	nonce, sealed := ciphertext[1:1+nonceSize], ciphertext[1+nonceSize:]
	plaintext, err := c.aead.Open(nil, nonce, sealed, []byte(aad))
	if err != nil {
		return nil, ErrDecrypt
	}
	return plaintext, nil
}
