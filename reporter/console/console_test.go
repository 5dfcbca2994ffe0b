package console

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/rolecd/rolecd/gitsource"
	"github.com/rolecd/rolecd/gitsource/gittest"
)

// withoutAncestry hides gitsource's ancestor test, so the console falls
// back to asking whether the head still changes the role files.
type withoutAncestry struct{ Source }

// fetched is a gitsource.Source of remote's main, fetched now.
func fetched(t *testing.T, remote *gittest.Remote) *gitsource.Source {
	t.Helper()
	ctx := context.Background()
	src, err := gitsource.Open(ctx, gitsource.Config{URL: remote.URL(), Branch: "main", CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	return src
}

func TestPullRequests(t *testing.T) {
	ctx := context.Background()
	remote := gittest.New(t)
	remote.Branch("feature", remote.Commit("main", "roles", gittest.File("roles.yaml", "roles: []\n")))
	feature := remote.Commit("feature", "add ro", gittest.File("ro.yaml", "roles: []\n"))
	remote.SetRef("refs/pull/2/head", feature)
	declared := []PullRequest{{Number: 1, Branch: "feature", Title: "Add ro"}, {Number: 2}, {Number: 3, Branch: "gone"}}

	for _, tc := range []struct {
		name   string
		source func(*gitsource.Source) Source
	}{
		{"ancestor test", func(s *gitsource.Source) Source { return s }},
		{"role-file changes", func(s *gitsource.Source) Source { return withoutAncestry{s} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := New(&bytes.Buffer{}, tc.source(fetched(t, remote)), "", declared)
			open, err := c.ListOpenPRs(ctx, "main")
			if err != nil || len(open) != 2 || open[0].HeadSHA != feature || open[0].Title != "Add ro" ||
				open[1].Number != 2 || open[1].Title != "PR #2" || open[1].HeadSHA != feature {
				t.Fatalf("open = %+v, %v; want #1 (feature) and #2 (refs/pull/2/head); #3's branch does not exist", open, err)
			}
			if prs, _ := c.ListOpenPRs(ctx, "other"); len(prs) != 0 {
				t.Errorf("pull requests for another base: %+v", prs)
			}
			if _, err := c.GetPR(ctx, 9); err == nil || !strings.Contains(err.Error(), "not declared") {
				t.Errorf("GetPR(9) = %v; want an undeclared pull request", err)
			}
		})
	}

	merge := remote.Merge("main", feature, "Merge #1")
	for _, tc := range []struct {
		name   string
		source func(*gitsource.Source) Source
	}{
		{"ancestor test", func(s *gitsource.Source) Source { return s }},
		{"role-file changes", func(s *gitsource.Source) Source { return withoutAncestry{s} }},
	} {
		t.Run("merged/"+tc.name, func(t *testing.T) {
			c := New(&bytes.Buffer{}, tc.source(fetched(t, remote)), "main", declared)
			pr, err := c.GetPR(ctx, 1)
			if err != nil || !pr.Merged || pr.State != "closed" || pr.MergeCommitSHA != merge {
				t.Errorf("after the merge: %+v, %v; want closed, merged at %s", pr, err, merge)
			}
			if open, err := c.ListOpenPRs(ctx, "main"); err != nil || len(open) != 0 {
				t.Errorf("open after the merge = %+v, %v; want none", open, err)
			}
		})
	}
}

func TestPrints(t *testing.T) {
	ctx := context.Background()
	var out bytes.Buffer
	c := New(&out, nil, "main", nil)
	if err := c.UpsertComment(ctx, 1, "plan", []string{"part one", "part two"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Comment(ctx, 1, "applied\n"); err != nil {
		t.Fatal(err)
	}
	if err := c.SetStatus(ctx, "0123456789abcdef0123", "rolecd/plan", "success", "1 role to change", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpsertIssue(ctx, "drift", "Drift on analytics", "1 role drifted"); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseIssue(ctx, "drift", "gone"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"rolecd comment on pull request #1 (plan) ────────\npart one\npart two\n",
		"rolecd comment on pull request #1 ────────\napplied\n────",
		"status rolecd/plan of 0123456789ab: success: 1 role to change\n",
		"rolecd issue drift: Drift on analytics ────────\n1 role drifted\n",
		"rolecd issue drift closed ────────\ngone\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("console output lacks %q:\n%s", want, out.String())
		}
	}
	if p, _ := c.Permission(ctx, "anyone"); p != "none" {
		t.Errorf("console permission = %q; want none (nobody comments on the console)", p)
	}
	if files, err := c.PRFiles(ctx, 1); files != nil || err != nil {
		t.Errorf("PRFiles = %v, %v; want unknown (nil)", files, err)
	}
}
