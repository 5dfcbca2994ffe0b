package githubtest

import (
	"slices"
	"sort"
	"strconv"
	"time"
)

// PR is a pull request as a test declares it.
type PR struct {
	Number  int
	Title   string // default "PR #<number>"
	Author  string // default "alice"
	Base    string // base branch, default "main"
	HeadRef string // head branch, default "pr-<number>"
	HeadSHA string
	// State is "open" (default) or "closed"; a merged PR is closed.
	State    string
	Merged   bool
	MergeSHA string   // merge_commit_sha
	Files    []string // changed files, as /pulls/{n}/files lists them
}

// Comment is an issue or pull-request comment.
type Comment struct {
	ID     int64
	Issue  int // issue or pull request number
	Author string
	Body   string
	Edits  int // how many times it was edited through the API
}

// Status is one commit status, as POST /statuses/{sha} created it.
type Status struct {
	ID          int64
	SHA         string
	State       string
	Context     string
	Description string
	TargetURL   string
}

// Issue is an issue (not a pull request).
type Issue struct {
	Number      int
	Title       string
	Body        string
	State       string // open or closed
	StateReason string
	Author      string
	Labels      []string
	Edits       int
}

// item is an issue or a pull request: they share GitHub's number space.
type item struct {
	number    int
	isPR      bool
	pr        PR
	issue     Issue
	createdAt time.Time
	updatedAt time.Time
	closedAt  time.Time
	mergedAt  time.Time
}

type comment struct {
	Comment
	createdAt, updatedAt time.Time
}

func (it *item) title() string {
	if it.isPR {
		return it.pr.Title
	}
	return it.issue.Title
}

func (it *item) state() string {
	if it.isPR {
		return it.pr.State
	}
	return it.issue.State
}

func normalizePR(p *PR) {
	if p.Title == "" {
		p.Title = "PR #" + strconv.Itoa(p.Number)
	}
	if p.Author == "" {
		p.Author = "alice"
	}
	if p.Base == "" {
		p.Base = "main"
	}
	if p.HeadRef == "" {
		p.HeadRef = "pr-" + strconv.Itoa(p.Number)
	}
	if p.Merged {
		p.State = "closed"
	}
	if p.State == "" {
		p.State = "open"
	}
	p.Files = slices.Clone(p.Files)
}

// AddPR adds (or replaces) a pull request.
func (s *Server) AddPR(pr PR) {
	if pr.Number <= 0 {
		panic("githubtest: AddPR needs a positive number")
	}
	normalizePR(&pr)
	now := time.Now().UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	it := &item{number: pr.Number, isPR: true, pr: pr, createdAt: now, updatedAt: now}
	if pr.Merged {
		it.mergedAt, it.closedAt = now, now
	}
	s.items[pr.Number] = it
}

// UpdatePR changes pull request n with f (a new head SHA, merged, files...).
// It panics when there is no such pull request.
func (s *Server) UpdatePR(n int, f func(*PR)) {
	now := time.Now().UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	it, ok := s.items[n]
	if !ok || !it.isPR {
		panic("githubtest: UpdatePR: no pull request #" + strconv.Itoa(n))
	}
	wasMerged, wasClosed := it.pr.Merged, it.pr.State == "closed"
	f(&it.pr)
	it.pr.Number = n
	normalizePR(&it.pr)
	if it.pr.Merged && !wasMerged {
		it.mergedAt = now
	}
	if it.pr.State == "closed" && !wasClosed {
		it.closedAt = now
	}
	it.updatedAt = now
}

// Merge marks pull request n merged as mergeSHA.
func (s *Server) Merge(n int, mergeSHA string) {
	s.UpdatePR(n, func(p *PR) { p.Merged, p.MergeSHA = true, mergeSHA })
}

// PR returns pull request n.
func (s *Server) PR(n int) (PR, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	it, ok := s.items[n]
	if !ok || !it.isPR {
		return PR{}, false
	}
	p := it.pr
	p.Files = slices.Clone(p.Files)
	return p, true
}

// SetPermission gives user a repository permission: admin, maintain,
// write, triage, read or none. Users never given one are unknown to the
// server, which answers 404 for them as GitHub does.
func (s *Server) SetPermission(user, perm string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.perms[user] = perm
}

// SetWebhookSecret sets the secret Webhook signs deliveries with.
func (s *Server) SetWebhookSecret(secret []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webhookSecret = slices.Clone(secret)
}

// AddComment adds a comment by author on issue or pull request n, as a
// person commenting in the web interface would, and returns it.
func (s *Server) AddComment(n int, author, body string) Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addCommentLocked(n, author, body)
}

func (s *Server) addCommentLocked(n int, author, body string) Comment {
	now := time.Now().UTC()
	s.nextComment++
	c := &comment{Comment: Comment{ID: 1000 + s.nextComment, Issue: n, Author: author, Body: body}, createdAt: now, updatedAt: now}
	s.comments = append(s.comments, c)
	if it, ok := s.items[n]; ok {
		it.updatedAt = now
	}
	return c.Comment
}

// Comments returns the comments of issue or pull request n, oldest first.
func (s *Server) Comments(n int) []Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Comment
	for _, c := range s.comments {
		if c.Issue == n {
			out = append(out, c.Comment)
		}
	}
	return out
}

// Statuses returns the statuses created for sha, oldest first.
func (s *Server) Statuses(sha string) []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.statuses[sha])
}

// LatestStatus returns the newest status of sha in context, as GitHub
// shows it on the commit.
func (s *Server) LatestStatus(sha, context string) (Status, bool) {
	st := s.Statuses(sha)
	for i := len(st) - 1; i >= 0; i-- {
		if st[i].Context == context {
			return st[i], true
		}
	}
	return Status{}, false
}

// Issues returns the issues (not pull requests), lowest number first.
func (s *Server) Issues() []Issue {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Issue
	for _, it := range s.items {
		if !it.isPR {
			is := it.issue
			is.Labels = slices.Clone(is.Labels)
			out = append(out, is)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Number < out[j].Number })
	return out
}

func (s *Server) nextNumberLocked() int {
	n := 0
	for k := range s.items {
		n = max(n, k)
	}
	return n + 1
}
