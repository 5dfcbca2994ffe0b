package githubtest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	gh "github.com/google/go-github/v60/github"
)

// Sign returns GitHub's X-Hub-Signature-256 value for body:
// "sha256=" and the hex HMAC-SHA256 of body keyed with secret.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Content types of a webhook, as chosen in GitHub's webhook settings.
const (
	ContentJSON = "application/json"
	ContentForm = "application/x-www-form-urlencoded"
)

// Webhook builds a delivery of event (pull_request, push, issue_comment...)
// as GitHub sends it: the JSON body of payload and the headers
// X-GitHub-Event, X-GitHub-Delivery, X-GitHub-Hook-ID, Content-Type,
// User-Agent and, once SetWebhookSecret was called, X-Hub-Signature-256.
func (s *Server) Webhook(event, deliveryID string, payload any) (body []byte, header http.Header) {
	return s.WebhookAs(ContentJSON, event, deliveryID, payload)
}

// WebhookAs is Webhook with the content type of the webhook: ContentJSON,
// or ContentForm (the body is payload=<url-encoded JSON>, and the
// signature covers that body, as GitHub signs it).
func (s *Server) WebhookAs(contentType, event, deliveryID string, payload any) (body []byte, header http.Header) {
	body, err := json.Marshal(payload)
	if err != nil {
		panic(fmt.Sprintf("githubtest: encoding %s payload: %v", event, err))
	}
	switch contentType {
	case ContentJSON:
	case ContentForm:
		body = []byte(url.Values{"payload": {string(body)}}.Encode())
	default:
		panic(fmt.Sprintf("githubtest: GitHub sends no webhook as %q", contentType))
	}
	header = http.Header{}
	header.Set("Content-Type", contentType)
	header.Set("User-Agent", "GitHub-Hookshot/7f3c2e1")
	header.Set("X-GitHub-Event", event)
	header.Set("X-GitHub-Delivery", deliveryID)
	header.Set("X-GitHub-Hook-ID", "424242")
	header.Set("X-GitHub-Hook-Installation-Target-Type", "repository")
	s.mu.Lock()
	secret := s.webhookSecret
	s.mu.Unlock()
	if secret != nil {
		header.Set("X-Hub-Signature-256", Sign(secret, body))
	}
	return body, header
}

// Deliver POSTs a Webhook delivery to url and returns the answer's status
// code.
func (s *Server) Deliver(ctx context.Context, url, event, deliveryID string, payload any) (int, error) {
	return s.DeliverAs(ctx, ContentJSON, url, event, deliveryID, payload)
}

// DeliverAs is Deliver with the webhook's content type (see WebhookAs).
func (s *Server) DeliverAs(ctx context.Context, contentType, target, event, deliveryID string, payload any) (int, error) {
	body, header := s.WebhookAs(contentType, event, deliveryID, payload)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("delivering %s webhook: %w", event, err)
	}
	req.Header = header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("delivering %s webhook: %w", event, err)
	}
	defer resp.Body.Close()
	return resp.StatusCode, nil
}

// PullRequestEvent builds the pull_request payload of action (opened,
// synchronize, reopened, closed) for pull request n as it is now; "merged"
// is set on closed. It panics when there is no such pull request.
func (s *Server) PullRequestEvent(action string, n int) *gh.PullRequestEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	it, ok := s.items[n]
	if !ok || !it.isPR {
		panic(fmt.Sprintf("githubtest: PullRequestEvent: no pull request #%d", n))
	}
	return &gh.PullRequestEvent{
		Action: gh.String(action), Number: gh.Int(n), PullRequest: s.prJSON(it, true),
		Repo: s.repoJSON(), Sender: user(it.pr.Author),
	}
}

