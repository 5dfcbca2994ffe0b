package planner

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/rolecd/rolecd/internal/golden"
	"github.com/rolecd/rolecd/planner/catalog"
	"github.com/rolecd/rolecd/planner/spec"
)

// The password statement is marked by the planner and its verifier goes
// where the planner put the placeholder; a role option whose value is the
// placeholder's text is a plain statement, applied literally.
func TestPasswordStatementIsStructural(t *testing.T) {
	r := managed("ro", []string{"app.public"}, "SELECT")
	r.Options = map[string]string{"application_name": Redacted}
	rp, err := PlanResource(input(appCluster(v16), r))
	if err != nil {
		t.Fatal(err)
	}
	plan := rp.Roles[0]
	var marked []Statement
	for _, s := range plan.Statements["postgres"] {
		if s.Password {
			marked = append(marked, s)
		}
	}
	if len(marked) != 1 || !strings.HasPrefix(marked[0].SQL, "CREATE ROLE ") {
		t.Fatalf("password statements = %+v, want the CREATE ROLE only", marked)
	}
	if got := plan.PasswordStatements; !slices.Equal(got["postgres"], []int{0}) || len(got) != 1 {
		t.Errorf("password_statements = %v, want postgres: [0]", got)
	}
	if got, want := marked[0].Exec("SCRAM-SHA-256$4096:c2FsdA==$a:b"), `PASSWORD 'SCRAM-SHA-256$4096:c2FsdA==$a:b'`; !strings.HasSuffix(got, want) {
		t.Errorf("Exec = %s, want it to end with %s", got, want)
	}
	option := `ALTER ROLE "rolecd_analytics_ro_0badc0de" SET application_name = '<redacted>'`
	found := false
	for _, s := range plan.Statements["postgres"] {
		if s.SQL == option {
			found = true
			if s.Password || s.Exec("verifier") != option {
				t.Errorf("the option statement is treated as a password statement: %+v", s)
			}
		}
	}
	if !found {
		t.Fatalf("no option statement %s in %q", option, plan.SQLPlan["postgres"])
	}
}

// Roles that need the same privileges on the same objects share one
// statement; different privilege sets, and statements whose order matters
// (role creation, attributes, memberships), stay apart.
func TestShareGolden(t *testing.T) {
	var roles []spec.Role
	for i := range 4 {
		privs := []string{"SELECT"}
		if i%2 == 1 {
			privs = []string{"SELECT", "INSERT"}
		}
		roles = append(roles, managed(fmt.Sprintf("r%d", i), []string{"app", "reports.a"}, privs...))
	}
	roles = append(roles, external("bi", "pg_read_all_data"))
	snap := appCluster(v16)
	// r0 already holds SELECT on app.public: it gets less than the others.
	withRole(snap, liveRole(roles[0]))
	tableGrant(snap, "app", "public", roles[0].Name, "SELECT", 12, 0)
	rp, err := PlanResource(input(snap, roles...))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	for _, db := range []string{"postgres", "app", "reports"} {
		var perRole [][]Statement
		for _, r := range rp.Roles {
			perRole = append(perRole, r.Statements[db])
		}
		shared := Share(perRole)
		fmt.Fprintf(&out, "-- %s\n%s", db, sharedText(shared))
		// Every role gets exactly its own statements' effect: each
		// shared statement names roles that planned it.
		for _, s := range shared {
			for _, role := range s.Roles {
				if !slices.ContainsFunc(perRole, func(l []Statement) bool {
					return slices.ContainsFunc(l, func(x Statement) bool {
						return x.Role == role && (x.SQL == s.SQL || len(s.Roles) > 1 && x.shareKey() == s.exec.shareKey())
					})
				}) {
					t.Errorf("%s serves %s, which did not plan it", s.SQL, role)
				}
			}
		}
	}
	golden.Assert(t, "shared.golden", []byte(out.String()))
}

// A shared statement names at most MaxShared roles.
func TestShareBound(t *testing.T) {
	var w renderer
	var perRole [][]Statement
	for i := range MaxShared + 1 {
		s := w.grant(onSchema, []string{"USAGE"}, []string{"s"}, fmt.Sprintf("r%d", i))
		s.Phase = int(phaseGrantSchemas)
		perRole = append(perRole, []Statement{s})
	}
	got := Share(perRole)
	if len(got) != 2 || len(got[0].Roles) != MaxShared || len(got[1].Roles) != 1 {
		t.Fatalf("shared into %d statements", len(got))
	}
	if !strings.HasPrefix(got[0].SQL, `GRANT USAGE ON SCHEMA "s" TO "r0", "r1", `) {
		t.Errorf("SQL = %.80s", got[0].SQL)
	}
}

