package github_test

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/rolecd/rolecd/internal/forge"
	"github.com/rolecd/rolecd/reporter/github"
	"github.com/rolecd/rolecd/test/githubtest"
)

// delivery is a webhook request as GitHub sends it (headers only when set).
func delivery(event, id, ctype, signature string, body []byte) *http.Request {
	req := httptest.NewRequest(http.MethodPost, "/webhooks/github", bytes.NewReader(body))
	for k, v := range map[string]string{"X-GitHub-Event": event, "X-GitHub-Delivery": id, "Content-Type": ctype, "X-Hub-Signature-256": signature} {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	return req
}

func TestWebhooksVerify(t *testing.T) {
	body := []byte(`{"action":"opened","repository":{"full_name":"acme/db-roles"}}`)
	good := githubtest.Sign([]byte("k"), body)
	tests := []struct {
		name   string
		secret string
		header string
		want   bool
	}{
		{"valid", "k", good, true},
		{"wrong key", "k", githubtest.Sign([]byte("other"), body), false},
		{"no header", "k", "", false},
		{"no prefix", "k", strings.TrimPrefix(good, "sha256="), false},
		{"uppercase hex", "k", "sha256=" + strings.ToUpper(strings.TrimPrefix(good, "sha256=")), true},
		{"truncated", "k", good[:20], false},
		{"not hex", "k", "sha256=xyz", false},
		{"sha1 prefix", "k", "sha1=" + strings.TrimPrefix(good, "sha256="), false},
		{"no secret configured", "", githubtest.Sign(nil, body), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := github.Webhooks{Secret: []byte(tc.secret)}.Read(delivery("pull_request", "d1", "application/json", tc.header, body))
			if got := err == nil; got != tc.want {
				t.Errorf("verified = %v (%v), want %v", got, err, tc.want)
			}
			if err != nil && (forge.Refused(err) != forge.Unauthorized || err.Error() != "missing or wrong X-Hub-Signature-256") {
				t.Errorf("refusal %q (%s), want unauthorized", err, forge.Refused(err))
			}
		})
	}
}

func TestWebhooksRead(t *testing.T) {
	secret := []byte("s3cret")
	w := github.Webhooks{Secret: secret}
	js := []byte(`{"action":"opened","number":2}`)
	form := []byte(url.Values{"payload": {string(js)}}.Encode())
	big := bytes.Repeat([]byte(" "), github.MaxPayload+1)
	tests := []struct {
		name, event, id, ctype string
		body                   []byte
		reason                 forge.Reason // "" accepted
		answer                 string
		payload                []byte
		kind                   forge.Kind
	}{
		{"json", "pull_request", "j1", "application/json", js, "", "", js, forge.KindPullRequest},
		{"no content type", "push", "j2", "", js, "", "", js, forge.KindPush},
		{"form", "pull_request", "f1", "application/x-www-form-urlencoded", form, "", "", js, forge.KindPullRequest},
		{"form with charset", "issue_comment", "f2", "application/x-www-form-urlencoded; charset=utf-8", form, "", "", js, forge.KindComment},
		{"other event", "star", "s1", "application/json", []byte(`{}`), "", "", []byte(`{}`), forge.KindOther},
		{"ping", "ping", "p1", "application/json", []byte(`{"zen":"x"}`), "", "", []byte(`{"zen":"x"}`), forge.KindPing},
		{"form without payload", "pull_request", "f3", "application/x-www-form-urlencoded", []byte("other=1"), forge.Invalid, "not a JSON document", nil, forge.KindPullRequest},
		{"unsupported type", "pull_request", "f4", "text/plain", js, forge.Invalid, "unsupported Content-Type", nil, forge.KindPullRequest},
		{"malformed type", "pull_request", "f5", "application/json; =", js, forge.Invalid, "content type", nil, forge.KindPullRequest},
		{"bad JSON", "pull_request", "b1", "application/json", []byte(`{"action":`), forge.Invalid, "decoding", nil, forge.KindPullRequest},
		{"no event", "", "e1", "application/json", js, forge.Invalid, "X-GitHub-Event and X-GitHub-Delivery are required", nil, forge.KindOther},
		{"no delivery id", "push", "", "application/json", js, forge.Invalid, "X-GitHub-Event and X-GitHub-Delivery are required", nil, forge.KindPush},
		{"too large", "push", "l1", "application/json", big, forge.TooLarge, "payload too large", nil, forge.KindPush},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := w.Read(delivery(tc.event, tc.id, tc.ctype, githubtest.Sign(secret, tc.body), tc.body))
			switch {
			case tc.reason == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.reason != "" && (err == nil || forge.Refused(err) != tc.reason || !strings.Contains(err.Error(), tc.answer)):
				t.Fatalf("error %v (%s), want %s containing %q", err, forge.Refused(err), tc.reason, tc.answer)
			}
			if d.ID != tc.id || d.Event != tc.event || d.Kind != tc.kind || !bytes.Equal(d.Payload, tc.payload) {
				t.Errorf("delivery %q %q %q %s, want %q %q %q %s", d.ID, d.Event, d.Kind, d.Payload, tc.id, tc.event, tc.kind, tc.payload)
			}
		})
	}
	req := httptest.NewRequest(http.MethodPost, "/webhooks/github", iotest.ErrReader(errors.New("connection reset")))
	if _, err := w.Read(req); forge.Refused(err) != forge.Invalid || err.Error() != "reading the body failed" {
		t.Errorf("unreadable body: %v", err)
	}
}

