package reporter

import (
	"bytes"
	"embed"
	"fmt"
	"regexp"
	"strings"
	"text/template"
	"unicode/utf8"

	"github.com/rolecd/rolecd/applier/report"
	"github.com/rolecd/rolecd/internal/inventory"
	"github.com/rolecd/rolecd/planner"
)

// Comment sizes, in bytes (GitHub counts characters; a byte limit is the
// safe side of it).
const (
	// CommentLimit is GitHub's limit on a comment or issue body.
	CommentLimit = 65536
	// DefaultCommentMaxLen is CommentInfo.MaxLen's default: the limit less
	// room for the hidden marker line reporter/github adds to each part.
	DefaultCommentMaxLen = CommentLimit - 512
	// MinCommentMaxLen is the smallest MaxLen honoured; smaller ones are
	// raised to it.
	MinCommentMaxLen = 1024
)

//go:embed templates/*.md.tmpl
var markdownFS embed.FS

// The markdown templates use builtins only: text.go's template set, with
// its own functions, parses every templates/*.tmpl file too.
var mdTemplates = template.Must(template.New("").ParseFS(markdownFS, "templates/*.md.tmpl"))

// renderMD executes one markdown template. The templates are embedded and
// their data plain values, so an error is a bug of this package (its tests
// render every template): it shows in the text rather than stopping the
// daemon.
func renderMD(name string, data any) string {
	var b bytes.Buffer
	if err := mdTemplates.ExecuteTemplate(&b, name, data); err != nil {
		return fmt.Sprintf("\n(rolecd could not render %s: %s)\n", name, mdText(err.Error()))
	}
	return b.String()
}

// CommentInfo is what a plan comment says besides the plan itself.
type CommentInfo struct {
	Commit string // the head commit planned
	PR     int
	// OnMerge is one line (markdown) telling reviewers what happens on merge.
	OnMerge string
	// Errors are the problems of invalid role files, "file:line: message".
	Errors []string
	// MaxLen bounds each part in bytes (default DefaultCommentMaxLen).
	MaxLen int
	// Inventory lists the resources of the planned tree that were not
	// connected: new, changed or removed relative to the reviewed branch.
	Inventory *inventory.Diff
}

// planView is what the plan templates print once.
type planView struct {
	Commit, OnMerge     string
	PR                  int
	Digest, DigestShort string
	SID                 string
	HasDoc              bool
	Sum                 planner.Summary
	Errors              int
	NotConnected        int
	Part, Parts         int
}

type rowView struct{ Resource, Role, Status, Scopes, Statements, Checksum string }

type failedView struct{ Resource, Error string }

// roleView is one <details> block of a role's SQL, or one chunk of it.
type roleView struct {
	Resource, RoleName, Type, Label, Status string
	Statements                              int
	Chunk, Chunks                           int
	Meta                                    bool // privileges, scopes, changes: first chunk only
	SourceRole, Privileges                  string
	Scopes, Changes                         []string
	MoreChanges                             int
	Fence                                   string
	Lines                                   []string
	Checksum                                string
}

// block is a unit of a comment that is never split; group is the heading
// printed before it when the block starts a part or follows another group;
// role names the role it shows, if any.
type block struct{ group, text, role string }

