package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/rolecd/rolecd/gitsource"
	"github.com/rolecd/rolecd/planner/spec"
)

// loadTrusted reads --trusted-inventory for the role files in dir: a git
// revision of the repository holding dir (read with go-git, so a pull
// request's checkout cannot change it), else a directory of role files
// outside that repository's work tree. It returns the tree and how to name
// it in messages.
func loadTrusted(value, dir string, opts spec.Options) (*spec.Tree, string, error) {
	local, repoErr := gitsource.OpenLocal(dir)
	if repoErr == nil {
		fsys, sha, err := local.Files(value)
		switch {
		case err == nil:
			name := fmt.Sprintf("%s (%s)", value, sha[:12])
			tree, err := spec.Load(fsys, opts)
			return tree, name, trustedErr(name, err)
		case !errors.Is(err, gitsource.ErrNoRevision):
			return nil, "", fmt.Errorf("trusted inventory %s: %w", value, err)
		}
		if local.Contains(value) {
			return nil, "", fmt.Errorf("trusted inventory %s: neither a git revision nor a directory outside the work tree %s "+
				"(files in the checkout being planned are not trusted)", value, local.Root)
		}
	}
	st, err := os.Stat(value)
	if err != nil || !st.IsDir() {
		if repoErr == nil {
			return nil, "", fmt.Errorf("trusted inventory %s: not a git revision of %s nor a directory", value, local.Root)
		}
		return nil, "", fmt.Errorf("trusted inventory %s: not a directory (and %s is in no git repository, so no revision either)", value, dir)
	}
	tree, err := spec.Load(os.DirFS(value), opts)
	return tree, value, trustedErr(value, prefixErrors(err, value))
}

// trustedErr names the trusted inventory in its validation errors.
func trustedErr(name string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("trusted inventory %s has invalid role files (fix them there first): %w", name, err)
}
