package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/rolecd/rolecd/planner/spec"
	"github.com/rolecd/rolecd/store"
)

type healthOptions struct {
	resources []string
}

func newHealthCmd(g *globals) *cobra.Command {
	opts := &healthOptions{}
	cmd := &cobra.Command{
		Use:   "health [--resource R]",
		Short: "Connect to resources with their admin credentials",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return healthRun(cmd.Context(), g, opts)
		},
	}
	cmd.Flags().StringSliceVar(&opts.resources, "resource", nil, "resource to check (default: every resource)")
	return cmd
}

type healthResult struct {
	Resource      string `json:"resource"`
	Status        string `json:"status"`
	ServerVersion string `json:"server_version,omitempty"`
	Error         string `json:"error,omitempty"`
}

func healthRun(ctx context.Context, g *globals, opts *healthOptions) error {
	tree, cfg, dir, err := g.loadTree()
	if err != nil {
		return err
	}
	// Nothing to check is a failure, found before the store (and its key)
	// is created.
	if len(tree.Resources) == 0 {
		return &exitError{exitError1, fmt.Sprintf("no resources in the role files under %s: nothing to check (declare them under resources:)", dir)}
	}
	var targets []spec.Resource
	if len(opts.resources) == 0 {
		targets = tree.Resources
	}
	for _, name := range opts.resources {
		res, ok := tree.Resource(name)
		if !ok {
			return fmt.Errorf("unknown resource %q", name)
		}
		targets = append(targets, res)
	}
	st, err := g.openState(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.close()
	dialer := g.dialer(st, cfg)
	var results []healthResult
	failed := 0
	for _, res := range targets {
		started := now()
		version, err := dialer.Health(ctx, res)
		r := healthResult{Resource: res.Name, Status: "ok", ServerVersion: version}
		status := store.StatusOK
		if err != nil {
			r = healthResult{Resource: res.Name, Status: "failed", Error: err.Error()}
			status = store.StatusFailed
			failed++
		}
		results = append(results, r)
		if err := st.record(ctx, &store.Session{Kind: store.KindHealth, Status: status, Resources: []string{res.Name},
			Detail: mustJSON(r), Error: r.Error, StartedAt: started, FinishedAt: now()}); err != nil {
			return err
		}
	}
	if g.output == "json" {
		if err := writeJSON(g.stdout, results); err != nil {
			return err
		}
	} else {
		for _, r := range results {
			fmt.Fprintf(g.stdout, "resource: %s\nstatus: %s\n", r.Resource, r.Status)
			if r.Status == "ok" {
				fmt.Fprintf(g.stdout, "server_version: %s\n", r.ServerVersion)
			} else {
				fmt.Fprintf(g.stdout, "reason: %s\n", r.Error)
			}
		}
	}
	if failed > 0 {
		return &exitError{exitError1, fmt.Sprintf("%d of %d resource(s) failed the health check", failed, len(results))}
	}
	return nil
}
