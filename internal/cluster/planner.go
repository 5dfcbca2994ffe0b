package cluster

import (
	"context"
	"time"

	"github.com/rs/zerolog"

	"github.com/rolecd/rolecd/planner"
	"github.com/rolecd/rolecd/planner/catalog"
	"github.com/rolecd/rolecd/planner/spec"
)

// Inspect returns the snapshot of res's cluster, read over admin
// connections of d, collecting grants of roleNames (an Inspector).
func (d Dialer) Inspect(ctx context.Context, res spec.Resource, roleNames []string) (*catalog.Snapshot, error) {
	return catalog.Inspect(ctx, d.Connector(res), res.Database, catalog.Options{Roles: roleNames})
}

// Planner plans whole trees with fixed settings: Plan with the catalogs
// inspected over Dialer. It is the daemon's planner (reconciler.Planner).
type Planner struct {
	Dialer Dialer
	// Passwords, when set, decides password resets of existing roles.
	Passwords PasswordCheck
	Parallel  int // resources inspected at once (default DefaultParallel)
	// ResourceTimeout, when positive, bounds each resource's inspection and
	// plan, so a slow resource does not hold up the others.
	ResourceTimeout time.Duration
	Log             zerolog.Logger
}

// Plan inspects and plans every resource of tree into the plan document
// sid of commit src.
func (p *Planner) Plan(ctx context.Context, tree *spec.Tree, src planner.Source, sid string) (*planner.Document, error) {
	return Plan(ctx, tree, Options{
		Inspect:         p.Dialer.Inspect,
		Passwords:       p.Passwords,
		Parallel:        p.Parallel,
		ResourceTimeout: p.ResourceTimeout,
		SID:             sid,
		Source:          src,
		Log:             p.Log,
	})
}
