package github

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"unicode/utf8"

	gh "github.com/google/go-github/v60/github"
)

// MaxBody is GitHub's limit on a comment or issue body, in characters.
const MaxBody = 65536

var (
	keyPattern  = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	partPattern = regexp.MustCompile(`^<!-- rolecd:([A-Za-z0-9._-]{1,64}) part ([0-9]+)/([0-9]+) -->`)
)

// PartMarker is the hidden first line of part i of n of the comment series
// key: "<!-- rolecd:<key> part i/n -->".
func PartMarker(key string, i, n int) string {
	return fmt.Sprintf("<!-- rolecd:%s part %d/%d -->", key, i, n)
}

func checkKey(key string) error {
	if !keyPattern.MatchString(key) {
		return fmt.Errorf("github: invalid marker key %q: want 1-64 letters, digits, '.', '_' or '-'", key)
	}
	return nil
}

// partComment is an existing comment of a series.
type partComment struct {
	id   int64
	part int
	body string
}

// UpsertComment keeps ONE series of comments per (pr, key) holding parts,
// in order: each comment starts with PartMarker, by which it is found again
// and edited in place (left alone when unchanged); missing parts are
// created, and surplus or duplicate old parts deleted. No parts deletes
// the series.
func (c *Client) UpsertComment(ctx context.Context, pr int, key string, parts []string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	bodies := make([]string, len(parts))
	for i, p := range parts {
		bodies[i] = PartMarker(key, i+1, len(parts)) + "\n" + p
		if n := utf8.RuneCountInString(bodies[i]); n > MaxBody {
			return fmt.Errorf("github: comment %s part %d/%d on #%d is %d characters, over GitHub's %d", key, i+1, len(parts), pr, n, MaxBody)
		}
	}
	existing, err := c.seriesComments(ctx, pr, key)
	if err != nil {
		return err
	}
	byPart := map[int]partComment{}
	var surplus []partComment
	for _, pc := range existing {
		if _, dup := byPart[pc.part]; dup || pc.part > len(parts) {
			surplus = append(surplus, pc)
			continue
		}
		byPart[pc.part] = pc
	}
	for i, body := range bodies {
		if old, ok := byPart[i+1]; ok {
			if old.body == body {
				continue
			}
			if err := c.editComment(ctx, pr, old.id, body); err != nil {
				return err
			}
			continue
		}
		if err := c.Comment(ctx, pr, body); err != nil {
			return err
		}
	}
	for _, pc := range surplus {
		if err := c.deleteComment(ctx, pr, pc.id); err != nil {
			return err
		}
	}
	return nil
}

// seriesComments returns the comments of pr that start with a part marker
// of key, by part then by age.
func (c *Client) seriesComments(ctx context.Context, pr int, key string) ([]partComment, error) {
	all, err := listAll(ctx, c, fmt.Sprintf("listing comments of #%d", pr), func(api *gh.Client, page int) ([]*gh.IssueComment, *gh.Response, error) {
		return api.Issues.ListComments(ctx, c.owner, c.repo, pr, &gh.IssueListCommentsOptions{ListOptions: gh.ListOptions{Page: page, PerPage: perPage}})
	})
	if err != nil {
		return nil, err
	}
	var out []partComment
	for _, ic := range all {
		m := partPattern.FindStringSubmatch(ic.GetBody())
		if m == nil || m[1] != key {
			continue
		}
		part, err := strconv.Atoi(m[2])
		if err != nil || part < 1 {
			continue
		}
		out = append(out, partComment{id: ic.GetID(), part: part, body: ic.GetBody()})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].part != out[j].part {
			return out[i].part < out[j].part
		}
		return out[i].id < out[j].id
	})
	return out, nil
}

// Comment adds a new comment to pull request (or issue) pr.
func (c *Client) Comment(ctx context.Context, pr int, body string) error {
	if body == "" {
		return errors.New("github: empty comment")
	}
	if n := utf8.RuneCountInString(body); n > MaxBody {
		return fmt.Errorf("github: comment on #%d is %d characters, over GitHub's %d", pr, n, MaxBody)
	}
	return c.call(ctx, fmt.Sprintf("commenting on #%d", pr), func(api *gh.Client) (*gh.Response, error) {
		_, resp, err := api.Issues.CreateComment(ctx, c.owner, c.repo, pr, &gh.IssueComment{Body: gh.String(body)})
		return resp, err
	})
}

func (c *Client) editComment(ctx context.Context, pr int, id int64, body string) error {
	return c.call(ctx, fmt.Sprintf("editing comment %d on #%d", id, pr), func(api *gh.Client) (*gh.Response, error) {
		_, resp, err := api.Issues.EditComment(ctx, c.owner, c.repo, id, &gh.IssueComment{Body: gh.String(body)})
		return resp, err
	})
}

func (c *Client) deleteComment(ctx context.Context, pr int, id int64) error {
	err := c.call(ctx, fmt.Sprintf("deleting comment %d on #%d", id, pr), func(api *gh.Client) (*gh.Response, error) {
		return api.Issues.DeleteComment(ctx, c.owner, c.repo, id)
	})
	if StatusCode(err) == 404 {
		return nil // already gone: a retried delete, or someone removed it
	}
	return err
}
