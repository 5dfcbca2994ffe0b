package githubtest

import (
	"fmt"
	"net/http"
	"slices"
	"time"
	"unicode/utf8"

	gh "github.com/google/go-github/v60/github"
)

func ts(t time.Time) *gh.Timestamp {
	if t.IsZero() {
		return nil
	}
	return &gh.Timestamp{Time: t}
}

func user(login string) *gh.User {
	return &gh.User{Login: gh.String(login), ID: gh.Int64(int64(len(login)) + 100), Type: gh.String("User")}
}

func (s *Server) htmlBase() string { return s.srv.URL + "/" + s.Owner + "/" + s.Repo }
func (s *Server) apiBase() string  { return s.URL + "repos/" + s.Owner + "/" + s.Repo }

func (s *Server) repoJSON() *gh.Repository {
	return &gh.Repository{
		ID: gh.Int64(4242), Name: gh.String(s.Repo), FullName: gh.String(s.Owner + "/" + s.Repo),
		Owner: user(s.Owner), HTMLURL: gh.String(s.htmlBase()), URL: gh.String(s.apiBase()),
		CloneURL: gh.String(s.htmlBase() + ".git"), DefaultBranch: gh.String("main"), Private: gh.Bool(true),
	}
}

// prJSON renders a pull request; the list endpoint leaves out "merged"
// (GitHub's pull-request-simple), the single one includes it.
func (s *Server) prJSON(it *item, full bool) *gh.PullRequest {
	p := it.pr
	n := fmt.Sprint(p.Number)
	out := &gh.PullRequest{
		ID: gh.Int64(int64(100000 + p.Number)), NodeID: gh.String("PR_" + n), Number: gh.Int(p.Number),
		State: gh.String(p.State), Title: gh.String(p.Title), Body: gh.String(""), User: user(p.Author),
		Draft: gh.Bool(false), URL: gh.String(s.apiBase() + "/pulls/" + n), HTMLURL: gh.String(s.htmlBase() + "/pull/" + n),
		IssueURL: gh.String(s.apiBase() + "/issues/" + n), CreatedAt: ts(it.createdAt), UpdatedAt: ts(it.updatedAt),
		ClosedAt: ts(it.closedAt), MergedAt: ts(it.mergedAt),
		Head: &gh.PullRequestBranch{Label: gh.String(s.Owner + ":" + p.HeadRef), Ref: gh.String(p.HeadRef),
			SHA: gh.String(p.HeadSHA), Repo: s.repoJSON(), User: user(s.Owner)},
		Base: &gh.PullRequestBranch{Label: gh.String(s.Owner + ":" + p.Base), Ref: gh.String(p.Base),
			Repo: s.repoJSON(), User: user(s.Owner)},
	}
	if p.MergeSHA != "" {
		out.MergeCommitSHA = gh.String(p.MergeSHA)
	}
	if full {
		out.Merged = gh.Bool(p.Merged)
		out.Commits, out.ChangedFiles = gh.Int(1), gh.Int(len(p.Files))
	}
	return out
}

func (s *Server) issueJSON(it *item) *gh.Issue {
	n := fmt.Sprint(it.number)
	out := &gh.Issue{
		ID: gh.Int64(int64(200000 + it.number)), NodeID: gh.String("I_" + n), Number: gh.Int(it.number),
		State: gh.String(it.state()), Title: gh.String(it.title()), URL: gh.String(s.apiBase() + "/issues/" + n),
		CreatedAt: ts(it.createdAt), UpdatedAt: ts(it.updatedAt), ClosedAt: ts(it.closedAt),
	}
	count := 0
	for _, c := range s.comments {
		if c.Issue == it.number {
			count++
		}
	}
	out.Comments = gh.Int(count)
	if it.isPR {
		out.User, out.Body = user(it.pr.Author), gh.String("")
		out.HTMLURL = gh.String(s.htmlBase() + "/pull/" + n)
		out.PullRequestLinks = &gh.PullRequestLinks{URL: gh.String(s.apiBase() + "/pulls/" + n),
			HTMLURL: gh.String(s.htmlBase() + "/pull/" + n)}
		return out
	}
	out.User, out.Body = user(it.issue.Author), gh.String(it.issue.Body)
	out.HTMLURL = gh.String(s.htmlBase() + "/issues/" + n)
	if it.issue.StateReason != "" {
		out.StateReason = gh.String(it.issue.StateReason)
	}
	for _, l := range it.issue.Labels {
		out.Labels = append(out.Labels, &gh.Label{Name: gh.String(l)})
	}
	return out
}

