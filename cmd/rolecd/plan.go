package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/rolecd/rolecd/internal/cluster"
	"github.com/rolecd/rolecd/internal/config"
	"github.com/rolecd/rolecd/internal/inventory"
	"github.com/rolecd/rolecd/planner"
	"github.com/rolecd/rolecd/planner/spec"
	"github.com/rolecd/rolecd/reconciler"
	"github.com/rolecd/rolecd/reporter"
	"github.com/rolecd/rolecd/store"
)

type planOptions struct {
	resource       string
	role           string
	typ            string
	scopes         []string
	privileges     []string
	sourceRole     string
	rotatePassword bool
	file           string
	out            string
	parallel       int
	trusted        string
}

func newPlanCmd(g *globals) *cobra.Command {
	opts := &planOptions{}
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Compute the SQL that reconciles the live clusters with the role files",
		Long: "plan inspects the live clusters and prints, per resource and role, the exact SQL that apply would run.\n" +
			"Exit status: 0 nothing to change, 2 changes planned, 1 error.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.sourceRole != "" && !cmd.Flags().Changed("type") {
				opts.typ = string(spec.External)
			}
			return planRun(cmd.Context(), g, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.resource, "resource", "", "plan only this resource")
	f.StringVar(&opts.role, "role", "", "ad-hoc role label (with --resource): plan this role instead of the files")
	f.StringVar(&opts.typ, "type", "managed", "ad-hoc role type: managed or external")
	f.StringSliceVar(&opts.scopes, "scopes", nil, "ad-hoc role scopes (db or db.schema), comma-separated")
	f.StringSliceVar(&opts.privileges, "privileges", nil, "ad-hoc role table privileges, comma-separated")
	f.StringVar(&opts.sourceRole, "source-role", "", "ad-hoc external role's source role")
	f.BoolVar(&opts.rotatePassword, "rotate-password", false, "ad-hoc role: set a new password on apply")
	f.StringVarP(&opts.file, "file", "f", "", "plan the roles of this file (role file, CSV, or Hoop batch plan) instead of the tree's")
	f.StringVarP(&opts.out, "out", "o", "", "also write the plan document (JSON) to this file path (JSON on stdout: --output json)")
	f.IntVar(&opts.parallel, "parallel", cluster.DefaultParallel, "resources inspected at once")
	f.StringVar(&opts.trusted, "trusted-inventory", "", "take every connection (host, port, database, sslmode, admin user, credential source) from this git revision "+
		"(e.g. origin/main) or directory of reviewed role files; resources new or changed relative to it are reported, not connected")
	return cmd
}

