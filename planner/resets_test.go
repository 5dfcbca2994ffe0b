package planner

import (
	"strings"
	"testing"

	"github.com/rolecd/rolecd/planner/catalog"
)

// A password reset requested by the caller renders one ALTER ROLE ...
// PASSWORD with the placeholder and says why; without it the role is in sync.
func TestPasswordReset(t *testing.T) {
	r := external("bi", "pg_monitor")
	snap := withRole(snapshot(150000, inspected("postgres")), liveRole(r, catalog.Membership{Role: "pg_monitor", Grantor: admin, Inherit: true, Set: true}))
	snap.Roles["pg_monitor"] = catalog.Role{Name: "pg_monitor", ConnLimit: -1}

	in := input(snap, r)
	rp, err := PlanResource(in)
	if err != nil {
		t.Fatal(err)
	}
	if rp.Roles[0].CurrentState.RequiresMigration {
		t.Fatalf("role not in sync without reset: %v", rp.Roles[0].SQLPlan)
	}

	in.PasswordResets = map[string]string{r.Name: "no stored password"}
	rp, err = PlanResource(in)
	if err != nil {
		t.Fatal(err)
	}
	got := rp.Roles[0]
	want := `ALTER ROLE "` + r.Name + `" WITH PASSWORD ` + PasswordPlaceholder
	if stmts := got.SQLPlan["postgres"]; len(stmts) != 1 || stmts[0] != want {
		t.Errorf("sql = %q, want [%q]", stmts, want)
	}
	if !got.CurrentState.RequiresMigration || !strings.Contains(strings.Join(got.CurrentState.Changes, "\n"), "reset password: no stored password") {
		t.Errorf("state = %+v", got.CurrentState)
	}
}
