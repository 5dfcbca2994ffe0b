package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"slices"
	"syscall"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/rolecd/rolecd/applier"
	"github.com/rolecd/rolecd/applier/report"
	"github.com/rolecd/rolecd/internal/config"
	"github.com/rolecd/rolecd/planner"
	"github.com/rolecd/rolecd/planner/spec"
	"github.com/rolecd/rolecd/reporter"
	"github.com/rolecd/rolecd/store"
)

type applyOptions struct {
	sid  string
	file string
}

func newApplyCmd(g *globals) *cobra.Command {
	opts := &applyOptions{}
	cmd := &cobra.Command{
		Use:   "apply --sid SID | -f PLAN",
		Short: "Apply a reviewed plan, refusing any role whose live state drifted since",
		Long: "apply runs exactly the SQL of a plan session (--sid) or plan document (-f). Each database's\n" +
			"statements run in a transaction that first re-inspects that database once and re-plans every role;\n" +
			"a role whose SQL differs is refused, the others run (roles needing the same grant share one statement).\n" +
			"Ctrl-C rolls back the transaction in flight and records the session interrupted.\n" +
			"Exit status: 0 applied (or nothing to do), 3 refused (drift), 1 error or interrupted.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return applyRun(cmd.Context(), g, opts)
		},
	}
	cmd.Flags().StringVar(&opts.sid, "sid", "", "plan session to apply")
	cmd.Flags().StringVarP(&opts.file, "file", "f", "", "plan document (rolecd plan -o) to apply")
	return cmd
}

func applyRun(ctx context.Context, g *globals, opts *applyOptions) error {
	if (opts.sid == "") == (opts.file == "") {
		return fmt.Errorf("give exactly one of --sid SID and -f PLAN")
	}
	if ctx == nil {
		ctx = context.Background()
	}
	// Ctrl-C or SIGTERM: the transaction in flight is rolled back, nothing
	// after it runs, and the session is recorded interrupted.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if opts.file != "" {
		// Before anything else: a file that is no plan (a Hoop plan-result
		// file, a role file) is explained, wherever apply runs.
		if _, err := loadPlan(ctx, nil, opts); err != nil {
			return err
		}
	}
	cfg, err := g.loadConfig()
	if err != nil {
		return err
	}
	st, err := g.openState(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.close()
	doc, err := loadPlan(ctx, st.store, opts)
	if err != nil {
		return err
	}
	resources, err := g.planResources(cfg, doc)
	if err != nil {
		return everyLine(g.stderr, err)
	}
	dialer := g.dialer(st, cfg)
	sid := uuid.NewString()
	rep, err := applier.Apply(ctx, doc, applier.Options{
		Store: st.store, Secrets: st.keeper, Resources: resources, SID: sid, Actor: st.actor, Log: g.logger(),
		Progress: g.progress().applyFunc(), Connect: dialer.Connect,
	})
	if rep == nil {
		return err
	}
	st.finished(ctx, sid)
	if g.output == "json" {
		if err := writeJSON(g.stdout, rep); err != nil {
			return err
		}
	} else if err := reporter.WriteApplyText(g.stdout, rep); err != nil {
		return err
	}
	if err != nil {
		return err
	}
	writeApplyReasons(g.stderr, rep)
	_, _, refused, failed := rep.Counts()
	switch {
	case rep.Interrupted:
		return &exitError{exitError1, fmt.Sprintf("apply %s interrupted: the transaction in flight was rolled back and nothing after it ran; see rolecd sessions show %s", sid, sid)}
	case failed > 0:
		return &exitError{exitError1, fmt.Sprintf("apply %s: %d role(s) or resource(s) failed; see rolecd sessions show %s", sid, failed, sid)}
	case refused > 0:
		return &exitError{exitRefused, fmt.Sprintf("apply %s: %d role(s) refused: live state drifted since plan %s; plan again and review", sid, refused, doc.SID)}
	}
	return nil
}

// everyLine prints each error of a joined error on its own stderr line
// (the last one is returned, for run to print), so none is cut.
func everyLine(w io.Writer, err error) error {
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return err
	}
	errs := joined.Unwrap()
	for _, e := range errs[:len(errs)-1] {
		fmt.Fprintf(w, "rolecd: %s\n", oneLine(e.Error()))
	}
	return errs[len(errs)-1]
}

