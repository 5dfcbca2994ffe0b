package cluster

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/rolecd/rolecd/planner"
	"github.com/rolecd/rolecd/planner/catalog"
	"github.com/rolecd/rolecd/planner/spec"
	"github.com/rolecd/rolecd/test/pgtest"
)

// Planner plans over its Dialer's connections with its settings, into the
// document it is asked for.
func TestPlannerPlansOverDialer(t *testing.T) {
	c := pgtest.Start(t)
	files := fstest.MapFS{"roles.yaml": {Data: []byte(fmt.Sprintf(
		"resources:\n  - {name: app, host: %s, port: %d, sslmode: disable, admin: {user: %s, password_env: APP_PW}}\n"+
			"roles:\n  - {resource: app, role: ro, scopes: [postgres.public], privileges: [SELECT]}\n", c.Host, c.Port, c.User))}}
	tree, err := spec.Load(files, spec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dialer := Dialer{Getenv: func(k string) string {
		if k == "APP_PW" {
			return c.Password
		}
		return ""
	}}
	tests := []struct {
		name    string
		timeout time.Duration
		wantErr string // of the resource's entry
	}{
		{name: "planned", wantErr: ""},
		{name: "resource timeout", timeout: time.Nanosecond, wantErr: "timed out after 1ns"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var checked []string
			p := &Planner{Dialer: dialer, ResourceTimeout: tt.timeout,
				Passwords: func(_ context.Context, res spec.Resource, roles []spec.Role, _ *catalog.Snapshot) (map[string]string, error) {
					checked = append(checked, res.Name)
					return nil, nil
				}}
			doc, err := p.Plan(context.Background(), tree, planner.Source{Commit: "abc123"}, "sid-1")
			if err != nil {
				t.Fatal(err)
			}
			if doc.SID != "sid-1" || doc.Source.Commit != "abc123" || len(doc.Resources) != 1 {
				t.Fatalf("document %s of %s with %d resources, want sid-1 of abc123 with 1", doc.SID, doc.Source.Commit, len(doc.Resources))
			}
			rp := doc.Resources[0]
			if tt.wantErr != "" {
				if !strings.Contains(rp.Error, tt.wantErr) {
					t.Fatalf("resource error %q, want %q", rp.Error, tt.wantErr)
				}
				return
			}
			if rp.Error != "" || len(rp.Roles) != 1 || !rp.Roles[0].CurrentState.RequiresMigration {
				t.Fatalf("resource plan %+v, want one role to create", rp)
			}
			if len(checked) != 1 || checked[0] != "app" {
				t.Errorf("password check ran for %v, want [app]", checked)
			}
		})
	}
}