// PushEvent builds the push payload of ref ("refs/heads/main") moving from
// before to after.
func (s *Server) PushEvent(ref, before, after string) *gh.PushEvent {
	now := gh.Timestamp{Time: time.Now().UTC().Truncate(time.Second)}
	head := &gh.HeadCommit{ID: gh.String(after), TreeID: gh.String(after), Message: gh.String("push"),
		Timestamp: &now, Distinct: gh.Bool(true), URL: gh.String(s.htmlBase() + "/commit/" + after),
		Author: &gh.CommitAuthor{Name: gh.String("Alice"), Email: gh.String("alice@example.com"), Login: gh.String("alice")}}
	branch := strings.TrimPrefix(ref, "refs/heads/")
	return &gh.PushEvent{
		Ref: gh.String(ref), Before: gh.String(before), After: gh.String(after),
		Created: gh.Bool(strings.Trim(before, "0") == ""), Deleted: gh.Bool(strings.Trim(after, "0") == ""),
		Forced: gh.Bool(false), Compare: gh.String(s.htmlBase() + "/compare/" + before + "..." + after),
		Commits: []*gh.HeadCommit{head}, HeadCommit: head,
		Repo: &gh.PushEventRepository{ID: gh.Int64(4242), Name: gh.String(s.Repo), FullName: gh.String(s.Owner + "/" + s.Repo),
			Owner: user(s.Owner), HTMLURL: gh.String(s.htmlBase()), CloneURL: gh.String(s.htmlBase() + ".git"),
			DefaultBranch: gh.String("main"), MasterBranch: gh.String(branch), Private: gh.Bool(true)},
		Pusher: &gh.CommitAuthor{Name: gh.String("alice"), Email: gh.String("alice@example.com")},
		Sender: user("alice"),
	}
}

// IssueCommentEvent adds a comment by author on issue or pull request n
// (as AddComment does) and builds its issue_comment "created" payload; the
// issue carries "pull_request" when n is a pull request. It panics when n
// does not exist.
func (s *Server) IssueCommentEvent(n int, author, body string) *gh.IssueCommentEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	it, ok := s.items[n]
	if !ok {
		panic(fmt.Sprintf("githubtest: IssueCommentEvent: no issue or pull request #%d", n))
	}
	s.addCommentLocked(n, author, body)
	return &gh.IssueCommentEvent{
		Action: gh.String("created"), Issue: s.issueJSON(it), Comment: s.commentJSON(s.comments[len(s.comments)-1]),
		Repo: s.repoJSON(), Sender: user(author),
	}
}

// FuzzSeed is a webhook body to start a fuzz target from.
type FuzzSeed struct{ Event, ContentType, Body string }

// FuzzSeeds returns bodies a webhook reader must survive: well-formed
// deliveries, wrong types and numbers, null objects, broken form encoding,
// binary bodies and content types GitHub does not send.
func FuzzSeeds() []FuzzSeed {
	return []FuzzSeed{
		{"pull_request", ContentJSON, `{"action":"opened","number":1,"repository":{"full_name":"acme/db-roles"}}`},
		{"pull_request", ContentJSON, `{"action":"opened","number":-1,"repository":{"full_name":"acme/db-roles"}}`},
		{"pull_request", ContentJSON, `{"action":"closed","pull_request":{"number":1e40}}`},
		{"push", ContentJSON, `{"ref":"refs/heads/main","repository":{"full_name":"acme/db-roles"}}`},
		{"push", ContentJSON, `{"ref":7,"repository":[]}`},
		{"issue_comment", ContentJSON, `{"action":"created","issue":{"number":3,"pull_request":{}},"comment":{"body":"/rolecd apply x","user":{"login":"a"}},"repository":{"full_name":"acme/db-roles"}}`},
		{"issue_comment", ContentJSON, `{"issue":null,"comment":null}`},
		{"pull_request", ContentForm, `payload=%7B%22action%22%3A%22opened%22%7D`},
		{"pull_request", ContentForm, `payload=%zz`},
		{"ping", "", `{"zen":"x"}`},
		{"star", ContentJSON, `null`},
		{"push", ContentJSON, "\x00\xff"},
		{"push", "multipart/form-data; boundary=x", `--x--`},
	}
}
