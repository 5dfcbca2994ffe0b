package credentials

// Keeper owns rolecd's secrets from birth to use: it generates a role's
// password, derives the SCRAM-SHA-256 verifier PostgreSQL stores, seals
// the plaintext for the store and opens it again, and checks a stored
// password against a live verifier. Every sealed secret is bound to the
// record it belongs to (RoleLabel, AdminLabel), so a ciphertext copied to
// another role or resource does not open. It is safe for concurrent use.
type Keeper struct {
	cipher *Cipher
}

// NewKeeper returns a Keeper sealing with c.
func NewKeeper(c *Cipher) *Keeper {
	return &Keeper{cipher: c}
}

// RoleLabel is the record a role's stored password is sealed to.
func RoleLabel(roleName string) string { return "role:" + roleName }

// AdminLabel is the record a resource's stored admin password is sealed to.
func AdminLabel(resource string) string { return "admin:" + resource }

// NewPassword makes a fresh password for roleName: its SCRAM-SHA-256
// verifier for PostgreSQL and the plaintext sealed for the store. The
// plaintext itself is never returned.
func (k *Keeper) NewPassword(roleName string) (verifier string, ciphertext []byte, err error) {
	pw, err := GeneratePassword()
	if err != nil {
		return "", nil, err
	}
	verifier, err = SCRAMVerifier(pw)
	if err != nil {
		return "", nil, err
	}
	ciphertext, err = k.SealRole(roleName, pw)
	if err != nil {
		return "", nil, err
	}
	return verifier, ciphertext, nil
}

// SealRole seals password as roleName's stored password.
func (k *Keeper) SealRole(roleName, password string) ([]byte, error) {
	return k.cipher.Seal([]byte(password), RoleLabel(roleName))
}

// OpenRole opens roleName's stored password; an error matching ErrDecrypt
// when it was sealed for another role, under another key, or altered.
func (k *Keeper) OpenRole(roleName string, ciphertext []byte) (string, error) {
	pw, err := k.cipher.Open(ciphertext, RoleLabel(roleName))
	if err != nil {
		return "", err
	}
	return string(pw), nil
}

// SealAdmin seals password as resource's stored admin password.
func (k *Keeper) SealAdmin(resource, password string) ([]byte, error) {
	return k.cipher.Seal([]byte(password), AdminLabel(resource))
}

// OpenAdmin opens resource's stored admin password; an error matching
// ErrDecrypt when it was sealed for another resource, under another key,
// or altered.
func (k *Keeper) OpenAdmin(resource string, ciphertext []byte) (string, error) {
	pw, err := k.cipher.Open(ciphertext, AdminLabel(resource))
	if err != nil {
		return "", err
	}
	return string(pw), nil
}

// MatchesStored reports whether roleName's stored password (ciphertext,
// as SealRole returned it) is the one a live verifier was made from: see
// VerifyPassword.
func (k *Keeper) MatchesStored(roleName string, ciphertext []byte, verifier string) (bool, error) {
	pw, err := k.OpenRole(roleName, ciphertext)
	if err != nil {
		return false, err
	}
	return VerifyPassword(verifier, roleName, pw)
}
