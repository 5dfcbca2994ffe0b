package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// Every problem of rolecd.yaml is printed, each with its line and key.
func TestConfigProblemsAllPrinted(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"rolecd.yaml":    "git:\n  poll_interval: soon\n  brnch: main\ndrift:\n  action: fix\n",
		"roles/res.yaml": resourceYAML("app", "127.0.0.1", 5432),
	})
	cfg := filepath.Join(dir, "rolecd.yaml")
	r := rolecd(t, nil, "--config", cfg, "validate", filepath.Join(dir, "roles"))
	want := cfg + `:2: key git.poll_interval: want a duration such as 30s or 5m, got "soon"` + "\n" +
		cfg + `:3: key git.brnch: unknown key in git: want one of branch, cache_dir, path, poll_interval, ssh_key_file, timeout, token_env, url` + "\n" +
		cfg + `:5: key drift.action: "fix" is neither report nor remediate` + "\n" +
		"rolecd: 3 problem(s) in the configuration\n"
	if r.code != 1 || r.stderr != want {
		t.Errorf("exit %d, stderr:\n%s\nwant:\n%s", r.code, r.stderr, want)
	}
}

// validate refuses a role file over limits.max_file_size before reading it.
func TestValidateFileSizeLimit(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"rolecd.yaml":     "limits:\n  max_file_size: 1KiB\n",
		"roles/res.yaml":  resourceYAML("app", "127.0.0.1", 5432),
		"roles/big.yaml":  "roles: []\n" + strings.Repeat("# padding\n", 200),
		"roles/fine.yaml": "roles: []\n",
	})
	r := rolecd(t, nil, "--config", filepath.Join(dir, "rolecd.yaml"), "validate", filepath.Join(dir, "roles"))
	want := filepath.Join(dir, "roles") + "/big.yaml: file is 2.0 KiB, over the limit of 1 KiB per role file (limits.max_file_size in rolecd.yaml); not read\n"
	if r.code != 1 || r.stdout != want {
		t.Errorf("exit %d, stdout:\n%s\nwant:\n%s", r.code, r.stdout, want)
	}
}
