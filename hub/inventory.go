package hub

import (
	"context"
	"fmt"
	"io/fs"
	"sync"

	"github.com/rolecd/rolecd/internal/forge"
	"github.com/rolecd/rolecd/planner/spec"
)

// Branch is the part of a Git source the inventory reads
// (gitsource.Source implements it).
type Branch interface {
	// BranchHead is the watched branch's commit as last fetched.
	BranchHead() (string, error)
	// Files is the role-file directory of commit sha.
	Files(sha string) (fs.FS, error)
}

// GitInventory is the Inventory of a Git branch: the role files of its
// head, loaded once per commit.
type GitInventory struct {
	Branch  Branch
	Options spec.Options

	mu     sync.Mutex
	commit string
	tree   *spec.Tree
}

// Head returns the branch head and its validated role files. Invalid role
// files on the branch are an error: the hub shows nothing it cannot trust.
func (g *GitInventory) Head(context.Context) (string, *spec.Tree, error) {
	head, err := g.Branch.BranchHead()
	if err != nil {
		return "", nil, fmt.Errorf("reading the branch head: %w", err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if head == g.commit && g.tree != nil {
		return head, g.tree, nil
	}
	fsys, err := g.Branch.Files(head)
	if err != nil {
		return "", nil, fmt.Errorf("reading role files at %s: %w", forge.Short(head), err)
	}
	tree, err := spec.Load(fsys, g.Options)
	if err != nil {
		return "", nil, fmt.Errorf("loading role files at %s: %w", forge.Short(head), err)
	}
	g.commit, g.tree = head, tree
	return head, tree, nil
}

// StaticInventory is a fixed tree (tests, or a hub over a local checkout).
type StaticInventory struct {
	Commit string
	Tree   *spec.Tree
}

// Head returns the fixed tree.
func (s StaticInventory) Head(context.Context) (string, *spec.Tree, error) {
	return s.Commit, s.Tree, nil
}
