package planner

import (
	"fmt"
	"slices"
	"strings"
)

// Statement is one planned statement with the facts apply needs about it,
// carried as fields so that nothing ever has to search SQL text:
// whether it sets the generated password (and where the verifier goes),
// and whether it names its role at one place only, so that several roles
// needing the same statement can share one (GRANT ... TO r1, r2).
type Statement struct {
	// SQL is the statement as it appears in sql_plan: redacted (the
	// password as PasswordPlaceholder).
	SQL string
	// Phase orders the statements of one database across roles: every
	// role's statements of a phase run before any of the next phase.
	Phase int
	// Password is true for the statement that sets the role's generated
	// password (CREATE ROLE, ALTER ROLE ... PASSWORD).
	Password bool
	// Role is the role the statement is for (the grantee, for grants).
	Role string
	// pwHead and pwTail surround the password literal when Password is set.
	pwHead, pwTail string
	// head and tail surround the quoted role name of a shareable
	// statement (empty head: not shareable).
	head, tail string
	// objects name the catalog rows the statement rewrites (a schema's
	// tables, a schema, a database, a default ACL), to bound how often one
	// transaction rewrites them.
	objects []string
}

// rewrites records the catalog rows a statement on kind objects rewrites.
func (s Statement) rewrites(kind objectKind, objects []string) Statement {
	for _, o := range objects {
		s.objects = append(s.objects, fmt.Sprintf("%d\x00%s", kind, o))
	}
	return s
}

// Shareable reports whether s may be merged with the same statement for
// other roles: it names its role once, as a grantee, and its phase grants
// or revokes privileges on objects (not role attributes or memberships,
// whose order within a role matters).
func (s Statement) Shareable() bool {
	return s.head != "" && !s.Password && phase(s.Phase) > phaseCluster && phase(s.Phase) < phaseDropOwned
}

// shareKey identifies the statements that differ only in their role.
func (s Statement) shareKey() string { return s.head + "\x00" + s.tail }

// Exec returns the SQL to send to PostgreSQL: for the password statement
// the verifier as a string literal in place of the placeholder (NULL when
// verifier is empty), for any other statement SQL itself. It never looks
// inside SQL: the position of the password is a field.
func (s Statement) Exec(verifier string) string {
	if !s.Password {
		return s.SQL
	}
	if verifier == "" {
		return s.pwHead + "NULL" + s.pwTail
	}
	var w renderer
	return s.pwHead + w.literal(verifier) + s.pwTail
}

// plainStatement is a statement that neither carries a password nor can
// be shared.
func plainStatement(role, sql string) Statement { return Statement{SQL: sql, Role: role} }

// grantee builds a shareable statement head + quoted role + tail.
func (w *renderer) grantee(head, role, tail string) Statement {
	return Statement{SQL: head + w.ident(role) + tail, Role: role, head: head, tail: tail}
}

// withPassword builds the statement head + PasswordPlaceholder + tail.
func withPassword(role, head, tail string) Statement {
	return Statement{SQL: head + PasswordPlaceholder + tail, Role: role, Password: true, pwHead: head, pwTail: tail}
}

// SQLs returns the SQL of each statement.
func SQLs(stmts []Statement) []string {
	out := make([]string, len(stmts))
	for i, s := range stmts {
		out[i] = s.SQL
	}
	return out
}

// passwordIndexes returns, per database, the positions of the statements
// that set a password (the plan document's password_statements).
func passwordIndexes(stmts map[string][]Statement) map[string][]int {
	var out map[string][]int
	for db, l := range stmts {
		for i, s := range l {
			if s.Password {
				if out == nil {
					out = map[string][]int{}
				}
				out[db] = append(out[db], i)
			}
		}
	}
	return out
}

// Shared is one statement of an apply, run once for the roles it serves.
type Shared struct {
	// SQL is the statement as recorded: redacted, naming every role.
	SQL string
	// Roles are the roles it serves, in plan order.
	Roles []string
	// Password is true when it sets a generated password (never shared:
	// Roles has one element).
	Password bool
	exec     Statement
	combined bool
	// own are the statements it stands for, one per role of Roles.
	own []Statement
}

// Own returns the statement the i-th role of Roles planned itself: what
// that role got, as its plan shows it.
func (s Shared) Own(i int) string { return s.own[i].SQL }

// Exec returns the SQL to send: the password statement with the verifier
// (see Statement.Exec), any other statement as recorded.
func (s Shared) Exec(verifier string) string {
	if s.combined {
		return s.SQL
	}
	return s.exec.Exec(verifier)
}