// PlanComment renders doc as a pull-request comment, in as many parts as
// needed to keep each under info.MaxLen. Part 1 holds the summary: counts,
// the digest, the on-merge line, invalid files, and a table with every
// role's status, scopes and checksum; the SQL of each role to change
// follows in collapsible blocks, a role too large for one part being split
// between statements into complete code blocks. Every part starts with a
// short header. doc may be nil (or empty) when the role files are invalid.
func PlanComment(doc *planner.Document, info CommentInfo) []string {
	maxLen := info.MaxLen
	if maxLen <= 0 {
		maxLen = DefaultCommentMaxLen
	}
	maxLen = max(maxLen, MinCommentMaxLen)
	v := planView{Commit: commitRef(info.Commit), PR: info.PR, OnMerge: strings.TrimSpace(info.OnMerge), Errors: len(info.Errors)}
	if info.Inventory != nil {
		v.NotConnected = info.Inventory.NotConnected()
	}
	if doc != nil && len(doc.Resources) == 0 && len(info.Errors) > 0 {
		doc = nil // an empty plan of invalid files: nothing was planned
	}
	if doc != nil {
		if v.Commit == "" {
			v.Commit = commitRef(doc.Source.Commit)
		}
		v.HasDoc, v.Sum = true, doc.Summary()
		if doc.SID != "" {
			v.SID = codeSpan(doc.SID)
		}
		v.Digest = doc.Digest()
		v.DigestShort = v.Digest[:12]
	}
	widest := v
	widest.Part, widest.Parts = 999999, 999999
	budget := maxLen - len(renderMD("md-plan-header", widest))

	blocks := []block{{text: renderMD("md-plan-head", v)}}
	blocks = append(blocks, errorBlocks(info.Errors)...)
	blocks = append(blocks, inventoryBlocks(info.Inventory)...)
	if doc != nil {
		blocks = append(blocks, tableBlocks(doc, false)...)
		blocks = append(blocks, failedBlocks(doc)...)
		blocks = append(blocks, noteBlocks(doc)...)
		blocks = append(blocks, sqlBlocks(doc, budget)...)
	}
	bodies, _ := pack(blocks, budget)
	parts := make([]string, len(bodies))
	for i, body := range bodies {
		h := v
		h.Part, h.Parts = i+1, len(bodies)
		parts[i] = renderMD("md-plan-header", h) + body
	}
	return parts
}

func errorBlocks(errs []string) []block {
	group := renderMD("md-plan-errors-group", nil)
	var out []block
	for _, e := range errs {
		out = append(out, block{group: group, text: renderMD("md-plan-error", codeSpan(clip(e, 2000)))})
	}
	return out
}

// tableBlocks renders one summary row per role (only roles to change when
// changedOnly) and one per resource without roles.
func tableBlocks(doc *planner.Document, changedOnly bool) []block {
	group := renderMD("md-plan-table-group", nil)
	var out []block
	row := func(r rowView, key string) { out = append(out, block{group, renderMD("md-plan-row", r), key}) }
	for _, rp := range doc.Resources {
		res := mdText(rp.Resource)
		switch {
		case rp.Error != "":
			row(rowView{Resource: res, Role: "—", Status: "**error**", Scopes: "—", Statements: "—", Checksum: "—"}, rp.Resource)
			continue
		case len(rp.Roles) == 0 && !changedOnly:
			row(rowView{Resource: res, Role: "—", Status: "no roles declared", Scopes: "—", Statements: "0", Checksum: "—"}, rp.Resource)
			continue
		}
		for _, r := range rp.Roles {
			if changedOnly && !r.CurrentState.RequiresMigration {
				continue
			}
			row(rowView{
				Resource:   res,
				Role:       cell(codeSpan(r.Config.RoleName)) + " " + mdText(r.Config.Type) + " " + mdText(fmt.Sprintf("%q", r.Config.Label)),
				Status:     mdStatus(r),
				Scopes:     scopesCell(r),
				Statements: fmt.Sprint(statementCount(r)),
				Checksum:   codeSpan(r.Checksum),
			}, rp.Resource+"/"+r.Config.RoleName)
		}
	}
	return out
}

// noteBlocks renders what each resource's plan could not check.
func noteBlocks(doc *planner.Document) []block {
	group := renderMD("md-plan-notes-group", nil)
	var out []block
	for _, rp := range doc.Resources {
		for _, n := range rp.Notes {
			out = append(out, block{group, renderMD("md-plan-note", failedView{mdText(rp.Resource), mdText(clip(n, 2000))}), rp.Resource})
		}
	}
	return out
}

func failedBlocks(doc *planner.Document) []block {
	group := renderMD("md-plan-failed-group", nil)
	var out []block
	for _, rp := range doc.Resources {
		if rp.Error != "" {
			out = append(out, block{group, renderMD("md-plan-failed", failedView{mdText(rp.Resource), codeSpan(clip(rp.Error, 2000))}), rp.Resource})
		}
	}
	return out
}