func (s *Server) commentJSON(c *comment) *gh.IssueComment {
	id := fmt.Sprint(c.ID)
	return &gh.IssueComment{
		ID: gh.Int64(c.ID), NodeID: gh.String("IC_" + id), Body: gh.String(c.Body), User: user(c.Author),
		AuthorAssociation: gh.String("MEMBER"), CreatedAt: ts(c.createdAt), UpdatedAt: ts(c.updatedAt),
		URL:      gh.String(s.apiBase() + "/issues/comments/" + id),
		HTMLURL:  gh.String(fmt.Sprintf("%s/issues/%d#issuecomment-%s", s.htmlBase(), c.Issue, id)),
		IssueURL: gh.String(fmt.Sprintf("%s/issues/%d", s.apiBase(), c.Issue)),
	}
}

func stateFilter(r *http.Request) (string, bool) {
	st := r.URL.Query().Get("state")
	switch st {
	case "":
		return "open", true
	case "open", "closed", "all":
		return st, true
	}
	return st, false
}

func (s *Server) listPulls(w http.ResponseWriter, r *http.Request) {
	state, ok := stateFilter(r)
	if !ok {
		s.invalid(w, "PullRequest", "state", "invalid", "state is not one of open, closed, all")
		return
	}
	q := r.URL.Query()
	base, head := q.Get("base"), q.Get("head")
	s.mu.Lock()
	items := s.sortedItems(func(it *item) bool {
		return it.isPR && (state == "all" || it.pr.State == state) && (base == "" || it.pr.Base == base) &&
			(head == "" || head == s.Owner+":"+it.pr.HeadRef)
	})
	if q.Get("direction") == "asc" {
		slices.Reverse(items)
	}
	lo, hi := paginate(w, r, len(items))
	out := []*gh.PullRequest{}
	for _, it := range items[lo:hi] {
		out = append(out, s.prJSON(it, false))
	}
	s.mu.Unlock()
	s.writeJSON(w, http.StatusOK, out)
}

// pullLocked returns the pull request of the path's number.
func (s *Server) pullLocked(r *http.Request) (*item, bool) {
	it, ok := s.itemLocked(r)
	return it, ok && it.isPR
}

// itemLocked returns the issue or pull request of the path's number.
func (s *Server) itemLocked(r *http.Request) (*item, bool) {
	n, ok := pathNumber(r, "number")
	if !ok {
		return nil, false
	}
	it, ok := s.items[int(n)]
	return it, ok
}

func (s *Server) getPull(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	it, ok := s.pullLocked(r)
	if !ok {
		s.mu.Unlock()
		s.notFound(w)
		return
	}
	out := s.prJSON(it, true)
	s.mu.Unlock()
	s.writeJSON(w, http.StatusOK, out)
}

func (s *Server) listPullFiles(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	it, ok := s.pullLocked(r)
	if !ok {
		s.mu.Unlock()
		s.notFound(w)
		return
	}
	files := slices.Clone(it.pr.Files)
	s.mu.Unlock()
	lo, hi := paginate(w, r, len(files))
	out := []*gh.CommitFile{}
	for _, f := range files[lo:hi] {
		out = append(out, &gh.CommitFile{SHA: gh.String(fmt.Sprintf("%040x", len(f))), Filename: gh.String(f),
			Status: gh.String("modified"), Additions: gh.Int(1), Deletions: gh.Int(0), Changes: gh.Int(1)})
	}
	s.writeJSON(w, http.StatusOK, out)
}

func (s *Server) listComments(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	it, ok := s.itemLocked(r)
	if !ok {
		s.mu.Unlock()
		s.notFound(w)
		return
	}
	var cs []*comment
	for _, c := range s.comments {
		if c.Issue == it.number {
			cs = append(cs, c)
		}
	}
	lo, hi := paginate(w, r, len(cs))
	out := []*gh.IssueComment{}
	for _, c := range cs[lo:hi] {
		out = append(out, s.commentJSON(c))
	}
	s.mu.Unlock()
	s.writeJSON(w, http.StatusOK, out)
}

