package reporter

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rolecd/rolecd/applier/report"
	"github.com/rolecd/rolecd/internal/golden"
	"github.com/rolecd/rolecd/planner"
)

const (
	headSHA = "3f2a9c1e0b7d4c5a8e9f60718293a4b5c6d7e8f9"
	onMerge = "Merging applies this plan, role by role, if each checksum still matches the live databases; otherwise rolecd comments the new plan and waits for `/rolecd apply <digest>`."
)

// partSeparator joins the parts of a split comment in golden files.
const partSeparator = "\n<<<<<<<<<<<<<<<<<<<< next part >>>>>>>>>>>>>>>>>>>>\n"

func TestPlanCommentGolden(t *testing.T) {
	parts := PlanComment(sampleDocument(), CommentInfo{Commit: headSHA, PR: 12, OnMerge: onMerge})
	if len(parts) != 1 {
		t.Fatalf("%d parts, want 1", len(parts))
	}
	golden.Assert(t, "plan_comment.md.golden", []byte(parts[0]))
}

func TestPlanCommentInvalidFiles(t *testing.T) {
	info := CommentInfo{Commit: headSHA, PR: 12,
		OnMerge: "Nothing is applied on merge until the role files are valid.",
		Errors: []string{
			"roles/resources.yaml:4:11: invalid port \"70000\": want a number from 1 to 65535",
			"roles/roles.csv:4: unknown resource \"warehouse\"",
			"roles/team|ops.csv:2: label \"@admins`x`\" has invalid characters <b>",
		}}
	parts := PlanComment(nil, info)
	if len(parts) != 1 {
		t.Fatalf("%d parts, want 1", len(parts))
	}
	golden.Assert(t, "plan_invalid.md.golden", []byte(parts[0]))
	empty := &planner.Document{Version: planner.DocumentVersion, Resources: []planner.ResourcePlan{}}
	if again := PlanComment(empty, info); len(again) != 1 || again[0] != parts[0] {
		t.Errorf("an empty document with errors renders differently from none:\n%s", again[0])
	}
}

// bigDocument has roles with many statements: role "wide" needs several
// parts, "huge" holds one statement longer than a small part, and a schema
// name holds backticks.
func bigDocument(roles, statements int) *planner.Document {
	doc := &planner.Document{Version: planner.DocumentVersion, SID: "9a1b2c3d-0000-4000-8000-000000000002",
		CreatedAt: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC), Source: planner.Source{Commit: headSHA, PullRequest: 12}}
	rp := planner.ResourcePlan{Resource: "analytics", MaintenanceDatabase: "postgres", ServerVersion: "16.4"}
	for i := range roles {
		label := fmt.Sprintf("team%03d", i)
		name := fmt.Sprintf("rolecd_analytics_%s_%08x", label, i*2654435761%(1<<32))
		n := 3
		switch i {
		case 1:
			label, n = "wide", statements
		case 2:
			label = "huge"
		}
		sql := map[string][]string{"postgres": {fmt.Sprintf("CREATE ROLE %q WITH LOGIN PASSWORD '<redacted>'", name)}}
		for k := range n {
			db := fmt.Sprintf("db%02d", k%4)
			sql[db] = append(sql[db], fmt.Sprintf("GRANT SELECT ON ALL TABLES IN SCHEMA \"s%04d\", \"weird ``` schema\" TO %q", k, name))
		}
		if label == "huge" {
			sql["db00"] = append(sql["db00"], "REVOKE ALL ON ALL TABLES IN SCHEMA "+strings.Repeat(`"x", `, 900)+`"y" FROM `+name)
		}
		rp.Roles = append(rp.Roles, planner.RolePlan{
			Config: planner.Config{Type: "managed", Label: label, RoleName: name, Scopes: []string{"db00", "db01.public"}, Privileges: []string{"SELECT"}},
			CurrentState: planner.State{RequiresMigration: true,
				Scopes:  []planner.ScopeState{{Scope: "db00", Tables: 40, Status: planner.StatusUnprovisioned}, {Scope: "db01.public", Tables: 1, Status: planner.StatusUnprovisioned}},
				Changes: []string{"create role", "grant SELECT on 41 table(s)"}},
			SQLPlan: sql, Checksum: planner.Checksum("analytics", name, sql),
		})
	}
	doc.Resources = []planner.ResourcePlan{rp}
	return doc
}

