package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/rolecd/rolecd/applier/report"
	"github.com/rolecd/rolecd/planner"
	"github.com/rolecd/rolecd/reporter"
	"github.com/rolecd/rolecd/reporter/audit"
	"github.com/rolecd/rolecd/store"
)

type sessionsListOptions struct {
	kind, resource, status, since string
	limit                         int
}

func newSessionsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "sessions", Short: "List and show audit sessions (plans, applies, health checks, credential changes)"}
	lo := &sessionsListOptions{}
	list := &cobra.Command{
		Use:   "list",
		Short: "List sessions, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return sessionsListRun(cmd.Context(), g, lo)
		},
	}
	f := list.Flags()
	f.StringVar(&lo.kind, "kind", "", "plan, apply, health, credential, drift, audit, action or view (default: all but the hub's views)")
	f.StringVar(&lo.resource, "resource", "", "sessions touching this resource")
	f.StringVar(&lo.status, "status", "", "no-changes, changes, applied, refused, failed, ok or running")
	f.StringVar(&lo.since, "since", "", "newer than this: a duration (24h) or a date (2026-11-01, RFC 3339)")
	f.IntVar(&lo.limit, "limit", 50, "at most this many")
	show := &cobra.Command{
		Use:   "show SID",
		Short: "Show one session with its statements",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return sessionsShowRun(cmd.Context(), g, args[0])
		},
	}
	cmd.AddCommand(list, show)
	return cmd
}

func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("--since %q: want a duration like 24h or a date like 2026-11-01", s)
}

func sessionsListRun(ctx context.Context, g *globals, o *sessionsListOptions) error {
	if err := checkSessionFilter(o); err != nil {
		return err
	}
	since, err := parseSince(o.since, time.Now())
	if err != nil {
		return err
	}
	st, err := g.configState(ctx)
	if err != nil {
		return err
	}
	defer st.close()
	filter := store.Filter{Kind: store.Kind(o.kind), Resource: o.resource, Status: store.Status(o.status), Since: since, Limit: o.limit}
	if o.kind == "" {
		filter.ExcludeKinds = []store.Kind{store.KindView} // the hub's page views, listed with --kind view
	}
	list, err := st.store.ListSessions(ctx, filter)
	if err != nil {
		return err
	}
	if g.output == "json" {
		out := make([]json.RawMessage, 0, len(list))
		for _, s := range list {
			rec, err := audit.Record(s)
			if err != nil {
				return err
			}
			out = append(out, rec)
		}
		return writeJSON(g.stdout, out)
	}
	tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SID\tKIND\tSTATUS\tSTARTED\tRESOURCES\tROLES\tACTOR")
	for _, s := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", s.SID, s.Kind, s.Status, s.StartedAt.Local().Format("2006-01-02 15:04:05"),
			strings.Join(s.Resources, ","), len(s.Roles), s.Actor)
	}
	return tw.Flush()
}

func sessionsShowRun(ctx context.Context, g *globals, sid string) error {
	st, err := g.configState(ctx)
	if err != nil {
		return err
	}
	defer st.close()
	s, err := st.store.GetSession(ctx, sid)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no session %s", sid)
	}
	if err != nil {
		return err
	}
	if g.output == "json" {
		rec, err := audit.Record(*s)
		if err != nil {
			return err
		}
		return writeJSON(g.stdout, json.RawMessage(rec))
	}
	w := g.stdout
	fmt.Fprintf(w, "session %s\nkind:      %s\nstatus:    %s\nactor:     %s\nstarted:   %s\n", s.SID, s.Kind, s.Status, s.Actor, s.StartedAt.Local().Format(time.RFC3339))
	if !s.FinishedAt.IsZero() {
		fmt.Fprintf(w, "finished:  %s (%s)\n", s.FinishedAt.Local().Format(time.RFC3339), s.FinishedAt.Sub(s.StartedAt).Round(time.Millisecond))
	}
	if s.Commit != "" || s.PullRequest != 0 {
		fmt.Fprintf(w, "source:    commit %s, pull request #%d\n", s.Commit, s.PullRequest)
	}
	fmt.Fprintf(w, "resources: %s\nroles:     %s\n", strings.Join(s.Resources, ", "), strings.Join(s.Roles, ", "))
	if s.Checksum != "" {
		fmt.Fprintf(w, "checksum:  %s\n", s.Checksum)
	}
	if s.PlanSID != "" {
		fmt.Fprintf(w, "plan:      %s\n", s.PlanSID)
	}
	if s.Error != "" {
		fmt.Fprintf(w, "error:     %s\n", s.Error)
	}
	fmt.Fprintln(w)
	switch s.Kind {
	case store.KindPlan:
		var doc planner.Document
		if err := json.Unmarshal(s.Detail, &doc); err == nil {
			return reporter.WritePlanText(w, &doc)
		}
	case store.KindApply:
		var rep report.Report
		if err := json.Unmarshal(s.Detail, &rep); err == nil && len(rep.Resources) > 0 {
			return reporter.WriteApplyText(w, &rep)
		}
		// An apply that never finished: show the statements recorded so far.
		for _, st := range s.Statements {
			fmt.Fprintf(w, "  %3d [%s/%s] %-11s %s\n", st.Seq, st.Resource, st.Database, st.Outcome, st.SQL)
		}
		return nil
	}
	if len(s.Detail) > 0 {
		return writeJSON(w, s.Detail)
	}
	return nil
}