// Planning one database alone, the others listed but not inspected, gives
// that database's statements of the full plan: what apply relies on to
// re-plan one database per transaction.
func TestPlanOneDatabase(t *testing.T) {
	roles := []spec.Role{
		managed("ro", []string{"app", "reports.a"}, "SELECT"),
		managed("rw", []string{"app.public"}, "SELECT", "INSERT"),
		external("bi", "pg_read_all_data"),
	}
	gone := spec.Role{Resource: testResource, Type: spec.Managed, Label: "old", Name: "rolecd_analytics_old_0badc0de"}
	build := func() *catalog.Snapshot {
		s := appCluster(v16)
		s.Databases = append(s.Databases, notInspected("closed", false, catalog.Grant{Grantee: roles[1].Name, Privilege: "CONNECT"}))
		withRole(s, liveRole(roles[1]))
		withRole(s, liveRole(gone))
		tableGrant(s, "app", "sales", roles[1].Name, "UPDATE", 3, 0)
		return s
	}
	full := input(build(), roles...)
	full.Remove = []string{gone.Name}
	want, err := PlanResource(full)
	if err != nil {
		t.Fatal(err)
	}
	if len(want.Roles) != 4 {
		t.Fatalf("planned %d roles, want 4 (one removal)", len(want.Roles))
	}
	for _, db := range []string{"postgres", "app", "reports"} {
		snap := build()
		for i := range snap.Databases {
			if snap.Databases[i].Name != db {
				snap.Databases[i].Inspected = false
				snap.Databases[i].Schemas = nil
			}
		}
		in := input(snap, roles...)
		in.Remove, in.Database = []string{gone.Name}, db
		got, err := PlanResource(in)
		if err != nil {
			t.Fatalf("%s: %v", db, err)
		}
		for i, r := range got.Roles {
			if w := want.Roles[i].SQLPlan[db]; !slices.Equal(r.SQLPlan[db], w) || len(r.SQLPlan) > 1 || (len(r.SQLPlan) == 1 && len(w) == 0) {
				t.Errorf("%s, role %s: alone %q, in the full plan %q", db, r.Config.Label, r.SQLPlan, w)
			}
		}
	}
}

// Roles needing different privileges on the same tables go to several
// transactions, so that none rewrites a row more than MaxRewrites times;
// each role's statements stay in one transaction, and roles with the same
// privileges still share.
func TestShareBatches(t *testing.T) {
	privs := []string{"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"}
	var roles []spec.Role
	for i := 1; i <= 40; i++ {
		var p []string
		for b, name := range privs {
			if (i%20+1)&(1<<b) != 0 {
				p = append(p, name)
			}
		}
		roles = append(roles, managed(fmt.Sprintf("r%02d", i), []string{"app.public"}, p...))
	}
	rp, err := PlanResource(input(appCluster(v16), roles...))
	if err != nil {
		t.Fatal(err)
	}
	var perRole [][]Statement
	for _, r := range rp.Roles {
		perRole = append(perRole, r.Statements["app"])
	}
	batches := ShareBatches(perRole, MaxRewrites)
	if len(batches) < 3 {
		t.Fatalf("%d batches for 20 privilege sets, want at least 3", len(batches))
	}
	seen := map[string]int{}
	total := 0
	for i, b := range batches {
		if got := mostRewrites(b); got > MaxRewrites {
			t.Errorf("batch %d rewrites a row %d times", i, got)
		}
		for _, s := range b {
			total++
			for _, r := range s.Roles {
				if prev, ok := seen[r]; ok && prev != i {
					t.Errorf("role %s split between batches %d and %d", r, prev, i)
				}
				seen[r] = i
			}
		}
	}
	if len(seen) != len(roles) {
		t.Errorf("%d roles in the batches, want %d", len(seen), len(roles))
	}
	if all := Share(perRole); total >= len(SQLs(flatten(perRole))) || len(all) > total {
		t.Errorf("%d statements in batches: not shared (%d unshared, %d in one)", total, len(flatten(perRole)), len(all))
	}
}

func flatten(l [][]Statement) []Statement {
	var out []Statement
	for _, x := range l {
		out = append(out, x...)
	}
	return out
}