// commentBody decodes and validates a comment body as GitHub does.
func (s *Server) commentBody(w http.ResponseWriter, r *http.Request) (string, bool) {
	var in struct {
		Body *string `json:"body"`
	}
	if err := decode(r, &in); err != nil {
		s.writeError(w, http.StatusBadRequest, nil, "Problems parsing JSON")
		return "", false
	}
	switch {
	case in.Body == nil || *in.Body == "":
		s.invalid(w, "IssueComment", "body", "missing_field", "")
		return "", false
	case utf8.RuneCountInString(*in.Body) > maxCommentLength:
		s.invalid(w, "IssueComment", "body", "custom", fmt.Sprintf("body is too long (maximum is %d characters)", maxCommentLength))
		return "", false
	}
	return *in.Body, true
}

func (s *Server) createComment(w http.ResponseWriter, r *http.Request) {
	body, ok := s.commentBody(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	it, ok := s.itemLocked(r)
	if !ok {
		s.mu.Unlock()
		s.notFound(w)
		return
	}
	s.addCommentLocked(it.number, BotLogin, body)
	out := s.commentJSON(s.comments[len(s.comments)-1])
	s.mu.Unlock()
	s.writeJSON(w, http.StatusCreated, out)
}

// commentLocked returns the index of the comment of the path's id.
func (s *Server) commentLocked(r *http.Request) (int, bool) {
	if id, ok := pathNumber(r, "id"); ok {
		for i, c := range s.comments {
			if c.ID == id {
				return i, true
			}
		}
	}
	return 0, false
}

func (s *Server) editComment(w http.ResponseWriter, r *http.Request) {
	body, ok := s.commentBody(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	i, ok := s.commentLocked(r)
	if !ok {
		s.mu.Unlock()
		s.notFound(w)
		return
	}
	c := s.comments[i]
	c.Body, c.updatedAt = body, time.Now().UTC()
	c.Edits++
	out := s.commentJSON(c)
	s.mu.Unlock()
	s.writeJSON(w, http.StatusOK, out)
}

func (s *Server) deleteComment(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	i, ok := s.commentLocked(r)
	if !ok {
		s.mu.Unlock()
		s.notFound(w)
		return
	}
	s.comments = slices.Delete(s.comments, i, i+1)
	s.mu.Unlock()
	s.rateHeaders(w.Header())
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) createStatus(w http.ResponseWriter, r *http.Request) {
	var in struct {
		State       string `json:"state"`
		TargetURL   string `json:"target_url"`
		Description string `json:"description"`
		Context     string `json:"context"`
	}
	if err := decode(r, &in); err != nil {
		s.writeError(w, http.StatusBadRequest, nil, "Problems parsing JSON")
		return
	}
	switch in.State {
	case "error", "failure", "pending", "success":
	default:
		s.invalid(w, "Status", "state", "custom", "state is not included in the list")
		return
	}
	if utf8.RuneCountInString(in.Description) > maxStatusDescSize {
		s.invalid(w, "Status", "description", "custom", fmt.Sprintf("description is too long (maximum is %d characters)", maxStatusDescSize))
		return
	}
	if in.Context == "" {
		in.Context = "default"
	}
	sha := r.PathValue("sha")
	now := time.Now().UTC()
	s.mu.Lock()
	s.nextStatus++
	st := Status{ID: 5000 + s.nextStatus, SHA: sha, State: in.State, Context: in.Context,
		Description: in.Description, TargetURL: in.TargetURL}
	s.statuses[sha] = append(s.statuses[sha], st)
	s.mu.Unlock()
	out := &gh.RepoStatus{ID: gh.Int64(st.ID), NodeID: gh.String(fmt.Sprint("SC_", st.ID)), State: gh.String(st.State),
		Context: gh.String(st.Context), Description: gh.String(st.Description), Creator: user(BotLogin),
		URL: gh.String(s.apiBase() + "/statuses/" + sha), CreatedAt: ts(now), UpdatedAt: ts(now)}
	if st.TargetURL != "" {
		out.TargetURL = gh.String(st.TargetURL)
	}
	s.writeJSON(w, http.StatusCreated, out)
}

// legacyPermission is the "permission" field GitHub answers next to the
// exact "role_name": maintain reads as write, triage as read.
func legacyPermission(perm string) string {
	switch perm {
	case "maintain":
		return "write"
	case "triage":
		return "read"
	}
	return perm
}

func (s *Server) getPermission(w http.ResponseWriter, r *http.Request) {
	login := r.PathValue("user")
	s.mu.Lock()
	perm, ok := s.perms[login]
	s.mu.Unlock()
	if !ok {
		s.notFound(w)
		return
	}
	u := user(login)
	s.writeJSON(w, http.StatusOK, map[string]any{
		"permission": legacyPermission(perm), "role_name": perm, "user": u,
	})
}

func (s *Server) listIssues(w http.ResponseWriter, r *http.Request) {
	state, ok := stateFilter(r)
	if !ok {
		s.invalid(w, "Issue", "state", "invalid", "state is not one of open, closed, all")
		return
	}
	s.mu.Lock()
	items := s.sortedItems(func(it *item) bool { return state == "all" || it.state() == state })
	if r.URL.Query().Get("direction") == "asc" {
		slices.Reverse(items)
	}
	lo, hi := paginate(w, r, len(items))
	out := []*gh.Issue{}
	for _, it := range items[lo:hi] {
		out = append(out, s.issueJSON(it))
	}
	s.mu.Unlock()
	s.writeJSON(w, http.StatusOK, out)
}

func (s *Server) createIssue(w http.ResponseWriter, r *http.Request) {
	var in gh.IssueRequest
	if err := decode(r, &in); err != nil {
		s.writeError(w, http.StatusBadRequest, nil, "Problems parsing JSON")
		return
	}
	if in.GetTitle() == "" {
		s.invalid(w, "Issue", "title", "missing_field", "")
		return
	}
	if utf8.RuneCountInString(in.GetBody()) > maxCommentLength {
		s.invalid(w, "Issue", "body", "custom", fmt.Sprintf("body is too long (maximum is %d characters)", maxCommentLength))
		return
	}
	now := time.Now().UTC()
	s.mu.Lock()
	n := s.nextNumberLocked()
	it := &item{number: n, createdAt: now, updatedAt: now,
		issue: Issue{Number: n, Title: in.GetTitle(), Body: in.GetBody(), State: "open", Author: BotLogin}}
	if in.Labels != nil {
		it.issue.Labels = slices.Clone(*in.Labels)
	}
	s.items[n] = it
	out := s.issueJSON(it)
	s.mu.Unlock()
	s.writeJSON(w, http.StatusCreated, out)
}

func (s *Server) editIssue(w http.ResponseWriter, r *http.Request) {
	var in gh.IssueRequest
	if err := decode(r, &in); err != nil {
		s.writeError(w, http.StatusBadRequest, nil, "Problems parsing JSON")
		return
	}
	if in.State != nil && *in.State != "open" && *in.State != "closed" {
		s.invalid(w, "Issue", "state", "invalid", "state is not included in the list")
		return
	}
	if in.Title != nil && *in.Title == "" {
		s.invalid(w, "Issue", "title", "missing_field", "")
		return
	}
	if utf8.RuneCountInString(in.GetBody()) > maxCommentLength {
		s.invalid(w, "Issue", "body", "custom", fmt.Sprintf("body is too long (maximum is %d characters)", maxCommentLength))
		return
	}
	now := time.Now().UTC()
	s.mu.Lock()
	it, ok := s.itemLocked(r)
	if !ok {
		s.mu.Unlock()
		s.notFound(w)
		return
	}
	if it.isPR {
		if in.Title != nil {
			it.pr.Title = *in.Title
		}
		if in.State != nil {
			it.pr.State = *in.State
		}
	} else {
		is := &it.issue
		if in.Title != nil {
			is.Title = *in.Title
		}
		if in.Body != nil {
			is.Body = *in.Body
		}
		if in.Labels != nil {
			is.Labels = slices.Clone(*in.Labels)
		}
		if in.State != nil && *in.State != is.State {
			is.State = *in.State
			if is.State == "closed" {
				it.closedAt, is.StateReason = now, "completed"
			} else {
				it.closedAt, is.StateReason = time.Time{}, "reopened"
			}
		}
		if in.StateReason != nil {
			is.StateReason = *in.StateReason
		}
		is.Edits++
	}
	it.updatedAt = now
	out := s.issueJSON(it)
	s.mu.Unlock()
	s.writeJSON(w, http.StatusOK, out)
}