// sqlBlocks renders a <details> block per role to change, split into
// chunks of whole statements when one block would not fit in budget.
func sqlBlocks(doc *planner.Document, budget int) []block {
	group := renderMD("md-plan-sql-group", nil)
	room := budget - len(group)
	var out []block
	for _, rp := range doc.Resources {
		for _, r := range rp.Roles {
			if !r.CurrentState.RequiresMigration {
				continue
			}
			for _, text := range roleChunks(rp, r, room) {
				out = append(out, block{group, text, rp.Resource + "/" + r.Config.RoleName})
			}
		}
	}
	return out
}

const dbComment = "-- database "

func roleChunks(rp planner.ResourcePlan, r planner.RolePlan, room int) []string {
	var lines, dbOf []string // dbOf: the database comment in force at each line
	for _, db := range planner.OrderedDatabases(r.SQLPlan, rp.MaintenanceDatabase) {
		header := dbComment + fmt.Sprintf("%q", db)
		lines, dbOf = append(lines, header), append(dbOf, header)
		for _, stmt := range r.SQLPlan[db] {
			lines, dbOf = append(lines, stmt+";"), append(dbOf, header)
		}
	}
	v := roleView{
		Resource: htmlText.Replace(rp.Resource), RoleName: htmlText.Replace(r.Config.RoleName),
		Type: htmlText.Replace(r.Config.Type), Label: htmlText.Replace(fmt.Sprintf("%q", r.Config.Label)),
		Status: mdStatus(r), Statements: statementCount(r), Chunk: 1, Chunks: 1, Meta: true,
		Fence: fenceFor(strings.Join(lines, "\n")), Lines: lines, Checksum: r.Checksum,
	}
	if r.Config.Type == "external" {
		v.SourceRole = codeSpan(r.Config.SourceRole)
	} else if len(r.Config.Privileges) > 0 {
		v.Privileges = mdText(strings.Join(r.Config.Privileges, ", "))
	}
	for _, s := range r.CurrentState.Scopes {
		v.Scopes = append(v.Scopes, fmt.Sprintf("%s: %d table%s, %s", codeSpan(s.Scope), s.Tables, plural(s.Tables), mdText(s.Status)))
	}
	for _, c := range r.CurrentState.Changes {
		v.Changes = append(v.Changes, mdText(c))
	}
	if whole := renderMD("md-plan-role", v); len(whole) <= room {
		return []string{whole}
	}

	// Too large for one part: keep the description within half a part,
	// then fill chunks with whole statements.
	fitMeta(&v, room/2)
	v.Chunk, v.Chunks = 999999, 999999
	var chunks [][]string
	for i := 0; i < len(lines); {
		c := v
		c.Meta, c.Lines = len(chunks) == 0, nil
		if !strings.HasPrefix(lines[i], dbComment) {
			c.Lines = []string{dbOf[i]} // say where a continued database's statements run
		}
		size := len(renderMD("md-plan-role", c)) + lineCost(c.Lines)
		added := 0
		for i < len(lines) && size+len(lines[i])+1 <= room {
			c.Lines = append(c.Lines, lines[i])
			size += len(lines[i]) + 1
			i++
			added++
		}
		if added == 0 {
			// One statement longer than a part: cut it (the comment is
			// for reading; apply uses the plan document).
			cut := cutAt(lines[i], max(room-size-1, 1))
			c.Lines = append(c.Lines, lines[i][:cut])
			lines[i] = lines[i][cut:]
		}
		chunks = append(chunks, c.Lines)
	}
	out := make([]string, len(chunks))
	for k, ls := range chunks {
		c := v
		c.Meta, c.Lines, c.Chunk, c.Chunks = k == 0, ls, k+1, len(chunks)
		out[k] = renderMD("md-plan-role", c)
	}
	return out
}

// fitMeta drops scopes and changes from the end until the first chunk's
// description fits in limit bytes.
func fitMeta(v *roleView, limit int) {
	c := *v
	c.Lines = nil
	base := len(renderMD("md-plan-role", c))
	total := base
	keepScopes := 0
	for _, s := range v.Scopes {
		if total+len(s)+9 > limit {
			break
		}
		total += len(s) + 9
		keepScopes++
	}
	keepChanges := 0
	for _, ch := range v.Changes {
		if total+len(ch)+3 > limit-40 {
			break
		}
		total += len(ch) + 3
		keepChanges++
	}
	v.MoreChanges = len(v.Changes) - keepChanges + len(v.Scopes) - keepScopes
	v.Scopes, v.Changes = v.Scopes[:keepScopes], v.Changes[:keepChanges]
}

