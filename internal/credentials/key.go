package credentials

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// EnvSecretKey names the environment variable holding the secret key
// (base64 of 32 bytes); it wins over every key file.
const EnvSecretKey = "ROLECD_SECRET_KEY"

// maxKeyFile bounds how much of a key file is read.
const maxKeyFile = 4096

// LoadKey returns the 32-byte secret key, from the first of:
//
//  1. $ROLECD_SECRET_KEY (through getenv), base64;
//  2. keyFile, the configured secret_key_file, when not empty: it must
//     exist and hold base64 text;
//  3. defaultFile: read when it exists; otherwise created with a new random
//     key (parent directory 0700, file 0600), and created is true so the
//     caller can say so.
//
// A key file that group or others may access is refused with an error
// naming the path and the chmod to run. Errors name where the key came
// from, never the key.
func LoadKey(getenv func(string) string, keyFile, defaultFile string) (key []byte, created bool, err error) {
	if s := getenv(EnvSecretKey); s != "" {
		key, err := decodeKey(s)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", EnvSecretKey, err)
		}
		return key, false, nil
	}
	if keyFile != "" {
		key, err := readKeyFile(keyFile)
		return key, false, err
	}
	if defaultFile == "" {
		return nil, false, fmt.Errorf("no secret key: set %s or secret_key_file", EnvSecretKey)
	}
	key, err = readKeyFile(defaultFile)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return key, false, err
	}
	return createKeyFile(defaultFile)
}

// decodeKey decodes base64 (standard or URL alphabet, padded or not) text
// into a 32-byte key.
func decodeKey(text string) ([]byte, error) {
	text = strings.TrimSpace(text)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		key, err := enc.DecodeString(text)
		if err != nil {
			continue
		}
		if len(key) != KeySize {
			return nil, fmt.Errorf("key decodes to %d bytes, want %d (make one with: head -c 32 /dev/urandom | base64)", len(key), KeySize)
		}
		return key, nil
	}
	return nil, errors.New("key is not valid base64 (make one with: head -c 32 /dev/urandom | base64)")
}

// readKeyFile reads and decodes a key file after checking its mode.
func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading secret key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading secret key file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("secret key file %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, fmt.Errorf("secret key file %s is accessible by group or others (mode %04o): run chmod 600 %s", path, perm, path)
	}
	text, err := io.ReadAll(io.LimitReader(f, maxKeyFile))
	if err != nil {
		return nil, fmt.Errorf("reading secret key file %s: %w", path, err)
	}
	key, err := decodeKey(string(text))
	if err != nil {
		return nil, fmt.Errorf("secret key file %s: %w", path, err)
	}
	return key, nil
}

// createKeyFile writes a new random key to path, atomically: the file
// appears complete or not at all. When another process created it first,
// that key is returned (created is false).
func createKeyFile(path string) (key []byte, created bool, err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("creating secret key directory: %w", err)
	}
	key = make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, false, fmt.Errorf("generating secret key: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".rolecd-key-*")
	if err != nil {
		return nil, false, fmt.Errorf("creating secret key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(base64.StdEncoding.EncodeToString(key) + "\n")
	if err == nil {
		err = tmp.Chmod(0o600)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if closeErr := tmp.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		return nil, false, fmt.Errorf("writing secret key file: %w", err)
	}
	// A hard link fails, instead of replacing, when path exists.
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			key, err := readKeyFile(path)
			return key, false, err
		}
		return nil, false, fmt.Errorf("creating secret key file: %w", err)
	}
	syncDir(dir)
	return key, true, nil
}

// syncDir makes a new directory entry durable where the platform allows;
// failing to is not an error (the key is already written).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}
