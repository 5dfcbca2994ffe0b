package github

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	gh "github.com/google/go-github/v60/github"
)

// IssueMarker is the hidden first line of the issue of key:
// "<!-- rolecd:<key> -->".
func IssueMarker(key string) string {
	return "<!-- rolecd:" + key + " -->"
}

// UpsertIssue keeps one open issue per key: it edits the open issue whose
// body starts with IssueMarker(key) (left alone when unchanged), or opens a
// new one, and returns its number.
func (c *Client) UpsertIssue(ctx context.Context, key, title, body string) (int, error) {
	if err := checkKey(key); err != nil {
		return 0, err
	}
	if title == "" {
		return 0, fmt.Errorf("github: issue %s: empty title", key)
	}
	full := IssueMarker(key) + "\n" + body
	if n := utf8.RuneCountInString(full); n > MaxBody {
		return 0, fmt.Errorf("github: issue %s body is %d characters, over GitHub's %d", key, n, MaxBody)
	}
	open, err := c.openIssue(ctx, key)
	if err != nil {
		return 0, err
	}
	req := &gh.IssueRequest{Title: gh.String(title), Body: gh.String(full)}
	if open != nil {
		if open.GetTitle() == title && open.GetBody() == full {
			return open.GetNumber(), nil
		}
		n := open.GetNumber()
		return n, c.call(ctx, fmt.Sprintf("editing issue #%d", n), func(api *gh.Client) (*gh.Response, error) {
			_, resp, err := api.Issues.Edit(ctx, c.owner, c.repo, n, req)
			return resp, err
		})
	}
	var created *gh.Issue
	err = c.call(ctx, "opening issue "+key, func(api *gh.Client) (*gh.Response, error) {
		var resp *gh.Response
		var err error
		created, resp, err = api.Issues.Create(ctx, c.owner, c.repo, req)
		return resp, err
	})
	if err != nil {
		return 0, err
	}
	return created.GetNumber(), nil
}

// CloseIssue closes the open issue of key, after adding comment when it is
// not empty. It does nothing when there is no such issue.
func (c *Client) CloseIssue(ctx context.Context, key, comment string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	open, err := c.openIssue(ctx, key)
	if err != nil || open == nil {
		return err
	}
	n := open.GetNumber()
	if comment != "" {
		if err := c.Comment(ctx, n, comment); err != nil {
			return err
		}
	}
	req := &gh.IssueRequest{State: gh.String("closed"), StateReason: gh.String("completed")}
	return c.call(ctx, fmt.Sprintf("closing issue #%d", n), func(api *gh.Client) (*gh.Response, error) {
		_, resp, err := api.Issues.Edit(ctx, c.owner, c.repo, n, req)
		return resp, err
	})
}

// openIssue returns the oldest open issue (not pull request) of key, or nil.
func (c *Client) openIssue(ctx context.Context, key string) (*gh.Issue, error) {
	issues, err := listAll(ctx, c, "listing open issues", func(api *gh.Client, page int) ([]*gh.Issue, *gh.Response, error) {
		return api.Issues.ListByRepo(ctx, c.owner, c.repo, &gh.IssueListByRepoOptions{State: "open", ListOptions: gh.ListOptions{Page: page, PerPage: perPage}})
	})
	if err != nil {
		return nil, err
	}
	marker := IssueMarker(key)
	var found *gh.Issue
	for _, is := range issues {
		if is.IsPullRequest() || !strings.HasPrefix(is.GetBody(), marker) {
			continue
		}
		if found == nil || is.GetNumber() < found.GetNumber() {
			found = is
		}
	}
	return found, nil
}
