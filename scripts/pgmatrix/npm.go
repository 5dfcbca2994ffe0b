package main

import (
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// npmClient runs the npm client, the ordinary way to reach the npm registry.
type npmClient struct {
	// Registry is passed as --registry when set; empty: npm's configuration.
	Registry string
	// Cache is passed as --cache when set; empty: npm's own cache.
	Cache string
	// Args are added to every npm command (e.g. --fetch-retries=0).
	Args []string
}

// run runs npm with args in dir and returns its standard output.
func (n npmClient) run(ctx context.Context, dir string, args ...string) ([]byte, error) {
	path, err := exec.LookPath("npm")
	if err != nil {
		return nil, fmt.Errorf("npm not found on PATH (install Node.js and npm; make test-matrix does it with apt-get): %w", err)
	}
	if n.Registry != "" {
		args = append(args, "--registry", n.Registry)
	}
	if n.Cache != "" {
		args = append(args, "--cache", n.Cache)
	}
	args = append(args, n.Args...)
	args = append(args, "--no-update-notifier", "--no-fund", "--no-audit")
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("npm %s: %w: %s", args[0], err, lastLines(stderr.String(), 6))
	}
	return stdout.Bytes(), nil
}

// Versions lists the published versions of pkg.
func (n npmClient) Versions(ctx context.Context, pkg string) ([]string, error) {
	out, err := n.run(ctx, "", "view", pkg, "versions", "--json")
	if err != nil {
		return nil, err
	}
	// One version comes as a string, several as an array.
	var versions []string
	if err := json.Unmarshal(out, &versions); err != nil {
		var one string
		if err := json.Unmarshal(out, &one); err != nil {
			return nil, fmt.Errorf("npm view %s versions: unexpected output %q", pkg, lastLines(string(out), 3))
		}
		versions = []string{one}
	}
	return versions, nil
}

// Integrity returns the registry's dist.integrity of spec (pkg@version).
func (n npmClient) Integrity(ctx context.Context, spec string) (string, error) {
	out, err := n.run(ctx, "", "view", spec, "dist.integrity", "--json")
	if err != nil {
		return "", err
	}
	var sri string
	if err := json.Unmarshal(out, &sri); err != nil || sri == "" {
		return "", fmt.Errorf("npm view %s dist.integrity: unexpected output %q", spec, lastLines(string(out), 3))
	}
	return sri, nil
}

// Pack downloads the tarball of spec into dir and returns its path.
func (n npmClient) Pack(ctx context.Context, spec, dir string) (string, error) {
	out, err := n.run(ctx, dir, "pack", spec, "--pack-destination", dir, "--json")
	if err != nil {
		return "", err
	}
	var packed []struct {
		Filename string `json:"filename"`
	}
	if err := json.Unmarshal(out, &packed); err != nil || len(packed) != 1 || packed[0].Filename == "" {
		return "", fmt.Errorf("npm pack %s: unexpected output %q", spec, lastLines(string(out), 3))
	}
	name := filepath.Base(packed[0].Filename)
	path := filepath.Join(dir, name)
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("npm pack %s: %w", spec, err)
	}
	return path, nil
}

// verifyIntegrity checks the file against a Subresource Integrity string
// as npm publishes it ("sha512-<base64>", several hashes separated by
// spaces): one sha512 hash must match.
func verifyIntegrity(path, sri string) error {
	var want []string
	for _, h := range strings.Fields(sri) {
		digest, _, _ := strings.Cut(h, "?") // options follow a "?"
		if b64, ok := strings.CutPrefix(digest, "sha512-"); ok {
			want = append(want, b64)
		}
	}
	if len(want) == 0 {
		return fmt.Errorf("integrity %q has no sha512 hash", sri)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("verifying integrity: %w", err)
	}
	defer f.Close()
	h := sha512.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("verifying integrity of %s: %w", path, err)
	}
	got := base64.StdEncoding.EncodeToString(h.Sum(nil))
	for _, w := range want {
		if w == got {
			return nil
		}
	}
	return &integrityError{path: path, got: "sha512-" + got, want: sri}
}

// integrityError says a downloaded file is not the one the registry
// describes.
type integrityError struct{ path, got, want string }

func (e *integrityError) Error() string {
	return fmt.Sprintf("%s: integrity mismatch: got %s, want %s", filepath.Base(e.path), e.got, e.want)
}

// errIntegrity matches every integrityError (errors.Is).
var errIntegrity = errors.New("integrity mismatch")

func (e *integrityError) Is(target error) bool { return target == errIntegrity }

// lastLines returns the last n non-empty lines of s, joined by " | ".
func lastLines(s string, n int) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
