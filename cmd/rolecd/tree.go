package main

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"

	"github.com/rolecd/rolecd/config"
	"github.com/rolecd/rolecd/planner/spec"
)

// loadConfig reads --config; the default ./rolecd.yaml may be absent.
// --store replaces the configured store (so the credential policy knows
// the key file beside it).
func (g *globals) loadConfig() (config.Config, error) {
	cfg, err := config.Load(g.configPath, !g.configExplicit, g.getenv)
	if err == nil && g.store != "" {
		cfg.Store = g.store
	}
	return cfg, err
}

// repoDir is --repo, else the config's git path, else ".".
func (g *globals) repoDir(cfg config.Config) string {
	switch {
	case g.repo != "":
		return g.repo
	case cfg.Git.URL == "" && cfg.Git.Path != "":
		return cfg.Git.Path
	default:
		return "."
	}
}

// loadTree loads and validates the role-files tree. On validation errors
// it returns spec.Errors whose file names include the tree's directory.
func (g *globals) loadTree() (*spec.Tree, config.Config, string, error) {
	cfg, err := g.loadConfig()
	if err != nil {
		return nil, cfg, "", err
	}
	dir := g.repoDir(cfg)
	st, err := os.Stat(dir)
	if err != nil {
		return nil, cfg, dir, fmt.Errorf("role files: %w", err)
	}
	if !st.IsDir() {
		return nil, cfg, dir, fmt.Errorf("role files: %s is not a directory", dir)
	}
	tree, err := spec.Load(os.DirFS(dir), spec.Options{Prefix: cfg.RolePrefix, Credentials: cfg.CredentialPolicy()})
	return tree, cfg, dir, prefixErrors(err, dir)
}

// prefixErrors makes validation positions relative to the working directory.
func prefixErrors(err error, dir string) error {
	var es spec.Errors
	if err == nil || !errors.As(err, &es) || filepath.Clean(dir) == "." {
		return err
	}
	out := make(spec.Errors, len(es))
	for i, e := range es {
		e.Pos.File = path.Join(filepath.ToSlash(dir), e.Pos.File)
		out[i] = e
	}
	return out
}
