package planner

import (
	"testing"

	"github.com/rolecd/rolecd/planner/spec"
)

func TestTablePrivilegesFit(t *testing.T) {
	if n := len(spec.TablePrivileges()); n > maxTablePrivileges {
		t.Fatalf("spec.TablePrivileges() has %d privileges, tableCounts holds %d", n, maxTablePrivileges)
	}
	for i, p := range spec.TablePrivileges() {
		if got := onAllTables.index(p); got != i {
			t.Errorf("index(%s) = %d, want %d", p, got, i)
		}
	}
	if databasePrivileges()[connectIndex] != "CONNECT" || schemaPrivileges()[usageIndex] != "USAGE" {
		t.Error("connectIndex or usageIndex out of step with the privilege lists")
	}
}

func TestACL(t *testing.T) {
	var a acl
	a.add(0, false)
	a.add(2, true)
	a.add(2, false) // a later non-grantable row keeps the grant option seen
	tests := []struct {
		i               int
		held, grantable bool
	}{{0, true, false}, {1, false, false}, {2, true, true}}
	for _, tt := range tests {
		if h, g := a.has(tt.i); h != tt.held || g != tt.grantable {
			t.Errorf("has(%d) = %v, %v; want %v, %v", tt.i, h, g, tt.held, tt.grantable)
		}
	}
	if a.count() != 2 {
		t.Errorf("count = %d, want 2", a.count())
	}
	for _, p := range []string{"SELECT", "USAGE ", "connect", ""} {
		if onDatabase.index(p) >= 0 {
			t.Errorf("%q accepted as a database privilege", p)
		}
	}
}