// writeApplyReasons prints, one line each on stderr, why a resource or
// role was not applied.
func writeApplyReasons(w io.Writer, rep *report.Report) {
	for _, rr := range rep.Resources {
		if rr.Error != "" {
			fmt.Fprintf(w, "rolecd: resource %s: %s\n", rr.Resource, oneLine(rr.Error))
		}
		for _, role := range rr.Roles {
			if report.NotApplied(role.Status) {
				fmt.Fprintf(w, "rolecd: resource %s: role %s %s: %s\n", rr.Resource, role.RoleName, role.Status, oneLine(role.Reason))
			}
		}
	}
}

// planResources gives the applier the plan's resources: from the plan
// document alone (a saved plan is self-contained), checked against the
// credential policy. With --repo, each must connect exactly as the role
// files say; a document written before plans carried connections takes
// them from the role files.
func (g *globals) planResources(cfg config.Config, doc *planner.Document) (map[string]spec.Resource, error) {
	resources, docErr := doc.ResourceSpecs()
	if g.repo != "" {
		tree, _, dir, err := g.loadTree()
		if err != nil {
			return nil, err
		}
		var errs []error
		for _, rp := range doc.Resources {
			if rp.Error != "" {
				continue
			}
			res, ok := tree.Resource(rp.Resource)
			if !ok {
				errs = append(errs, fmt.Errorf("resource %s of the plan is not in the role files at %s", rp.Resource, dir))
				continue
			}
			planned, ok := resources[rp.Resource]
			if !ok {
				resources[rp.Resource] = res
				continue
			}
			if planned.Connection() != res.Connection() {
				errs = append(errs, fmt.Errorf("resource %s: the plan connects to %s, the role files at %s say %s: plan again from these files",
					rp.Resource, describeConnection(planned.Connection()), dir, describeConnection(res.Connection())))
			}
		}
		if len(errs) > 0 {
			return nil, errors.Join(errs...)
		}
		docErr = nil
	}
	if docErr != nil {
		return nil, docErr
	}
	policy := cfg.CredentialPolicy()
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(resources)) {
		if err := policy.CheckConnection(resources[name].Connection()); err != nil {
			errs = append(errs, fmt.Errorf("resource %s of the plan: %w", name, err))
		}
	}
	return resources, errors.Join(errs...)
}

// describeConnection renders a connection for a message (it holds no secret).
func describeConnection(c spec.Connection) string {
	s := fmt.Sprintf("%s (sslmode %s", c.Endpoint(), c.SSLMode)
	if c.SSLRootCert != "" {
		s += ", sslrootcert " + c.SSLRootCert
	}
	return s + fmt.Sprintf(") as %s with credential %s", c.AdminUser, c.Credential)
}

// loadPlan reads the plan document of a plan session or a file.
func loadPlan(ctx context.Context, st store.Store, opts *applyOptions) (*planner.Document, error) {
	var data []byte
	if opts.file != "" {
		b, err := os.ReadFile(opts.file)
		if err != nil {
			return nil, fmt.Errorf("reading plan: %w", err)
		}
		data = b
	} else {
		sess, err := st.GetSession(ctx, opts.sid)
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("no session %s", opts.sid)
		}
		if err != nil {
			return nil, err
		}
		if sess.Kind != store.KindPlan {
			return nil, fmt.Errorf("session %s is a %s session, not a plan", opts.sid, sess.Kind)
		}
		data = sess.Detail
	}
	var doc planner.Document
	if err := json.Unmarshal(data, &doc); (err != nil || doc.Version == 0) && opts.file != "" {
		return nil, notAPlan(opts.file, data, err)
	} else if err != nil {
		return nil, fmt.Errorf("reading plan document: %w", err)
	}
	if doc.Version != planner.DocumentVersion {
		return nil, fmt.Errorf("plan document version %d: this rolecd reads version %d", doc.Version, planner.DocumentVersion)
	}
	return &doc, nil
}