func TestWebhooksParse(t *testing.T) {
	id := func(n int64) *int64 { return &n }
	tests := []struct {
		name, event, payload string
		want                 forge.Event
		err                  string
	}{
		{"pull request", "pull_request", `{"action":"opened","number":3,"repository":{"full_name":"acme/db-roles"},"installation":{"id":77}}`,
			forge.Event{Kind: forge.KindPullRequest, Repository: "acme/db-roles", Installation: id(77), Action: "opened", Number: 3}, ""},
		{"number of the pull request", "pull_request", `{"action":"closed","pull_request":{"number":4}}`,
			forge.Event{Kind: forge.KindPullRequest, Action: "closed", Number: 4}, ""},
		{"installation without id", "pull_request", `{"action":"opened","number":3,"installation":{}}`,
			forge.Event{Kind: forge.KindPullRequest, Installation: id(0), Action: "opened", Number: 3}, ""},
		{"push", "push", `{"ref":"refs/heads/main","after":"x","repository":{"full_name":"acme/db-roles"}}`,
			forge.Event{Kind: forge.KindPush, Repository: "acme/db-roles", Ref: "refs/heads/main"}, ""},
		{"comment on a pull request", "issue_comment",
			`{"action":"created","issue":{"number":3,"pull_request":{}},"comment":{"body":"/rolecd plan","user":{"login":"a","type":"User"}},"repository":{"full_name":"acme/db-roles"}}`,
			forge.Event{Kind: forge.KindComment, Repository: "acme/db-roles", Action: "created", Number: 3, Comment: forge.Comment{User: "a", Body: "/rolecd plan", OnPR: true}}, ""},
		{"comment by a bot on an issue", "issue_comment",
			`{"action":"created","issue":{"number":5},"comment":{"body":"hi","user":{"login":"b","type":"Bot"}}}`,
			forge.Event{Kind: forge.KindComment, Action: "created", Number: 5, Comment: forge.Comment{User: "b", Bot: true, Body: "hi"}}, ""},
		{"comment without issue", "issue_comment", `{"issue":null,"comment":null}`, forge.Event{Kind: forge.KindComment}, ""},
		{"ping is not decoded", "ping", `[]`, forge.Event{Kind: forge.KindPing}, ""},
		{"other events are not decoded", "star", `null`, forge.Event{Kind: forge.KindOther}, ""},
		{"undecodable", "push", `{"ref":7}`, forge.Event{}, "decoding push payload"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := github.Webhooks{}.Parse(forge.Delivery{ID: "d", Event: tc.event, Payload: []byte(tc.payload)})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Parse = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// FuzzWebhooks: whatever a signed body holds, Read and Parse never panic,
// a refusal is Invalid (the signature is good, the size is within the
// limit), and what Read accepts is a JSON document Parse can be given.
func FuzzWebhooks(f *testing.F) {
	for _, seed := range githubtest.FuzzSeeds() {
		f.Add(seed.Event, seed.ContentType, []byte(seed.Body))
	}
	secret := []byte("fuzz")
	w := github.Webhooks{Secret: secret}
	f.Fuzz(func(t *testing.T, event, ctype string, body []byte) {
		d, err := w.Read(delivery(event, "fuzz", ctype, githubtest.Sign(secret, body), body))
		if err != nil {
			if r := forge.Refused(err); r != forge.Invalid {
				t.Errorf("event %q, content type %q, body %q: refused %s: %v", event, ctype, body, r, err)
			}
			return
		}
		if _, err := w.Parse(d); err != nil && d.Kind != forge.KindPullRequest && d.Kind != forge.KindPush && d.Kind != forge.KindComment {
			t.Errorf("event %q: a %s delivery failed to parse: %v", event, d.Kind, err)
		}
	})
}
