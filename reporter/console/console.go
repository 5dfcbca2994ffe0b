// Package console is the forge used without a github: section: plan
// comments, statuses, apply results and drift issues are printed to a
// writer (the demo uses it), and pull requests are declared in
// rolecd.yaml and read from the watched repository.
package console

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/rolecd/rolecd/internal/forge"
)

// Source is what the console reads of the watched repository
// (gitsource.Source implements it).
type Source interface {
	// FetchRef fetches one remote ref and returns its commit.
	FetchRef(ctx context.Context, ref string) (string, error)
	// BranchHead is the watched branch's commit as last fetched.
	BranchHead() (string, error)
	// PullHead is refs/pull/N/head as last fetched.
	PullHead(n int) (sha string, ok bool)
	// Touches reports whether headSHA changes the role-file directory
	// compared with the merge base of baseSHA and headSHA.
	Touches(baseSHA, headSHA string) (bool, error)
}

// PullRequest declares a pull request for the console forge: a branch of
// the watched repository proposed for merge into the watched branch.
type PullRequest struct {
	Number int
	// Branch is the proposed branch; empty means refs/pull/<Number>/head
	// (as GitHub publishes them, or as a local bare repository has them).
	Branch string
	Title  string
}

// Console is the reconciler's Forge without a github: section: it prints the plan
// comments, statuses, apply results and drift issues to a writer (the demo
// uses it), and takes its pull requests from a list (PullRequest). A
// pull request counts as merged once its head commit is reachable from the
// watched branch (a merge commit or a fast-forward; a squash or rebase
// merge is not seen, and is then reported by the drift check instead). Its
// merge commit is the branch head at the time the merge was first seen.
// Nobody can comment, so /rolecd apply does not exist here: a merge whose
// plan changed since review waits until it is applied by hand
// (`rolecd apply --sid`) or by drift remediation.
type Console struct {
	out    io.Writer
	src    Source
	branch string
	prs    []PullRequest

	mu sync.Mutex // serialises writes to out
}

// New returns a console forge printing to out.
func New(out io.Writer, src Source, branch string, prs []PullRequest) *Console {
	if branch == "" {
		branch = "main"
	}
	return &Console{out: out, src: src, branch: branch, prs: slices.Clone(prs)}
}

// ancestry is an optional capability of a Source: a direct ancestor test.
type ancestry interface {
	IsAncestor(ancestor, descendant string) (bool, error)
}

// ListOpenPRs returns the declared pull requests that are not merged.
// A declared branch that does not exist (yet) is left out.
func (c *Console) ListOpenPRs(ctx context.Context, base string) ([]forge.PR, error) {
	if base != "" && base != c.branch {
		return nil, nil
	}
	var out []forge.PR
	for _, p := range c.prs {
		pr, err := c.GetPR(ctx, p.Number)
		if err != nil {
			continue
		}
		if pr.State == "open" {
			out = append(out, pr)
		}
	}
	return out, nil
}

// GetPR reads a declared pull request's head from the repository.
func (c *Console) GetPR(ctx context.Context, n int) (forge.PR, error) {
	i := slices.IndexFunc(c.prs, func(p PullRequest) bool { return p.Number == n })
	if i < 0 {
		return forge.PR{}, fmt.Errorf("console: pull request #%d is not declared", n)
	}
	p := c.prs[i]
	pr := forge.PR{Number: n, Title: p.Title, State: "open", BaseRef: c.branch, HeadRef: p.Branch, Author: "console"}
	if pr.Title == "" {
		pr.Title = "PR #" + fmt.Sprint(n)
	}
	if p.Branch != "" {
		sha, err := c.src.FetchRef(ctx, "refs/heads/"+p.Branch)
		if err != nil {
			return forge.PR{}, fmt.Errorf("console: pull request #%d: %w", n, err)
		}
		pr.HeadSHA = sha
	} else {
		sha, ok := c.src.PullHead(n)
		if !ok {
			return forge.PR{}, fmt.Errorf("console: pull request #%d: no refs/pull/%d/head", n, n)
		}
		pr.HeadSHA = sha
	}
	branchHead, err := c.src.BranchHead()
	if err != nil {
		return forge.PR{}, fmt.Errorf("console: %w", err)
	}
	merged, err := c.reachable(pr.HeadSHA, branchHead)
	if err != nil {
		return forge.PR{}, fmt.Errorf("console: pull request #%d: %w", n, err)
	}
	if merged {
		pr.State, pr.Merged, pr.MergeCommitSHA = "closed", true, branchHead
	}
	return pr, nil
}

// reachable reports whether head is reachable from branchHead. Without an
// ancestor test it asks whether head still changes the role files against
// the branch (false once the branch contains it).
func (c *Console) reachable(head, branchHead string) (bool, error) {
	if head == branchHead {
		return true, nil
	}
	if a, ok := c.src.(ancestry); ok {
		return a.IsAncestor(head, branchHead)
	}
	touches, err := c.src.Touches(branchHead, head)
	return !touches, err
}

// PRFiles is unknown on the console (nil): a pull request first seen
// merged counts as not touching the role files, and the drift check
// reports what its merge changed.
func (c *Console) PRFiles(context.Context, int) ([]string, error) { return nil, nil }

// UpsertComment prints the comment.
func (c *Console) UpsertComment(_ context.Context, pr int, key string, parts []string) error {
	return c.print(fmt.Sprintf("comment on pull request #%d (%s)", pr, key), strings.Join(parts, "\n"))
}

// Comment prints the comment.
func (c *Console) Comment(_ context.Context, pr int, body string) error {
	return c.print(fmt.Sprintf("comment on pull request #%d", pr), body)
}

// SetStatus prints the status in one line.
func (c *Console) SetStatus(_ context.Context, sha, statusContext, state, description, _ string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, err := fmt.Fprintf(c.out, "status %s of %s: %s: %s\n", statusContext, forge.Short(sha), state, description)
	return err
}

// Permission is "none": nobody comments on the console.
func (c *Console) Permission(context.Context, string) (string, error) { return "none", nil }

// UpsertIssue prints the issue.
func (c *Console) UpsertIssue(_ context.Context, key, title, body string) (int, error) {
	return 0, c.print("issue "+key+": "+title, body)
}

// CloseIssue prints the closing comment.
func (c *Console) CloseIssue(_ context.Context, key, comment string) error {
	return c.print("issue "+key+" closed", comment)
}

func (c *Console) print(title, body string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	rule := strings.Repeat("─", 8)
	_, err := fmt.Fprintf(c.out, "%s rolecd %s %s\n%s\n%s\n", rule, title, rule, strings.TrimRight(body, "\n"), strings.Repeat("─", 40))
	return err
}