func lineCost(lines []string) int {
	n := 0
	for _, l := range lines {
		n += len(l) + 1
	}
	return n
}

// cutAt returns the largest index <= n that is a rune boundary of s.
func cutAt(s string, n int) int {
	if n >= len(s) {
		return len(s)
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	if n == 0 {
		_, size := utf8.DecodeRuneInString(s)
		return size
	}
	return n
}

// pack puts blocks, in order, into as few bodies as possible, each at most
// budget bytes (a block larger than budget gets a body of its own). first
// is how many blocks the first body holds.
func pack(blocks []block, budget int) (bodies []string, first int) {
	var cur strings.Builder
	group := ""
	first = len(blocks)
	for i, b := range blocks {
		add := b.text
		if cur.Len() == 0 || b.group != group {
			add = b.group + add
			if cur.Len() > 0 {
				add = "\n" + add
			}
		}
		if cur.Len() > 0 && cur.Len()+len(add) > budget {
			if len(bodies) == 0 {
				first = i
			}
			bodies = append(bodies, cur.String())
			cur.Reset()
			add = b.group + b.text
		}
		cur.WriteString(add)
		group = b.group
	}
	if cur.Len() > 0 || len(bodies) == 0 {
		bodies = append(bodies, cur.String())
	}
	return bodies, first
}

// mdStatus is a role's status word in comments.
func mdStatus(r planner.RolePlan) string {
	switch {
	case !r.CurrentState.Exists:
		return "create"
	case r.CurrentState.Adopt:
		return "adopt"
	case r.CurrentState.RequiresMigration:
		return "update"
	}
	return "in sync"
}

func statementCount(r planner.RolePlan) int {
	n := 0
	for _, stmts := range r.SQLPlan {
		n += len(stmts)
	}
	return n
}

// scopesCell lists a role's scopes with their table counts (the first
// three, then how many more), or an external role's source role.
func scopesCell(r planner.RolePlan) string {
	if r.Config.Type == "external" {
		return cell("source " + codeSpan(r.Config.SourceRole))
	}
	var parts []string
	for i, s := range r.CurrentState.Scopes {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("+%d more", len(r.CurrentState.Scopes)-3))
			break
		}
		parts = append(parts, fmt.Sprintf("%s (%d)", cell(codeSpan(clip(s.Scope, 100))), s.Tables))
	}
	if len(parts) == 0 {
		return "—"
	}
	return strings.Join(parts, ", ")
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

var shaPattern = regexp.MustCompile(`^[0-9a-f]{7,64}$`)

// commitRef shows a commit: a SHA as is (GitHub links it), anything else
// as code.
func commitRef(c string) string {
	switch {
	case c == "":
		return ""
	case shaPattern.MatchString(c):
		return c
	}
	return codeSpan(clip(c, 100))
}

// clip cuts s to at most n bytes (on a rune boundary), marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:cutAt(s, n)] + "…"
}

// codeSpan renders s as inline code, whatever backticks it holds.
func codeSpan(s string) string {
	s = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
	longest := longestBacktickRun(s)
	ticks := strings.Repeat("`", longest+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") || (longest > 0 && strings.HasPrefix(s, " ")) {
		s = " " + s + " "
	}
	return ticks + s + ticks
}

// cell makes a code span safe inside a table cell: its pipes are escaped,
// as GitHub's tables require (mdText escapes them already).
func cell(s string) string {
	return strings.ReplaceAll(s, "|", `\|`)
}

// mdText escapes s for markdown text: no formatting, links, HTML or
// @-mentions can come from it.
var mdEscaper = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`, "<", "&lt;", ">", "&gt;",
	"&", "&amp;", "|", `\|`, "#", `\#`, "~", `\~`, "!", `\!`, "@", "@\u200b", "\n", " ", "\r", " ",
)

func mdText(s string) string { return mdEscaper.Replace(s) }

// htmlText escapes s for HTML text such as a <summary>.
var htmlText = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// fenceFor returns a code fence longer than any backtick run in s.
func fenceFor(s string) string {
	longest := longestBacktickRun(s)
	return strings.Repeat("`", max(3, longest+1))
}

