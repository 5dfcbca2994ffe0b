package inventory

import (
	"fmt"
	"testing"

	"github.com/rolecd/rolecd/planner/spec"
)

// BenchmarkRestrict: 1,000 resources with 20 roles each, one resource
// changed — the work a pull request's plan adds.
func BenchmarkRestrict(b *testing.B) {
	trusted, proposed := &spec.Tree{}, &spec.Tree{}
	for i := range 1000 {
		r := res(fmt.Sprintf("r%04d", i), "db.internal", 5432, "PW")
		trusted.Resources = append(trusted.Resources, r)
		if i == 500 {
			r.Port = 6543
		}
		proposed.Resources = append(proposed.Resources, r)
		for j := range 20 {
			proposed.Roles = append(proposed.Roles, role(r.Name, fmt.Sprintf("l%02d", j)))
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, d := Restrict(trusted, proposed); d.NotConnected() != 1 {
			b.Fatal("want one resource not connected")
		}
	}
}
