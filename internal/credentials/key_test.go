package credentials

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// env returns a getenv that knows only vars.
func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func writeKeyFile(t *testing.T, path string, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // umask-proof
		t.Fatal(err)
	}
}

func TestLoadKeyPrecedence(t *testing.T) {
	dir := t.TempDir()
	envKey, fileKey, defKey := testKey(1), testKey(2), testKey(3)
	keyFile := filepath.Join(dir, "configured.key")
	defFile := filepath.Join(dir, "default.key")
	writeKeyFile(t, keyFile, base64.StdEncoding.EncodeToString(fileKey)+"\n", 0o600)
	writeKeyFile(t, defFile, base64.StdEncoding.EncodeToString(defKey), 0o600)
	withEnv := env(map[string]string{EnvSecretKey: base64.StdEncoding.EncodeToString(envKey)})
	noEnv := env(nil)

	tests := []struct {
		name             string
		getenv           func(string) string
		keyFile, defFile string
		want             []byte
	}{
		{"env wins over both files", withEnv, keyFile, defFile, envKey},
		{"env wins over default file", withEnv, "", defFile, envKey},
		{"configured file wins over default", noEnv, keyFile, defFile, fileKey},
		{"default file", noEnv, "", defFile, defKey},
		{"env in raw url base64", env(map[string]string{EnvSecretKey: base64.RawURLEncoding.EncodeToString(envKey)}), "", defFile, envKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, created, err := LoadKey(tt.getenv, tt.keyFile, tt.defFile)
			if err != nil {
				t.Fatal(err)
			}
			if created || !bytes.Equal(key, tt.want) {
				t.Errorf("LoadKey = %x, created %v; want %x, false", key, created, tt.want)
			}
		})
	}
}

func TestLoadKeyCreatesDefault(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", ".rolecd")
	path := filepath.Join(dir, "secret.key")
	key, created, err := LoadKey(env(nil), "", path)
	if err != nil {
		t.Fatal(err)
	}
	if !created || len(key) != KeySize {
		t.Fatalf("LoadKey created %v a %d-byte key; want a new 32-byte key", created, len(key))
	}
	for p, want := range map[string]os.FileMode{path: 0o600, dir: 0o700} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s has mode %04o, want %04o", p, fi.Mode().Perm(), want)
		}
	}
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(text))); err != nil || !bytes.Equal(got, key) {
		t.Errorf("key file holds %q, want the base64 of the returned key", text)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("key directory holds %d entries, want only the key file", len(entries))
	}

	again, created, err := LoadKey(env(nil), "", path)
	if err != nil {
		t.Fatal(err)
	}
	if created || !bytes.Equal(again, key) {
		t.Errorf("second LoadKey created %v key %x; want the same key, not created", created, again)
	}
}

func TestLoadKeyErrors(t *testing.T) {
	dir := t.TempDir()
	secretText := base64.StdEncoding.EncodeToString(testKey(7))
	short := base64.StdEncoding.EncodeToString(make([]byte, 16))
	file := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		writeKeyFile(t, p, content, mode)
		return p
	}
	open := file("open.key", secretText, 0o644)
	groupOnly := file("group.key", secretText, 0o640)
	shortFile := file("short.key", short, 0o600)
	junk := file("junk.key", "not base64 at all!", 0o600)
	missing := filepath.Join(dir, "missing.key")

	tests := []struct {
		name             string
		getenv           func(string) string
		keyFile, defFile string
		want             []string
	}{
		{"world-readable configured file", env(nil), open, "", []string{open, "chmod 600 " + open, "0644"}},
		{"group-readable default file", env(nil), "", groupOnly, []string{groupOnly, "chmod 600 " + groupOnly}},
		{"configured file must exist", env(nil), missing, filepath.Join(dir, "unused.key"), []string{missing}},
		{"short key in file", env(nil), shortFile, "", []string{shortFile, "16 bytes, want 32"}},
		{"bad base64 in file", env(nil), junk, "", []string{junk, "not valid base64"}},
		{"short key in env", env(map[string]string{EnvSecretKey: short}), open, "", []string{EnvSecretKey, "16 bytes"}},
		{"long key in env", env(map[string]string{EnvSecretKey: base64.StdEncoding.EncodeToString(make([]byte, 48))}), "", "", []string{EnvSecretKey, "48 bytes"}},
		{"bad base64 in env", env(map[string]string{EnvSecretKey: "%%%"}), "", "", []string{EnvSecretKey, "not valid base64"}},
		{"nowhere to look", env(nil), "", "", []string{EnvSecretKey, "secret_key_file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, _, err := LoadKey(tt.getenv, tt.keyFile, tt.defFile)
			if err == nil {
				t.Fatalf("LoadKey succeeded with %x", key)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), secretText) || strings.Contains(err.Error(), short) {
				t.Errorf("error %q contains the key", err)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "unused.key")); !os.IsNotExist(err) {
		t.Error("a missing configured key file made LoadKey create the default one")
	}
}

func TestLoadKeyConcurrentCreation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret.key")
	const n = 8
	type result struct {
		key     []byte
		created bool
		err     error
	}
	results := make(chan result, n)
	start := make(chan struct{})
	for range n {
		go func() {
			<-start
			key, created, err := LoadKey(env(nil), "", path)
			results <- result{key, created, err}
		}()
	}
	close(start)
	var first []byte
	createdCount := 0
	for range n {
		r := <-results
		if r.err != nil {
			t.Fatal(r.err)
		}
		if r.created {
			createdCount++
		}
		if first == nil {
			first = r.key
		} else if !bytes.Equal(first, r.key) {
			t.Fatal("concurrent LoadKey calls returned different keys")
		}
	}
	if createdCount != 1 {
		t.Errorf("%d calls say they created the key, want 1", createdCount)
	}
}
