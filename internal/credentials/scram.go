package credentials

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

const (
	// scramPrefix starts every SCRAM-SHA-256 verifier in pg_authid.
	scramPrefix = "SCRAM-SHA-256$"
	// scramIterations is PostgreSQL's default scram_iterations.
	scramIterations = 4096
	// scramSaltLen is the salt length PostgreSQL uses (SCRAM_DEFAULT_SALT_LEN).
	scramSaltLen = 16
	// md5Prefix starts a PostgreSQL md5 password hash.
	md5Prefix = "md5"
)

// errUnknownVerifier is returned for a verifier in no format PostgreSQL
// writes; the verifier itself is never echoed.
var errUnknownVerifier = errors.New("unrecognised password verifier format (want SCRAM-SHA-256$... or md5...)")

// SCRAMVerifier returns the SCRAM-SHA-256 verifier PostgreSQL stores for
// password (RFC 5802, RFC 7677): a random 16-byte salt, 4096 iterations, in
// PostgreSQL's format
//
//	SCRAM-SHA-256$4096:<salt>$<StoredKey>:<ServerKey>
//
// with standard, padded base64. Giving PostgreSQL this verifier in
// CREATE/ALTER ROLE ... PASSWORD sets the password without the plaintext
// ever reaching the server. The password is prepared with SASLprep the way
// PostgreSQL prepares it (see saslPrep).
func SCRAMVerifier(password string) (string, error) {
	salt := make([]byte, scramSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("generating SCRAM salt: %w", err)
	}
	storedKey, serverKey, err := scramKeys(password, salt, scramIterations)
	if err != nil {
		return "", err
	}
	return formatVerifier(scramIterations, salt, storedKey, serverKey), nil
}

// formatVerifier writes a verifier in PostgreSQL's text form.
func formatVerifier(iterations int, salt, storedKey, serverKey []byte) string {
	enc := base64.StdEncoding
	return scramPrefix + strconv.Itoa(iterations) + ":" + enc.EncodeToString(salt) +
		"$" + enc.EncodeToString(storedKey) + ":" + enc.EncodeToString(serverKey)
}

// scramKeys derives StoredKey and ServerKey from a password, salt and
// iteration count.
func scramKeys(password string, salt []byte, iterations int) (storedKey, serverKey []byte, err error) {
	salted, err := pbkdf2.Key(sha256.New, saslPrep(password), salt, iterations, sha256.Size)
	if err != nil {
		return nil, nil, fmt.Errorf("deriving SCRAM key: %w", err)
	}
	clientKey := hmacSHA256(salted, "Client Key")
	sum := sha256.Sum256(clientKey)
	return sum[:], hmacSHA256(salted, "Server Key"), nil
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// VerifyPassword reports whether password matches verifier, the value of
// pg_authid.rolpassword for roleName. For a SCRAM-SHA-256 verifier it
// recomputes StoredKey and ServerKey with the verifier's own salt and
// iteration count and compares them in constant time; for PostgreSQL's
// legacy md5 form it compares md5(password || roleName) in constant time.
// An empty verifier (no password set) matches nothing: false, nil. Any
// other format is an error, which never contains the verifier.
func VerifyPassword(verifier, roleName, password string) (bool, error) {
	switch {
	case verifier == "":
		return false, nil
	case strings.HasPrefix(verifier, scramPrefix):
		return verifySCRAM(verifier, password)
	case strings.HasPrefix(verifier, md5Prefix):
		return verifyMD5(verifier, roleName, password)
	default:
		return false, errUnknownVerifier
	}
}

// verifySCRAM checks password against a SCRAM-SHA-256 verifier.
func verifySCRAM(verifier, password string) (bool, error) {
	iterations, salt, storedKey, serverKey, err := parseSCRAM(verifier)
	if err != nil {
		return false, err
	}
	gotStored, gotServer, err := scramKeys(password, salt, iterations)
	if err != nil {
		return false, err
	}
	// Both comparisons always run, so timing does not say which one failed.
	ok := subtle.ConstantTimeCompare(gotStored, storedKey) & subtle.ConstantTimeCompare(gotServer, serverKey)
	return ok == 1, nil
}

// parseSCRAM splits SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>.
func parseSCRAM(verifier string) (iterations int, salt, storedKey, serverKey []byte, err error) {
	malformed := func(what string) error {
		return fmt.Errorf("malformed SCRAM-SHA-256 verifier: %s", what)
	}
	rest := strings.TrimPrefix(verifier, scramPrefix)
	iterSalt, keys, ok := strings.Cut(rest, "$")
	if !ok {
		return 0, nil, nil, nil, malformed("no keys")
	}
	iterText, saltText, ok := strings.Cut(iterSalt, ":")
	if !ok {
		return 0, nil, nil, nil, malformed("no salt")
	}
	n, err := strconv.ParseInt(iterText, 10, 64)
	if err != nil || n < 1 || n > math.MaxInt32 {
		return 0, nil, nil, nil, malformed("bad iteration count")
	}
	storedText, serverText, ok := strings.Cut(keys, ":")
	if !ok {
		return 0, nil, nil, nil, malformed("no server key")
	}
	enc := base64.StdEncoding
	if salt, err = enc.DecodeString(saltText); err != nil || len(salt) == 0 {
		return 0, nil, nil, nil, malformed("bad salt")
	}
	if storedKey, err = enc.DecodeString(storedText); err != nil || len(storedKey) != sha256.Size {
		return 0, nil, nil, nil, malformed("bad stored key")
	}
	if serverKey, err = enc.DecodeString(serverText); err != nil || len(serverKey) != sha256.Size {
		return 0, nil, nil, nil, malformed("bad server key")
	}
	return int(n), salt, storedKey, serverKey, nil
}

// verifyMD5 checks password against "md5" + hex(md5(password || roleName)).
// PostgreSQL applies no SASLprep to md5 passwords, and neither do we.
func verifyMD5(verifier, roleName, password string) (bool, error) {
	want := strings.TrimPrefix(verifier, md5Prefix)
	if len(want) != 2*md5.Size {
		return false, errUnknownVerifier
	}
	if _, err := hex.DecodeString(want); err != nil {
		return false, errUnknownVerifier
	}
	sum := md5.Sum([]byte(password + roleName))
	got := hex.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(got), []byte(strings.ToLower(want))) == 1, nil
}
