package reconciler

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// ancestrySource adds an ancestor test to the fake source.
type ancestrySource struct {
	*fakeSource
	ancestors map[string]bool // "a..b": a is an ancestor of b
}

func (s ancestrySource) IsAncestor(a, b string) (bool, error) { return s.ancestors[a+".."+b], nil }

func TestConsoleForge(t *testing.T) {
	src := newFakeSource()
	src.commit("base", map[string]string{}, false)
	src.commit("f1", map[string]string{}, true)
	src.branch = "base"
	src.refs["refs/heads/feature"] = "f1"
	src.pulls[2] = "f1"
	var out bytes.Buffer
	c := NewConsole(&out, src, "main", []ConsolePR{{Number: 1, Branch: "feature", Title: "Add ro"}, {Number: 2}, {Number: 3, Branch: "gone"}})
	ctx := context.Background()

	open, err := c.ListOpenPRs(ctx, "main")
	if err != nil || len(open) != 2 || open[0].HeadSHA != "f1" || open[0].Title != "Add ro" || open[1].Number != 2 {
		t.Fatalf("open = %+v, %v; want #1 and #2 at f1 (#3's branch does not exist)", open, err)
	}
	if prs, _ := c.ListOpenPRs(ctx, "other"); len(prs) != 0 {
		t.Errorf("pull requests for another base: %+v", prs)
	}
	if _, err := c.GetPR(ctx, 9); err == nil {
		t.Error("an undeclared pull request exists")
	}
	// Merged: the branch now contains the head (the fake's Touches is false
	// once the head is the branch head).
	src.commit("m1", map[string]string{}, false)
	src.branch = "f1"
	pr, err := c.GetPR(ctx, 1)
	if err != nil || !pr.Merged || pr.State != "closed" || pr.MergeCommitSHA != "f1" {
		t.Errorf("after merge: %+v, %v", pr, err)
	}
	// With an ancestor test, it is used.
	src.branch = "m1"
	withAncestry := NewConsole(&out, ancestrySource{src, map[string]bool{"f1..m1": true}}, "main", []ConsolePR{{Number: 1, Branch: "feature"}})
	if pr, err := withAncestry.GetPR(ctx, 1); err != nil || !pr.Merged || pr.MergeCommitSHA != "m1" {
		t.Errorf("with IsAncestor: %+v, %v", pr, err)
	}

	if err := c.UpsertComment(ctx, 1, "plan", []string{"part one", "part two"}); err != nil {
		t.Fatal(err)
	}
	if err := c.SetStatus(ctx, "0123456789abcdef0123", "rolecd/plan", "success", "1 role to change", ""); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseIssue(ctx, "drift", "gone"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"comment on pull request #1 (plan)", "part one\npart two", "status rolecd/plan of 0123456789ab: success: 1 role to change", "issue drift closed"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("console output lacks %q:\n%s", want, out.String())
		}
	}
	if p, _ := c.Permission(ctx, "anyone"); p != "none" {
		t.Errorf("console permission = %q", p)
	}
}