// longestBacktickRun is the length of the longest run of backticks in s.
func longestBacktickRun(s string) int {
	longest, run := 0, 0
	for _, r := range s {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return longest
}

// ApplyComment renders an apply report as a pull-request comment: per role
// applied, skipped, refused or failed with the reason, and the session ids.
func ApplyComment(rep *report.Report, planSID string) string {
	if planSID == "" {
		planSID = rep.PlanSID
	}
	var c ApplyCounts
	c.Applied, c.Skipped, c.Refused, c.Failed = rep.Counts()
	type row struct{ Resource, Role, Status, Reason string }
	var rows []row
	for _, rr := range rep.Resources {
		res := mdText(rr.Resource)
		if rr.Error != "" {
			rows = append(rows, row{res, "—", "**failed**", cell(codeSpan(clip(rr.Error, 500)))})
		}
		for _, role := range rr.Roles {
			c.Roles++
			st := mdText(role.Status)
			if report.NotApplied(role.Status) {
				st = "**" + st + "**"
			}
			reason := ""
			if role.Reason != "" {
				reason = mdText(clip(role.Reason, 500))
			}
			rows = append(rows, row{res, cell(codeSpan(role.RoleName)) + " " + mdText(fmt.Sprintf("%q", role.Label)), st, reason})
		}
	}
	data := struct {
		Status                string
		Counts                ApplyCounts
		SID, PlanSID, ShowCmd string
		Omitted               int
	}{Status: string(rep.Status()), Counts: c, SID: codeSpan(rep.SID), ShowCmd: codeSpan("rolecd sessions show " + rep.SID)}
	if planSID != "" {
		data.PlanSID = codeSpan(planSID)
	}
	var b strings.Builder
	b.WriteString(renderMD("md-apply-head", data))
	widest := data
	widest.Omitted = 999999
	room := DefaultCommentMaxLen - len(renderMD("md-apply-foot", widest))
	for i, r := range rows {
		line := renderMD("md-apply-row", r)
		if b.Len()+len(line) > room {
			data.Omitted = len(rows) - i
			break
		}
		b.WriteString(line)
	}
	b.WriteString(renderMD("md-apply-foot", data))
	return b.String()
}

// DriftIssue renders the issue reporting drift found by a scheduled plan:
// its title names the resources that drifted, its body lists every role
// to change with its checksum, then the SQL that reverts the drift, in one
// body under the comment limit (what does not fit is counted, not shown).
func DriftIssue(doc *planner.Document) (title, body string) {
	sum := doc.Summary()
	var names []string
	for _, rp := range doc.Resources {
		drifted := rp.Error != ""
		for _, r := range rp.Roles {
			drifted = drifted || r.CurrentState.RequiresMigration
		}
		if drifted {
			names = append(names, rp.Resource)
		}
	}
	list := strings.Join(names, ", ")
	if list == "" {
		list = "no resource"
	}
	title = renderMD("md-drift-title", struct{ Resources string }{clip(list, 200)})

	at := ""
	if !doc.CreatedAt.IsZero() {
		at = doc.CreatedAt.UTC().Format("2006-01-02 15:04 UTC")
	}
	head := renderMD("md-drift-head", struct {
		Commit, SID, At, Digest     string
		Changes, Statements, Failed int
	}{commitRef(doc.Source.Commit), codeSpan(doc.SID), at, doc.Digest(), sum.Changes, sum.Statements, sum.FailedResources})
	foot := func(omitted int) string {
		return renderMD("md-drift-foot", struct {
			ShowCmd string
			Omitted int
		}{codeSpan("rolecd sessions show " + doc.SID), omitted})
	}
	budget := DefaultCommentMaxLen - len(foot(999999))
	blocks := []block{{text: head}}
	blocks = append(blocks, tableBlocks(doc, true)...)
	blocks = append(blocks, failedBlocks(doc)...)
	blocks = append(blocks, sqlBlocks(doc, budget)...)
	bodies, first := pack(blocks, budget)
	left := map[string]bool{}
	for _, b := range blocks[first:] {
		left[b.role] = true
	}
	return title, bodies[0] + foot(len(left))
}
