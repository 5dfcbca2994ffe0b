package cluster

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/rolecd/rolecd/planner"
	"github.com/rolecd/rolecd/planner/catalog"
	"github.com/rolecd/rolecd/planner/spec"
)

// DefaultParallel is how many resources are inspected at once by default.
const DefaultParallel = 4

// Inspector returns the snapshot of a resource's cluster, collecting grants
// of roleNames (and of every rolecd-marked role).
type Inspector func(ctx context.Context, res spec.Resource, roleNames []string) (*catalog.Snapshot, error)

// Options configures Plan.
type Options struct {
	Inspect Inspector
	// Passwords, when set, decides password resets of existing roles.
	Passwords PasswordCheck
	Parallel  int // default DefaultParallel
	// Resources limits the plan to these resource names; empty means all.
	Resources []string
	SID       string
	Source    planner.Source
	Now       func() time.Time
	Log       zerolog.Logger
	// Progress, when set, is told each time a resource is planned: how
	// many of all are done (for a terminal; never called concurrently).
	Progress func(resource string, done, total int)
	// ResourceTimeout, when positive, bounds each resource's inspection
	// and plan: a slow resource gets an error entry, the others are
	// planned.
	ResourceTimeout time.Duration
}

// Plan inspects and plans every selected resource of tree.
func Plan(ctx context.Context, tree *spec.Tree, opts Options) (*planner.Document, error) {
	selected, err := selectResources(tree, opts.Resources)
	if err != nil {
		return nil, err
	}
	parallel := opts.Parallel
	if parallel <= 0 {
		parallel = DefaultParallel
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	doc := &planner.Document{
		Version:   planner.DocumentVersion,
		SID:       opts.SID,
		CreatedAt: now().UTC().Truncate(time.Second),
		Source:    opts.Source,
		Resources: make([]planner.ResourcePlan, len(selected)),
		// The document is self-contained: apply -f needs no role files.
		Connections: make(map[string]spec.Connection, len(selected)),
	}
	for _, res := range selected {
		doc.Connections[res.Name] = res.Connection()
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallel)
	var mu sync.Mutex
	done := 0
	for i, res := range selected {
		g.Go(func() error {
			doc.Resources[i] = planOne(gctx, res, tree.RolesFor(res.Name), opts)
			if opts.Progress != nil {
				mu.Lock()
				done++
				opts.Progress(res.Name, done, len(selected))
				mu.Unlock()
			}
			return nil
		})
	}
	_ = g.Wait() // planOne never fails the group: errors live in each entry
	return doc, ctx.Err()
}

func planOne(ctx context.Context, res spec.Resource, roles []spec.Role, opts Options) planner.ResourcePlan {
	log := opts.Log.With().Str("resource", res.Name).Logger()
	if opts.ResourceTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.ResourceTimeout)
		defer cancel()
	}
	start := time.Now()
	log.Debug().Int("roles", len(roles)).Msg("inspecting")
	names := make([]string, 0, len(roles)*2)
	for _, r := range roles {
		names = append(names, r.Name)
		if r.SourceRole != "" {
			names = append(names, r.SourceRole)
		}
	}
	failed := func(err error) planner.ResourcePlan {
		log.Warn().Err(err).Msg("resource not planned")
		return planner.ResourcePlan{Resource: res.Name, MaintenanceDatabase: res.Database, Roles: []planner.RolePlan{}, Error: err.Error()}
	}
	snap, err := opts.Inspect(ctx, res, names)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return failed(fmt.Errorf("inspecting: timed out after %s: %w", opts.ResourceTimeout, err))
		}
		return failed(fmt.Errorf("inspecting: %w", err))
	}
	var resets map[string]string
	if opts.Passwords != nil {
		if resets, err = opts.Passwords(ctx, res, roles, snap); err != nil {
			return failed(fmt.Errorf("checking passwords: %w", err))
		}
	}
	rp, err := planner.PlanResource(planner.Input{Resource: res, Roles: roles, Snapshot: snap, PasswordResets: resets})
	if err != nil {
		return failed(err)
	}
	rp.Resource = res.Name
	rp.MaintenanceDatabase = res.Database
	rp.ServerVersion = snap.ServerVersion
	rp.Settings = planner.SettingsOf(res)
	log.Info().Str("took", time.Since(start).Round(time.Millisecond).String()).Int("roles", len(rp.Roles)).Msg("planned")
	return rp
}

func selectResources(tree *spec.Tree, names []string) ([]spec.Resource, error) {
	if len(names) == 0 {
		out := append([]spec.Resource(nil), tree.Resources...)
		sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
		return out, nil
	}
	var out []spec.Resource
	for _, n := range names {
		res, ok := tree.Resource(n)
		if !ok {
			return nil, fmt.Errorf("unknown resource %q", n)
		}
		out = append(out, res)
	}
	return out, nil
}
