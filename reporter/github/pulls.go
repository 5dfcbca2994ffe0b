package github

import (
	"context"
	"fmt"

	gh "github.com/google/go-github/v60/github"

	"github.com/rolecd/rolecd/internal/forge"
)

// perPage is the page size of every list call (GitHub's maximum).
const perPage = 100

func prOf(p *gh.PullRequest) forge.PR {
	return forge.PR{
		Number: p.GetNumber(), Title: p.GetTitle(), State: p.GetState(),
		BaseRef: p.GetBase().GetRef(), HeadRef: p.GetHead().GetRef(), HeadSHA: p.GetHead().GetSHA(),
		Author: p.GetUser().GetLogin(),
		// The list endpoint leaves "merged" out; merged_at says it too.
		Merged:         p.GetMerged() || p.MergedAt != nil,
		MergeCommitSHA: p.GetMergeCommitSHA(),
	}
}

// ListOpenPRs returns the open pull requests targeting base (every base
// when empty), newest first, across all pages.
func (c *Client) ListOpenPRs(ctx context.Context, base string) ([]forge.PR, error) {
	prs, err := listAll(ctx, c, "listing open pull requests", func(api *gh.Client, page int) ([]*gh.PullRequest, *gh.Response, error) {
		opts := &gh.PullRequestListOptions{State: "open", Base: base, ListOptions: gh.ListOptions{Page: page, PerPage: perPage}}
		return api.PullRequests.List(ctx, c.owner, c.repo, opts)
	})
	if err != nil {
		return nil, err
	}
	out := make([]forge.PR, 0, len(prs))
	for _, p := range prs {
		out = append(out, prOf(p))
	}
	return out, nil
}

// GetPR returns pull request n.
func (c *Client) GetPR(ctx context.Context, n int) (forge.PR, error) {
	var p *gh.PullRequest
	err := c.call(ctx, fmt.Sprintf("getting pull request #%d", n), func(api *gh.Client) (*gh.Response, error) {
		var resp *gh.Response
		var err error
		p, resp, err = api.PullRequests.Get(ctx, c.owner, c.repo, n)
		return resp, err
	})
	if err != nil {
		return forge.PR{}, err
	}
	return prOf(p), nil
}

// PRFiles returns the paths pull request n changes, across all pages; a
// renamed file counts with both its old and its new path.
func (c *Client) PRFiles(ctx context.Context, n int) ([]string, error) {
	files, err := listAll(ctx, c, fmt.Sprintf("listing files of pull request #%d", n), func(api *gh.Client, page int) ([]*gh.CommitFile, *gh.Response, error) {
		return api.PullRequests.ListFiles(ctx, c.owner, c.repo, n, &gh.ListOptions{Page: page, PerPage: perPage})
	})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, f := range files {
		out = append(out, f.GetFilename())
		if prev := f.GetPreviousFilename(); prev != "" {
			out = append(out, prev)
		}
	}
	return out, nil
}

// listAll follows the Link header's next page until the last one; each
// page is one call with its own retries.
func listAll[T any](ctx context.Context, c *Client, op string, list func(api *gh.Client, page int) ([]T, *gh.Response, error)) ([]T, error) {
	var out []T
	for page := 1; page != 0; {
		var items []T
		var resp *gh.Response
		err := c.call(ctx, op, func(api *gh.Client) (*gh.Response, error) {
			var err error
			items, resp, err = list(api, page)
			return resp, err
		})
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
		page = resp.NextPage
	}
	return out, nil
}
