package reconciler

import (
	"context"

	"github.com/rolecd/rolecd/reporter/github"
)

// GitHub is the Forge of a reporter/github client.
type GitHub struct{ Client *github.Client }

var _ Forge = GitHub{}

// ListOpenPRs lists the open pull requests targeting base.
func (g GitHub) ListOpenPRs(ctx context.Context, base string) ([]PR, error) {
	prs, err := g.Client.ListOpenPRs(ctx, base)
	if err != nil {
		return nil, err
	}
	out := make([]PR, len(prs))
	for i, p := range prs {
		out[i] = PR(p)
	}
	return out, nil
}

// GetPR returns pull request n.
func (g GitHub) GetPR(ctx context.Context, n int) (PR, error) {
	p, err := g.Client.GetPR(ctx, n)
	return PR(p), err
}

// PRFiles lists the files pull request n changes.
func (g GitHub) PRFiles(ctx context.Context, n int) ([]string, error) {
	return g.Client.PRFiles(ctx, n)
}

// UpsertComment keeps one comment series per (pr, key).
func (g GitHub) UpsertComment(ctx context.Context, pr int, key string, parts []string) error {
	return g.Client.UpsertComment(ctx, pr, key, parts)
}

// Comment adds a comment.
func (g GitHub) Comment(ctx context.Context, pr int, body string) error {
	return g.Client.Comment(ctx, pr, body)
}

// SetStatus sets a commit status.
func (g GitHub) SetStatus(ctx context.Context, sha, statusContext, state, description, targetURL string) error {
	return g.Client.SetStatus(ctx, sha, statusContext, state, description, targetURL)
}

// Permission is user's repository permission.
func (g GitHub) Permission(ctx context.Context, user string) (string, error) {
	return g.Client.Permission(ctx, user)
}

// UpsertIssue keeps one open issue per key.
func (g GitHub) UpsertIssue(ctx context.Context, key, title, body string) (int, error) {
	return g.Client.UpsertIssue(ctx, key, title, body)
}

// CloseIssue closes the open issue of key.
func (g GitHub) CloseIssue(ctx context.Context, key, comment string) error {
	return g.Client.CloseIssue(ctx, key, comment)
}
