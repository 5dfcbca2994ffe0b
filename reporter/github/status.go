package github

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	gh "github.com/google/go-github/v60/github"

	"github.com/rolecd/rolecd/internal/forge"
)

// MaxStatusDescription is GitHub's limit on a commit status description.
const MaxStatusDescription = 140

// SetStatus sets the commit status statusContext (e.g. "rolecd/plan") of
// sha: state is pending, success, failure or error; description is cut to
// 140 characters; targetURL may be empty.
func (c *Client) SetStatus(ctx context.Context, sha, statusContext, state, description, targetURL string) error {
	switch state {
	case "pending", "success", "failure", "error":
	default:
		return fmt.Errorf("github: invalid status state %q: want pending, success, failure or error", state)
	}
	st := &gh.RepoStatus{State: gh.String(state), Context: gh.String(statusContext),
		Description: gh.String(truncate(description, MaxStatusDescription))}
	if targetURL != "" {
		st.TargetURL = gh.String(targetURL)
	}
	return c.call(ctx, fmt.Sprintf("setting status %s of %s", statusContext, sha), func(api *gh.Client) (*gh.Response, error) {
		_, resp, err := api.Repositories.CreateStatus(ctx, c.owner, c.repo, sha, st)
		return resp, err
	})
}

// truncate cuts s to at most n characters, ending with "…" when cut.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// permissionLevel is GitHub's answer to
// GET /repos/{owner}/{repo}/collaborators/{user}/permission. go-github v60
// lacks role_name, the only field telling maintain and triage apart
// ("permission" says write and read for them).
type permissionLevel struct {
	Permission string `json:"permission"`
	RoleName   string `json:"role_name"`
}

// Permission returns user's permission on the repository: admin, maintain,
// write, triage, read or none ("none" for users GitHub does not know).
func (c *Client) Permission(ctx context.Context, user string) (string, error) {
	var lvl permissionLevel
	u := fmt.Sprintf("repos/%s/%s/collaborators/%s/permission", url.PathEscape(c.owner), url.PathEscape(c.repo), url.PathEscape(user))
	err := c.call(ctx, fmt.Sprintf("getting the permission of %s", user), func(api *gh.Client) (*gh.Response, error) {
		req, err := api.NewRequest(http.MethodGet, u, nil)
		if err != nil {
			return nil, err
		}
		return api.Do(ctx, req, &lvl)
	})
	if StatusCode(err) == http.StatusNotFound {
		return "none", nil
	}
	if err != nil {
		return "", err
	}
	return forge.RepositoryPermission(lvl.RoleName, lvl.Permission), nil
}
