package planner

import (
	"fmt"
	"testing"

	"github.com/rolecd/rolecd/planner/catalog"
	"github.com/rolecd/rolecd/planner/spec"
)

// benchInput is a cluster with one database of 1,000 schemas (20 relations
// each) and 20 declared roles: half of them provisioned with some drift,
// half new.
func benchInput() Input {
	const schemas, roles = 1000, 20
	db := inspected("app")
	for i := range schemas {
		db.Schemas = append(db.Schemas, schema(fmt.Sprintf("s%04d", i), 20))
	}
	s := snapshot(v16, db)
	var declared []spec.Role
	for i := range roles {
		r := managed(fmt.Sprintf("r%02d", i), []string{"app"}, "SELECT", "INSERT")
		declared = append(declared, r)
		if i%2 == 1 {
			continue
		}
		withRole(s, liveRole(r))
		grant(s, "app", "", catalog.Grant{Grantee: r.Name, Privilege: "CONNECT"})
		d, _ := s.Database("app")
		for j := range d.Schemas {
			sc := &d.Schemas[j]
			sc.ACL = append(sc.ACL, catalog.Grant{Grantee: r.Name, Privilege: "USAGE"})
			sc.TableGrants = append(sc.TableGrants,
				catalog.ObjectGrant{Grantee: r.Name, Privilege: "SELECT", Objects: 20},
				catalog.ObjectGrant{Grantee: r.Name, Privilege: "INSERT", Objects: 20 - j%3},
				catalog.ObjectGrant{Grantee: r.Name, Privilege: "DELETE", Objects: j % 2},
			)
		}
	}
	return input(s, declared...)
}

func BenchmarkPlanResource(b *testing.B) {
	in := benchInput()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := PlanResource(in); err != nil {
			b.Fatal(err)
		}
	}
}