func planRun(ctx context.Context, g *globals, opts *planOptions) error {
	if err := checkOutPath(opts.out); err != nil {
		return err
	}
	tree, cfg, dir, err := g.loadTree()
	if err != nil {
		return err
	}
	tree, resources, err := selectRoles(tree, cfg, opts)
	if err != nil {
		return err
	}
	failedBatch := tree.Failed // Hoop batch items that fail alone, whatever the inventory
	var inv inventory.Diff
	if opts.trusted != "" {
		if tree, resources, inv, err = restrictToTrusted(g, tree, resources, cfg, dir, opts.trusted); err != nil {
			return err
		}
	}
	st, err := g.openState(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.close()
	dialer := g.dialer(st, cfg)
	started := time.Now().UTC()
	doc, err := cluster.Plan(ctx, tree, cluster.Options{
		Inspect:   dialer.Inspect,
		Passwords: st.passwordCheck(dialer),
		Parallel:  opts.parallel,
		Resources: resources,
		SID:       uuid.NewString(),
		Log:       g.logger(),
		Progress:  g.progress().planFunc(),
	})
	if err != nil {
		return err
	}
	doc.Resources = append(doc.Resources, failedItems(failedBatch)...)
	if err := st.record(ctx, planSession(doc, started)); err != nil {
		return err
	}
	if opts.out != "" {
		if err := writePlanFile(opts.out, doc); err != nil {
			return err
		}
	}
	if err := writePlan(g, doc, inv); err != nil {
		return err
	}
	return planExit(doc, inv)
}

// selectRoles adds the roles of --role flags or -f to tree and returns
// the resources to plan (nil: all).
func selectRoles(tree *spec.Tree, cfg config.Config, opts *planOptions) (*spec.Tree, []string, error) {
	adhoc := opts.role != "" || opts.sourceRole != "" || len(opts.scopes) > 0 || len(opts.privileges) > 0 || opts.rotatePassword
	switch {
	case adhoc && opts.file != "":
		return nil, nil, fmt.Errorf("--role and -f are exclusive")
	case adhoc:
		if opts.resource == "" || opts.role == "" {
			return nil, nil, fmt.Errorf("an ad-hoc role needs --resource and --role")
		}
		data, err := adhocRoleFile(opts)
		if err != nil {
			return nil, nil, err
		}
		if tree, err = parseExtra(tree, "flags.yaml", data, cfg, false); err != nil {
			return nil, nil, flagErrors(err)
		}
		return tree, []string{opts.resource}, nil
	case opts.file != "":
		data, err := os.ReadFile(opts.file)
		if err != nil {
			return nil, nil, fmt.Errorf("reading %s: %w", opts.file, err)
		}
		if tree, err = parseExtra(tree, opts.file, data, cfg, true); err != nil {
			return nil, nil, err
		}
		return tree, rolesResources(tree, opts.resource), nil
	case opts.resource != "":
		return tree, []string{opts.resource}, nil
	}
	return tree, nil, nil
}

// restrictToTrusted takes the connections of tree's resources from the
// trusted inventory (--trusted-inventory): resources it does not hold, or
// holds with other settings, are not connected to.
func restrictToTrusted(g *globals, tree *spec.Tree, resources []string, cfg config.Config, dir, trustedRef string) (*spec.Tree, []string, inventory.Diff, error) {
	trusted, name, err := loadTrusted(trustedRef, dir, spec.Options{Prefix: cfg.RolePrefix, Credentials: cfg.CredentialPolicy(), Limits: specLimits(cfg)})
	if err != nil {
		return nil, nil, inventory.Diff{}, err
	}
	tree, inv := inventory.Restrict(trusted, tree)
	if resources != nil {
		if resources = connectedOnly(resources, tree); len(resources) == 0 {
			tree, resources = &spec.Tree{}, nil // every selected resource is unconnected
		}
	}
	log := g.logger()
	log.Info().Str("trusted_inventory", name).Int("not_connected", inv.NotConnected()).Msg("connections taken from the trusted inventory")
	return tree, resources, inv, nil
}

// writePlan prints the plan: its JSON on stdout and the inventory
// changes on stderr with -o json, else both as text on stdout.
func writePlan(g *globals, doc *planner.Document, inv inventory.Diff) error {
	if g.output == "json" {
		if err := writeJSON(g.stdout, doc); err != nil {
			return err
		}
		return reporter.WriteInventoryText(g.stderr, inv)
	}
	if err := reporter.WriteInventoryText(g.stdout, inv); err != nil {
		return err
	}
	if err := reporter.WritePlanText(g.stdout, doc); err != nil {
		return err
	}
	if doc.Summary().Changes > 0 {
		fmt.Fprintf(g.stdout, "Apply exactly this plan with: rolecd apply --sid %s\n", doc.SID)
	}
	return nil
}

// planExit is plan's exit status: 1 when a resource could not be
// planned, 2 when there are changes (or unreviewed inventory changes).
func planExit(doc *planner.Document, inv inventory.Diff) error {
	sum := doc.Summary()
	switch {
	case sum.FailedResources > 0:
		return &exitError{exitError1, fmt.Sprintf("%d of %d resource(s) could not be planned", sum.FailedResources, sum.Resources)}
	case sum.Changes > 0 || !inv.Empty():
		return &exitError{code: exitChanges}
	}
	return nil
}

// connectedOnly drops from a --resource/-f selection the resources the
// trusted inventory left out.
func connectedOnly(selected []string, tree *spec.Tree) []string {
	var out []string
	for _, name := range selected {
		if _, ok := tree.Resource(name); ok {
			out = append(out, name)
		}
	}
	return out
}

// parseExtra parses one role file whose roles may use the tree's resources;
// the result holds the file's roles and the resources of both. With batch
// (plan -f), a Hoop batch item naming an unknown resource fails alone.
func parseExtra(base *spec.Tree, name string, data []byte, cfg config.Config, batch bool) (*spec.Tree, error) {
	tree, err := spec.Parse([]spec.File{{Name: name, Data: data}}, spec.Options{
		Prefix: cfg.RolePrefix, Resources: base.Resources, Credentials: cfg.CredentialPolicy(), Batch: batch, Limits: specLimits(cfg),
	})
	if err != nil {
		return nil, err
	}
	for _, res := range base.Resources {
		if _, ok := tree.Resource(res.Name); !ok {
			tree.Resources = append(tree.Resources, res)
		}
	}
	return tree, nil
}

// flagErrors drops the positions of an ad-hoc role's validation errors:
// they point into YAML the user never wrote.
func flagErrors(err error) error {
	var es spec.Errors
	if !errors.As(err, &es) {
		return err
	}
	out := make(spec.Errors, len(es))
	for i, e := range es {
		out[i] = spec.Error{Pos: spec.Pos{File: "command line"}, Msg: e.Msg}
	}
	return out
}

// adhocRoleFile renders the flags as a one-role YAML file, so an ad-hoc
// role is validated exactly like a declared one.
func adhocRoleFile(opts *planOptions) ([]byte, error) {
	role := map[string]any{"resource": opts.resource, "role": opts.role, "type": opts.typ}
	if len(opts.scopes) > 0 {
		role["scopes"] = opts.scopes
	}
	if len(opts.privileges) > 0 {
		role["privileges"] = opts.privileges
	}
	if opts.sourceRole != "" {
		role["source_role"] = opts.sourceRole
	}
	if opts.rotatePassword {
		role["rotate_password"] = true
	}
	return yaml.Marshal(map[string]any{"roles": []any{role}})
}

// rolesResources lists the resources a parsed file's roles use, or only
// want when given.
func rolesResources(tree *spec.Tree, want string) []string {
	if want != "" {
		return []string{want}
	}
	seen := map[string]bool{}
	var out []string
	for _, r := range tree.Roles {
		if !seen[r.Resource] {
			seen[r.Resource] = true
			out = append(out, r.Resource)
		}
	}
	return out
}

func writePlanFile(path string, doc *planner.Document) error {
	var b bytes.Buffer
	if err := writeJSON(&b, doc); err != nil {
		return err
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("writing plan: %w", err)
	}
	return nil
}

// planSession is the audit session `rolecd plan` records for doc: the
// reconciler's, with no actor.
func planSession(doc *planner.Document, started time.Time) *store.Session {
	s := reconciler.PlanSession(doc, store.KindPlan, "", started)
	s.Error = strings.TrimSpace(s.Error)
	return s
}
