package reporter

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/rolecd/rolecd/internal/golden"
	"github.com/rolecd/rolecd/internal/inventory"
	"github.com/rolecd/rolecd/planner/spec"
)

// sampleInventory: a PR that adds `evil` (with a credential that names
// rolecd's own key), moves analytics's port, swaps billing's credential
// for a file, and removes `old`.
func sampleInventory() *inventory.Diff {
	c := func(host string, port int, cred string) *spec.Connection {
		return &spec.Connection{Host: host, Port: port, Database: "postgres", SSLMode: "prefer", AdminUser: "postgres", Credential: cred}
	}
	var many []string
	for i := range 23 {
		many = append(many, fmt.Sprintf("rolecd_evil_r%02d_0000abcd", i))
	}
	cleartext := c("evil.example", 5432, "env:ROLECD_SECRET_KEY")
	cleartext.AllowCleartext = true
	return &inventory.Diff{
		Connected: []string{"reporting"},
		Changes: []inventory.Change{
			{Kind: inventory.Changed, Resource: "analytics", Trusted: c("db1.internal", 5432, "env:ANALYTICS_PW"), Proposed: c("db1.internal", 6543, "env:ANALYTICS_PW"),
				Fields: []inventory.Field{{Name: "port", Trusted: "5432", Proposed: "6543"}}, Roles: []string{"rolecd_analytics_ro_6075a443"}},
			{Kind: inventory.Changed, Resource: "billing", Trusted: c("db2.internal", 5432, "store"), Proposed: c("db2.internal", 5432, "file:/etc/shadow"),
				Fields: []inventory.Field{{Name: "credential", Trusted: "store", Proposed: "file:/etc/shadow"}, {Name: "sslrootcert", Trusted: "", Proposed: "/tmp/ca`x`.pem"}}},
			{Kind: inventory.Added, Resource: "evil", Proposed: cleartext, Roles: many},
			{Kind: inventory.Removed, Resource: "old", Trusted: c("db9.internal", 5432, "store")},
		},
	}
}

func TestPlanCommentInventoryGolden(t *testing.T) {
	parts := PlanComment(sampleDocument(), CommentInfo{Commit: headSHA, PR: 12, OnMerge: onMerge, Inventory: sampleInventory()})
	if len(parts) != 1 {
		t.Fatalf("%d parts, want 1", len(parts))
	}
	golden.Assert(t, "plan_inventory.md.golden", []byte(parts[0]))
	for _, want := range []string{"resource `evil` would be added: host `evil.example:5432/postgres`", "connection of `analytics` changes: port `5432` -> `6543`; not connected until merged",
		"3 resources not connected until merged", "and 3 more"} {
		if !strings.Contains(parts[0], want) {
			t.Errorf("comment lacks %q", want)
		}
	}
}

func TestInventoryText(t *testing.T) {
	var b bytes.Buffer
	if err := WriteInventoryText(&b, *sampleInventory()); err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, "inventory.txt.golden", b.Bytes())
	b.Reset()
	if err := WriteInventoryText(&b, inventory.Diff{Connected: []string{"a"}}); err != nil || b.Len() != 0 {
		t.Errorf("no changes: %q, %v; want nothing", b.String(), err)
	}
}
