package reconciler

import (
	"context"
	"time"

	"github.com/rs/zerolog"

	"github.com/rolecd/rolecd/applier"
	"github.com/rolecd/rolecd/applier/report"
	"github.com/rolecd/rolecd/internal/cluster"
	"github.com/rolecd/rolecd/planner"
	"github.com/rolecd/rolecd/planner/catalog"
	"github.com/rolecd/rolecd/planner/spec"
)

// Live plans with cluster.Plan (catalog.Inspect over cluster.Dialer) and applies
// with the checksum-gated applier: the Planner and Applier of the daemon.
type Live struct {
	Dialer cluster.Dialer
	// Store records apply sessions and generated passwords.
	Store   applier.Store
	Secrets applier.Secrets
	// Passwords, when set, detects passwords changed outside rolecd.
	Passwords cluster.PasswordCheck
	Parallel  int // resources inspected at once (default cluster.DefaultParallel)
	// PlanTimeout and ApplyTimeout bound each resource's plan and apply
	// (0: no bound), so a slow resource does not hold up the others.
	PlanTimeout, ApplyTimeout time.Duration
	Log                       zerolog.Logger
}

var (
	_ Planner = (*Live)(nil)
	_ Applier = (*Live)(nil)
)

// Plan inspects and plans every resource of tree.
func (l *Live) Plan(ctx context.Context, tree *spec.Tree, src planner.Source, sid string) (*planner.Document, error) {
	return cluster.Plan(ctx, tree, cluster.Options{
		Inspect: func(ctx context.Context, res spec.Resource, roles []string) (*catalog.Snapshot, error) {
			return catalog.Inspect(ctx, l.Dialer.Connector(res), res.Database, catalog.Options{Roles: roles})
		},
		Passwords:       l.Passwords,
		Parallel:        l.Parallel,
		ResourceTimeout: l.PlanTimeout,
		SID:             sid,
		Source:          src,
		Log:             l.Log,
	})
}

// Apply applies doc with the connection settings of tree's resources.
func (l *Live) Apply(ctx context.Context, tree *spec.Tree, doc *planner.Document, sid, actor string) (*report.Report, error) {
	resources := make(map[string]spec.Resource, len(tree.Resources))
	for _, r := range tree.Resources {
		resources[r.Name] = r
	}
	return applier.Apply(ctx, doc, applier.Options{
		Store: l.Store, Secrets: l.Secrets, Connect: l.Dialer.Connect, Resources: resources,
		SID: sid, Actor: actor, Log: l.Log, ResourceTimeout: l.ApplyTimeout,
	})
}