// MaxShared bounds how many roles one shared statement names.
const MaxShared = 1000

// Share merges the statements of several roles for one database into the
// statements an apply runs: statements ordered by phase (every role's
// statements of one phase before the next phase, each role's own order
// kept), and within a phase the shareable statements that differ only in
// their role merged into one naming all of them (at most MaxShared), at the
// position of the first. perRole lists each role's statements in its plan
// order; roles are named in the order of perRole.
func Share(perRole [][]Statement) []Shared {
	type item struct {
		st    Statement
		order int
	}
	var items []item
	for _, l := range perRole {
		for _, s := range l {
			items = append(items, item{s, len(items)})
		}
	}
	slices.SortStableFunc(items, func(a, b item) int { return a.st.Phase - b.st.Phase })
	var out []Shared
	open := map[string]int{} // share key of the current phase -> index in out
	ph := -1
	for _, it := range items {
		s := it.st
		if s.Phase != ph {
			ph, open = s.Phase, map[string]int{}
		}
		if s.Shareable() {
			if i, ok := open[s.shareKey()]; ok && len(out[i].Roles) < MaxShared && !slices.Contains(out[i].Roles, s.Role) {
				out[i].Roles = append(out[i].Roles, s.Role)
				out[i].own = append(out[i].own, s)
				continue
			}
			open[s.shareKey()] = len(out)
		}
		out = append(out, Shared{SQL: s.SQL, Roles: []string{s.Role}, Password: s.Password, exec: s, own: []Statement{s}})
	}
	for i := range out {
		if len(out[i].Roles) > 1 {
			var w renderer
			out[i].SQL = out[i].exec.head + w.identList(out[i].Roles) + out[i].exec.tail
			out[i].combined = true
		}
	}
	return out
}

// MaxRewrites is how many statements of one transaction may rewrite the
// same catalog rows (a schema's tables, a schema, a database, a default
// ACL) before the next roles go to a new transaction: each GRANT rewrites
// every row it touches, and row versions pile up inside a transaction.
const MaxRewrites = 8

// ShareBatches is Share in transactions: roles (in the order of perRole)
// are added to the current batch while the batch's shared statements
// rewrite no catalog row more than maxRewrites times, then a new batch
// starts. A role's statements are never split between batches, so each
// role's statements for a database stay in one transaction.
func ShareBatches(perRole [][]Statement, maxRewrites int) [][]Shared {
	var out [][]Shared
	var cur [][]Statement
	// The current batch's shared statements (by phase and share key) and
	// how often they rewrite each row, kept as roles join.
	keys := map[string]bool{}
	counts := map[string]int{}
	// join adds l to the batch unless (and force is not set) its new
	// statements would rewrite a row more than maxRewrites times.
	join := func(l []Statement, force bool) bool {
		added := map[string]int{}
		newKeys := map[string]bool{}
		for _, st := range l {
			k := fmt.Sprintf("%d\x00%s", st.Phase, st.shareKey())
			if st.Shareable() {
				if keys[k] || newKeys[k] {
					continue // joins a statement the batch already runs
				}
				newKeys[k] = true
			}
			for _, o := range st.objects {
				added[o]++
			}
		}
		if !force {
			for o, n := range added {
				if counts[o]+n > maxRewrites {
					return false
				}
			}
		}
		for k := range newKeys {
			keys[k] = true
		}
		for o, n := range added {
			counts[o] += n
		}
		return true
	}
	for _, l := range perRole {
		if len(l) == 0 {
			continue
		}
		if len(cur) > 0 && !join(l, false) {
			out = append(out, Share(cur))
			cur, keys, counts = nil, map[string]bool{}, map[string]int{}
		}
		if len(cur) == 0 {
			join(l, true)
		}
		cur = append(cur, l)
	}
	if len(cur) > 0 {
		out = append(out, Share(cur))
	}
	return out
}

// mostRewrites is the largest number of statements rewriting one row.
func mostRewrites(l []Shared) int {
	counts := map[string]int{}
	most := 0
	for _, s := range l {
		for _, o := range s.exec.objects {
			counts[o]++
			most = max(most, counts[o])
		}
	}
	return most
}

// sharedText renders shared statements one per line, for golden files.
func sharedText(l []Shared) string {
	var b strings.Builder
	for _, s := range l {
		b.WriteString(s.SQL)
		b.WriteString("\n")
	}
	return b.String()
}