func TestPlanCommentSplitGolden(t *testing.T) {
	doc := bigDocument(3, 30)
	r := &doc.Resources[0].Roles[2] // without its huge statement here
	r.SQLPlan["db00"] = r.SQLPlan["db00"][:len(r.SQLPlan["db00"])-1]
	r.Checksum = planner.Checksum("analytics", r.Config.RoleName, r.SQLPlan)
	parts := PlanComment(doc, CommentInfo{Commit: headSHA, PR: 12, OnMerge: onMerge, MaxLen: 2200})
	if len(parts) < 3 {
		t.Fatalf("%d parts, want the wide role split over several", len(parts))
	}
	golden.Assert(t, "plan_split.md.golden", []byte(strings.Join(parts, partSeparator)))
}

// fencesBalanced reports whether every fenced code block of s is closed, as
// CommonMark reads them (a fence closes with at least as many backticks).
func fencesBalanced(s string) bool {
	open := 0
	for _, line := range strings.Split(s, "\n") {
		t := strings.TrimLeft(line, " ")
		n := len(t) - len(strings.TrimLeft(t, "`"))
		switch {
		case n < 3:
		case open == 0:
			open = n
		case n >= open && strings.TrimSpace(t[n:]) == "":
			open = 0
		}
	}
	return open == 0
}

func TestPlanCommentSplitting(t *testing.T) {
	headerRE := regexp.MustCompile(`^### rolecd plan for #12 at ` + headSHA + `( · part (\d+) of (\d+))?`)
	for _, tc := range []struct {
		name      string
		doc       *planner.Document
		maxLen    int
		wantParts int  // at least
		summary1  bool // the summary fits in part 1
	}{
		{"small parts", bigDocument(6, 60), 3000, 4, true},
		{"tiny parts", bigDocument(4, 30), 1024, 8, false},
		{"medium parts", bigDocument(6, 400), 12000, 3, true},
		{"default size, many roles", bigDocument(250, 20), 0, 2, true},
		{"fits in one", bigDocument(3, 3), 0, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parts := PlanComment(tc.doc, CommentInfo{Commit: headSHA, PR: 12, OnMerge: onMerge, MaxLen: tc.maxLen})
			maxLen := tc.maxLen
			if maxLen == 0 {
				maxLen = DefaultCommentMaxLen
			}
			if len(parts) < tc.wantParts {
				t.Fatalf("%d parts, want at least %d", len(parts), tc.wantParts)
			}
			all := strings.Join(parts, "\n")
			for i, p := range parts {
				if len(p) > maxLen {
					t.Errorf("part %d is %d bytes, over %d", i+1, len(p), maxLen)
				}
				if !fencesBalanced(p) {
					t.Errorf("part %d has an unclosed code block:\n%s", i+1, p)
				}
				if o, c := strings.Count(p, "<details>"), strings.Count(p, "</details>"); o != c {
					t.Errorf("part %d opens %d <details> and closes %d", i+1, o, c)
				}
				m := headerRE.FindStringSubmatch(p)
				want := fmt.Sprintf("%d", i+1)
				if m == nil || (len(parts) > 1 && (m[2] != want || m[3] != fmt.Sprint(len(parts)))) {
					t.Errorf("part %d starts with %q", i+1, p[:min(len(p), 120)])
				}
			}
			if !strings.Contains(parts[0], tc.doc.Digest()) || !strings.Contains(parts[0], "Merging applies this plan") {
				t.Error("part 1 lacks the digest or the on-merge line")
			}
			// The summary comes first: in part 1 when it fits there, else
			// in the first parts, before any SQL.
			summary := parts[0]
			if !tc.summary1 {
				summary = all[:strings.Index(all, "<details>")]
			}
			for _, r := range tc.doc.Resources[0].Roles {
				if !strings.Contains(summary, r.Checksum) {
					t.Errorf("the summary lacks the checksum of %s", r.Config.Label)
				}
				for db, stmts := range r.SQLPlan {
					for _, s := range stmts {
						if len(s) < 1000 && !strings.Contains(all, s+";") {
							t.Errorf("statement of %s in %s lost: %s", r.Config.Label, db, s)
						}
					}
				}
			}
		})
	}
}

func TestPlanCommentManyErrors(t *testing.T) {
	var errs []string
	for i := range 300 {
		errs = append(errs, fmt.Sprintf("roles/team%03d.yaml:%d: unknown key \"scope\" in roles: want resource, type, role, scopes, privileges", i, i+1))
	}
	parts := PlanComment(nil, CommentInfo{Commit: headSHA, Errors: errs, MaxLen: 8000})
	all := strings.Join(parts, "")
	for i, p := range parts {
		if len(p) > 8000 || (i > 0 && !strings.Contains(p, "#### Invalid role files")) {
			t.Errorf("part %d: %d bytes, continued list heading missing", i+1, len(p))
		}
	}
	for _, e := range errs {
		if !strings.Contains(all, e) {
			t.Fatalf("error lost: %s", e)
		}
	}
}

