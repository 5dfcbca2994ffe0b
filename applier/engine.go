package applier

import (
	"context"
	"time"

	"github.com/rs/zerolog"

	"github.com/rolecd/rolecd/applier/report"
	"github.com/rolecd/rolecd/planner"
	"github.com/rolecd/rolecd/planner/spec"
)

// Engine applies plan documents with fixed dependencies, taking each
// resource's connection settings from the role files the plan came from.
// It is the daemon's applier (reconciler.Applier).
type Engine struct {
	// Store records apply sessions and generated passwords.
	Store   Store
	Secrets Secrets
	Connect Connector
	// ResourceTimeout, when positive, bounds each resource's apply, so a
	// slow resource does not hold up the others.
	ResourceTimeout time.Duration
	Log             zerolog.Logger
}

// Apply applies doc with the connection settings of tree's resources and
// records it as the apply session sid run by actor.
func (e *Engine) Apply(ctx context.Context, tree *spec.Tree, doc *planner.Document, sid, actor string) (*report.Report, error) {
	return Apply(ctx, doc, Options{
		Store: e.Store, Secrets: e.Secrets, Connect: e.Connect, Resources: tree.ResourcesByName(),
		SID: sid, Actor: actor, Log: e.Log, ResourceTimeout: e.ResourceTimeout,
	})
}
