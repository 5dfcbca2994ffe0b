package e2e

import (
	"net"
	"strings"
	"testing"

	"github.com/rolecd/rolecd/planner"
	"github.com/rolecd/rolecd/test/pgtest"
)

// checkChecksumsStable: two plans of the same state carry the same
// checksums, each equal to planner.Checksum of its own SQL.
func checkChecksumsStable(t *testing.T, a, b *planner.Document) {
	t.Helper()
	sums := map[string]string{}
	for _, rp := range a.Resources {
		for _, r := range rp.Roles {
			sums[r.Config.RoleName] = r.Checksum
			if want := planner.Checksum(rp.Resource, r.Config.RoleName, r.SQLPlan); r.Checksum != want {
				t.Errorf("role %s: checksum %s, want %s", r.Config.RoleName, r.Checksum, want)
			}
		}
	}
	for _, rp := range b.Resources {
		for _, r := range rp.Roles {
			if sums[r.Config.RoleName] != r.Checksum {
				t.Errorf("role %s: checksum changed between two plans of the same state: %s then %s", r.Config.RoleName, sums[r.Config.RoleName], r.Checksum)
			}
		}
	}
}

func TestPlanErrorsNameTheMissingThing(t *testing.T) {
	c := pgtest.Start(t)
	c.CreateDatabase(t, "app")
	c.Exec(t, "app", `CREATE SCHEMA present`)
	clusters := map[string]*pgtest.Cluster{"app": c}
	tests := []struct {
		name, roles string
		want        []string
	}{
		{"missing database", "roles:\n  - {resource: app, role: ro, scopes: [nosuchdb], privileges: [SELECT]}\n", []string{`nosuchdb`}},
		{"missing schema", "roles:\n  - {resource: app, role: ro, scopes: [app.absent, app.present], privileges: [SELECT]}\n", []string{`absent`}},
		{"missing source role", "roles:\n  - {resource: app, type: external, role: bi, source_role: no_such_role}\n", []string{`no_such_role`}},
		{"template database", "roles:\n  - {resource: app, role: ro, scopes: [template1], privileges: [SELECT]}\n", []string{`template1`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tree, err := parseTree(t, map[string]string{"resources.yaml": resourceYAML("app", c), "roles.yaml": tt.roles})
			if err != nil {
				t.Fatal(err)
			}
			doc := plan(t, tree, clusters)
			rp := doc.Resources[0]
			if rp.Error == "" {
				t.Fatalf("plan succeeded, want an error; SQL:\n%s", allSQL(doc))
			}
			for _, w := range tt.want {
				if !strings.Contains(rp.Error, w) {
					t.Errorf("error %q does not name %q", rp.Error, w)
				}
			}
		})
	}
}

// One unreachable resource does not hide the plans of the others.
func TestUnreachableResourceDoesNotHideOthers(t *testing.T) {
	good := pgtest.Start(t)
	good.CreateDatabase(t, "app")
	// A port nobody listens on: bind one, then close it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadPort := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dead := &pgtest.Cluster{Host: "127.0.0.1", Port: deadPort, User: "postgres", Password: "x"}
	clusters := map[string]*pgtest.Cluster{"good": good, "dead": dead}
	tree, err := parseTree(t, map[string]string{
		"good.yaml": resourceYAML("good", good) + "roles:\n  - {resource: good, role: ro, scopes: [app], privileges: [SELECT]}\n",
		"dead.yaml": resourceYAML("dead", dead) + "roles:\n  - {resource: dead, role: ro, scopes: [app], privileges: [SELECT]}\n",
	})
	if err != nil {
		t.Fatal(err)
	}
	doc := plan(t, tree, clusters)
	if len(doc.Resources) != 2 {
		t.Fatalf("got %d resources, want 2", len(doc.Resources))
	}
	for _, rp := range doc.Resources {
		switch rp.Resource {
		case "dead":
			if rp.Error == "" || !strings.Contains(rp.Error, "connect") {
				t.Errorf("dead resource: error %q, want a connection error", rp.Error)
			}
			if strings.Contains(rp.Error, "x@") || strings.Contains(rp.Error, "password=x") {
				t.Errorf("error leaks the password: %q", rp.Error)
			}
		case "good":
			if rp.Error != "" || len(rp.Roles) != 1 || !rp.Roles[0].CurrentState.RequiresMigration {
				t.Errorf("good resource not planned: %+v", rp)
			}
		}
	}
	if s := doc.Summary(); s.FailedResources != 1 || s.Changes != 1 {
		t.Errorf("summary = %+v", s)
	}
}