func TestMarkdownEscaping(t *testing.T) {
	for _, tc := range []struct{ name, got, want string }{
		{"code span", codeSpan("plain"), "`plain`"},
		{"code span with backticks", codeSpan("a `b` c"), "``a `b` c``"},
		{"code span edge backtick", codeSpan("`x"), "`` `x ``"},
		{"code span newline", codeSpan("a\nb"), "`a b`"},
		{"cell pipe", cell(codeSpan("a|b")), "`a\\|b`"},
		{"text", mdText("*bold* <b>x</b> @team [l](u) a_b"), `\*bold\* &lt;b&gt;x&lt;/b&gt; @` + "\u200b" + `team \[l\](u) a\_b`},
		{"fence", fenceFor("a ```` b"), "`````"},
		{"fence plain", fenceFor("GRANT"), "```"},
		{"commit sha", commitRef(headSHA), headSHA},
		{"commit other", commitRef("main|x"), "`main|x`"},
		{"clip", clip("héllo", 2), "h…"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}

func sampleReport() *report.Report {
	return &report.Report{
		SID: "4e654d51-0000-4000-8000-000000000003", PlanSID: "6f1c2d3e-0000-4000-8000-000000000001",
		Resources: []report.Resource{
			{Resource: "analytics", Roles: []report.Role{
				{RoleName: "rolecd_analytics_ro_6075a443", Label: "ro", Status: report.RoleApplied,
					Statements: []report.Statement{{Database: "postgres", SQL: "CREATE ROLE ...", Outcome: "ok", Duration: 7 * time.Millisecond}}},
				{RoleName: "rolecd_analytics_rw_5bd4b1a6", Label: "rw", Status: report.RoleSkipped, Reason: "in sync at plan time"},
				{RoleName: "rolecd_analytics_auditor_48c82179", Label: "auditor", Status: report.RoleRefused,
					Reason: "live state drifted since plan 6f1c2d3e-0000-4000-8000-000000000001 (found at database \"analytics\", after 1 database(s) were applied)"},
				{RoleName: "rolecd_analytics_etl_1b2c3d4e", Label: "etl", Status: report.RoleFailed,
					Reason: "ERROR: permission denied for schema \"pay|roll\" (SQLSTATE 42501)"},
			}},
			{Resource: "billing", Error: "connecting to 127.0.0.1:54330: dial error: connection refused", Roles: []report.Role{}},
		},
	}
}

func TestApplyCommentGolden(t *testing.T) {
	golden.Assert(t, "apply_comment.md.golden", []byte(ApplyComment(sampleReport(), "")))
}

func TestApplyCommentFitsOneComment(t *testing.T) {
	rep := &report.Report{SID: "s", PlanSID: "p"}
	rr := report.Resource{Resource: "analytics"}
	for i := range 3000 {
		rr.Roles = append(rr.Roles, report.Role{RoleName: fmt.Sprintf("rolecd_analytics_r%04d_00000000", i), Label: fmt.Sprintf("r%04d", i),
			Status: report.RoleSkipped, Reason: "in sync at plan time"})
	}
	rep.Resources = []report.Resource{rr}
	body := ApplyComment(rep, "plan-sid")
	if len(body) > DefaultCommentMaxLen || !strings.Contains(body, "more roles, left out") || !strings.Contains(body, "plan session `plan-sid`") {
		t.Errorf("apply comment of %d bytes:\n%s", len(body), body[len(body)-300:])
	}
}

func TestDriftIssueGolden(t *testing.T) {
	title, body := DriftIssue(sampleDocument())
	if title != "rolecd: drift on analytics, billing" {
		t.Errorf("title %q", title)
	}
	golden.Assert(t, "drift_issue.md.golden", []byte(title+"\n\n"+body))
}

func TestDriftIssueFitsOneIssue(t *testing.T) {
	doc := bigDocument(40, 400)
	_, body := DriftIssue(doc)
	if len(body) > DefaultCommentMaxLen || !fencesBalanced(body) || !strings.Contains(body, "not shown in full") {
		t.Errorf("drift body of %d bytes, fences balanced %v:\n%s", len(body), fencesBalanced(body), body[len(body)-300:])
	}
	for _, r := range doc.Resources[0].Roles {
		if !strings.Contains(body, r.Checksum) {
			t.Errorf("body lacks the checksum of %s", r.Config.Label)
		}
	}
}
