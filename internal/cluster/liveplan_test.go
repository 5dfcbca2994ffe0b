package cluster

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rolecd/rolecd/planner/catalog"
	"github.com/rolecd/rolecd/planner/spec"
)

func tree(n int) *spec.Tree {
	t := &spec.Tree{}
	for i := range n {
		name := string(rune('a' + i))
		t.Resources = append(t.Resources, spec.Resource{Name: name, Database: "postgres"})
	}
	return t
}

func emptySnapshot() *catalog.Snapshot {
	return &catalog.Snapshot{ServerVersionNum: 150000, ServerVersion: "15.0", CurrentUser: "postgres",
		Roles: map[string]catalog.Role{}, Databases: []catalog.Database{{Name: "postgres", AllowConn: true, Inspected: true}}}
}

// At most Parallel inspections run at once, and every resource is planned.
func TestPlanBoundsConcurrency(t *testing.T) {
	var running, peak atomic.Int32
	gate := make(chan struct{})
	var once sync.Once
	inspect := func(ctx context.Context, res spec.Resource, _ []string) (*catalog.Snapshot, error) {
		n := running.Add(1)
		defer running.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		if n == 2 {
			once.Do(func() { close(gate) }) // two are in flight: let everyone go
		}
		<-gate
		return emptySnapshot(), nil
	}
	doc, err := Plan(context.Background(), tree(6), Options{Inspect: inspect, Parallel: 2})
	if err != nil {
		t.Fatal(err)
	}
	if p := peak.Load(); p != 2 {
		t.Errorf("peak concurrency %d, want 2", p)
	}
	if len(doc.Resources) != 6 {
		t.Fatalf("%d resources planned, want 6", len(doc.Resources))
	}
	for i, rp := range doc.Resources {
		if rp.Error != "" || rp.Resource != string(rune('a'+i)) {
			t.Errorf("resource %d = %+v", i, rp)
		}
	}
}

// A failing resource gets its error; the others are planned.
func TestPlanIsolatesFailures(t *testing.T) {
	inspect := func(ctx context.Context, res spec.Resource, _ []string) (*catalog.Snapshot, error) {
		if res.Name == "b" {
			return nil, errors.New("connection refused")
		}
		return emptySnapshot(), nil
	}
	doc, err := Plan(context.Background(), tree(3), Options{Inspect: inspect})
	if err != nil {
		t.Fatal(err)
	}
	if doc.Resources[1].Error != "inspecting: connection refused" || doc.Resources[0].Error != "" || doc.Resources[2].Error != "" {
		t.Errorf("resources = %+v", doc.Resources)
	}
	if s := doc.Summary(); s.FailedResources != 1 || s.Resources != 3 {
		t.Errorf("summary = %+v", s)
	}
	if _, err := Plan(context.Background(), tree(1), Options{Inspect: inspect, Resources: []string{"zz"}}); err == nil {
		t.Error("unknown resource accepted")
	}
}

// The document carries each resource's connection and settings, and
// ResourceSpecs gives back what the tree said, so apply needs no role files.
func TestPlanIsSelfContained(t *testing.T) {
	tr := &spec.Tree{Resources: []spec.Resource{
		{Name: "a", Host: "db1", Port: 5433, Database: "postgres", SSLMode: "verify-full", SSLRootCert: "/ca.pem",
			Admin: spec.Admin{User: "admin", PasswordCommand: "rds"}, ObjectCreators: []string{"etl"}, DropReassignTo: "archive", KeepRemoved: true,
			AllowSourceRoles: []string{"pg_read_server_files"}, Complete: true},
		{Name: "b", Host: "db2", Port: 5432, Database: "maint", SSLMode: "prefer", Admin: spec.Admin{User: "postgres", PasswordEnv: "PG_ADMIN_B"}, Complete: true},
	}}
	doc, err := Plan(context.Background(), tr, Options{Inspect: func(_ context.Context, res spec.Resource, _ []string) (*catalog.Snapshot, error) {
		snap := emptySnapshot()
		snap.CurrentUser = res.Admin.User
		snap.Databases[0].Name = res.Database
		snap.Roles = map[string]catalog.Role{res.Admin.User: {Name: res.Admin.User, Superuser: true}, "etl": {Name: "etl"}, "archive": {Name: "archive"}}
		return snap, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, rp := range doc.Resources {
		if rp.Error != "" {
			t.Fatalf("%s: %s", rp.Resource, rp.Error)
		}
	}
	if got := doc.Connections["a"]; got.Credential != "command:rds" || got.SSLRootCert != "/ca.pem" || got.Host != "db1" {
		t.Errorf("connection of a = %+v", got)
	}
	if got := doc.Connections["b"].Credential; got != "env:PG_ADMIN_B" {
		t.Errorf("credential of b = %q", got)
	}
	specs, err := doc.ResourceSpecs()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range tr.Resources {
		got := specs[want.Name]
		want.Complete = false // apply re-plans one role at a time
		if !reflect.DeepEqual(got, want) {
			t.Errorf("ResourceSpecs()[%s] =\n%+v\nwant\n%+v", want.Name, got, want)
		}
	}
	delete(doc.Connections, "b")
	if _, err := doc.ResourceSpecs(); err == nil || !strings.Contains(err.Error(), "no connection for b") {
		t.Errorf("a document without b's connection: err = %v", err)
	}
}

// A resource slower than ResourceTimeout gets an error entry naming the
// timeout; the others are planned; Progress counts every resource.
func TestPlanResourceTimeout(t *testing.T) {
	inspect := func(ctx context.Context, res spec.Resource, _ []string) (*catalog.Snapshot, error) {
		if res.Name == "b" {
			<-ctx.Done() // never answers
			return nil, ctx.Err()
		}
		return emptySnapshot(), nil
	}
	var seen []int
	doc, err := Plan(context.Background(), tree(3), Options{Inspect: inspect, ResourceTimeout: 50 * time.Millisecond,
		Progress: func(_ string, done, total int) { seen = append(seen, done*10+total) }})
	if err != nil {
		t.Fatal(err)
	}
	for _, rp := range doc.Resources {
		slow := rp.Resource == "b"
		if got := strings.Contains(rp.Error, "timed out after 50ms"); got != slow {
			t.Errorf("resource %s: error %q", rp.Resource, rp.Error)
		}
	}
	if len(seen) != 3 || seen[2] != 33 {
		t.Errorf("progress %v, want 1/3, 2/3, 3/3", seen)
	}
}
