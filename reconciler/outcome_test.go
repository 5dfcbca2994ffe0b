package reconciler

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/rolecd/rolecd/internal/forge"
	"github.com/rolecd/rolecd/store"
)

// Each flow records its outcome in one deferred function, whichever step
// ends it. These tests drive every exit of a flow and check what it
// recorded: the plans, refusals and applies counters, the pull request's
// stored record (or the drift check's remembered head), and the kind of
// error the flow returned.

// outcomes lists the non-zero flow counters as "metric label=value ...: count".
func (h *harness) outcomes() []string {
	h.t.Helper()
	families, err := h.r.metrics.registry.Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for _, f := range families {
		name := strings.TrimSuffix(strings.TrimPrefix(f.GetName(), "rolecd_"), "_total")
		if name != "plans" && name != "refusals" && name != "applies" {
			continue
		}
		for _, m := range f.GetMetric() {
			if v := m.GetCounter().GetValue(); v != 0 {
				var labels []string
				for _, l := range m.GetLabel() {
					labels = append(labels, l.GetName()+"="+l.GetValue())
				}
				out = append(out, fmt.Sprintf("%s %s: %g", name, strings.Join(labels, " "), v))
			}
		}
	}
	slices.Sort(out)
	return out
}

// stored summarises pull request n's stored record: "none", or its state,
// planned head and whether it has a plan session.
func (h *harness) stored(n int) string {
	h.t.Helper()
	rec, err := h.store.GetPullRequest(h.t.Context(), n)
	if errors.Is(err, store.ErrNotFound) {
		return "none"
	}
	if err != nil {
		h.t.Fatal(err)
	}
	return fmt.Sprintf("%s planned=%s plan=%t merge-plan=%t", rec.State, rec.PlannedSHA, rec.PlanSID != "", rec.MergePlanSID != "")
}

// errKind is "nil", "stalled", "waiting" or the error itself.
func errKind(err error) string {
	var w *WaitingError
	switch {
	case err == nil:
		return "nil"
	case IsStalled(err):
		return "stalled"
	case errors.As(err, &w):
		return "waiting"
	}
	return err.Error()
}

// checkOutcome checks the kind of error a flow returned and the counters
// it recorded.
func (h *harness) checkOutcome(err error, wantErr string, wantCounts []string) {
	h.t.Helper()
	if got := errKind(err); got != wantErr {
		h.t.Errorf("error = %v (%s), want %s", err, got, wantErr)
	}
	if got := h.outcomes(); !slices.Equal(got, wantCounts) {
		h.t.Errorf("counted %q, want %q", got, wantCounts)
	}
}

var errStore = errors.New("store down")

// refusingStore refuses to queue the reports whose key starts with
// refuse ("comment/", "status/", "issue/") or of kind refuse: a flow's
// report that cannot be recorded, the one way its forge step fails; or,
// with refusePR, the pull request records.
type refusingStore struct {
	*testStore
	refuse string
}

func (s refusingStore) EnqueueReport(ctx context.Context, r *store.OutboxReport, fence store.Fence) error {
	if s.refuse != "" && (strings.HasPrefix(r.Key, s.refuse) || r.Kind == s.refuse) {
		return errStore
	}
	return s.testStore.EnqueueReport(ctx, r, fence)
}

func (s refusingStore) PutPullRequest(ctx context.Context, pr *store.PullRequest, fence store.Fence) error {
	if state, ok := strings.CutPrefix(s.refuse, refusePR); ok && (state == "" || state == string(pr.State)) {
		return errStore
	}
	return s.testStore.PutPullRequest(ctx, pr, fence)
}

// refusePR makes a refusingStore refuse to store pull request records,
// or with a state appended, those in that state.
const refusePR = "pull-request:"

// refuse makes the harness's reconciler refuse to queue reports of key
// prefix.
func (h *harness) refuse(prefix string) {
	h.r.opts.Store = refusingStore{testStore: h.store, refuse: prefix}
}

// leadFlow takes the lease, as Drain does before a flow runs.
func (h *harness) leadFlow() {
	h.t.Helper()
	if !h.r.lead(h.t.Context()) {
		h.t.Fatal("no lease")
	}
}

const badRoles = "roles:\n  - resource: nope\n    role: ro\n"

func TestPlanPRRecordsItsOutcomeOnEveryExit(t *testing.T) {
	open := func(head string) forge.PR { return forge.PR{Number: 1, State: "open", BaseRef: "main", HeadSHA: head} }
	tests := []struct {
		name    string
		setup   func(h *harness) (store.PullRequest, forge.PR, context.Context)
		counts  []string
		stored  string
		errKind string
		logged  bool // "pull request planned"
	}{
		{"head no longer touches the role files", func(h *harness) (store.PullRequest, forge.PR, context.Context) {
			h.src.commit("h1", rolesFile("SELECT"), false)
			return store.PullRequest{Number: 1, State: store.PROpen, PlanSID: "earlier"}, open("h1"), t.Context()
		}, nil, "open planned=h1 plan=false merge-plan=false", "nil", false},
		{"no touch, the comment fails", func(h *harness) (store.PullRequest, forge.PR, context.Context) {
			h.src.commit("h1", rolesFile("SELECT"), false)
			h.refuse("comment/")
			return store.PullRequest{Number: 1, State: store.PROpen, PlanSID: "earlier"}, open("h1"), t.Context()
		}, nil, "none", "waiting", false},
		{"head not fetched", func(h *harness) (store.PullRequest, forge.PR, context.Context) {
			return store.PullRequest{Number: 1, State: store.PROpen}, open("h1"), t.Context()
		}, nil, "none", "waiting", false},
		{"invalid role files", func(h *harness) (store.PullRequest, forge.PR, context.Context) {
			h.src.commit("bad", map[string]string{"resources.yaml": resourcesYAML, "roles.yaml": badRoles}, true)
			return store.PullRequest{Number: 1, State: store.PROpen}, open("bad"), t.Context()
		}, []string{"plans outcome=invalid trigger=pr: 1"}, "open planned=bad plan=true merge-plan=false", "stalled", false},
		{"invalid, the status fails", func(h *harness) (store.PullRequest, forge.PR, context.Context) {
			h.src.commit("bad", map[string]string{"resources.yaml": resourcesYAML, "roles.yaml": badRoles}, true)
			h.refuse("status/")
			return store.PullRequest{Number: 1, State: store.PROpen}, open("bad"), t.Context()
		}, []string{"plans outcome=invalid trigger=pr: 1"}, "none", "waiting", false},
		{"a resource cannot be planned", func(h *harness) (store.PullRequest, forge.PR, context.Context) {
			h.src.commit("h1", rolesFile("SELECT"), true)
			h.db.down = true
			return store.PullRequest{Number: 1, State: store.PROpen}, open("h1"), t.Context()
		}, []string{"plans outcome=error trigger=pr: 1"}, "open planned= plan=true merge-plan=false", "waiting", false},
		{"cannot be planned, the status fails", func(h *harness) (store.PullRequest, forge.PR, context.Context) {
			h.src.commit("h1", rolesFile("SELECT"), true)
			h.db.down = true
			h.refuse("status/")
			return store.PullRequest{Number: 1, State: store.PROpen}, open("h1"), t.Context()
		}, []string{"plans outcome=error trigger=pr: 1"}, "none", "waiting", false},
		{"planned", func(h *harness) (store.PullRequest, forge.PR, context.Context) {
			h.src.commit("h1", rolesFile("SELECT"), true)
			return store.PullRequest{Number: 1, State: store.PROpen}, open("h1"), t.Context()
		}, []string{"plans outcome=changes trigger=pr: 1"}, "open planned=h1 plan=true merge-plan=false", "nil", true},
		{"planned, storing the record fails", func(h *harness) (store.PullRequest, forge.PR, context.Context) {
			h.src.commit("h1", rolesFile("SELECT"), true)
			h.refuse(refusePR)
			return store.PullRequest{Number: 1, State: store.PROpen}, open("h1"), t.Context()
		}, []string{"plans outcome=changes trigger=pr: 1"}, "none", "waiting", false},
		{"invalid, storing the record fails", func(h *harness) (store.PullRequest, forge.PR, context.Context) {
			h.src.commit("bad", map[string]string{"resources.yaml": resourcesYAML, "roles.yaml": badRoles}, true)
			h.refuse(refusePR)
			return store.PullRequest{Number: 1, State: store.PROpen}, open("bad"), t.Context()
		}, []string{"plans outcome=invalid trigger=pr: 1"}, "none", "waiting", false},
		{"planned, the comment fails", func(h *harness) (store.PullRequest, forge.PR, context.Context) {
			h.src.commit("h1", rolesFile("SELECT"), true)
			h.refuse("comment/")
			return store.PullRequest{Number: 1, State: store.PROpen}, open("h1"), t.Context()
		}, nil, "none", "waiting", false},
		{"planned, the status fails", func(h *harness) (store.PullRequest, forge.PR, context.Context) {
			h.src.commit("h1", rolesFile("SELECT"), true)
			h.refuse("status/")
			return store.PullRequest{Number: 1, State: store.PROpen}, open("h1"), t.Context()
		}, []string{"plans outcome=changes trigger=pr: 1"}, "none", "waiting", false},
		{"cancelled", func(h *harness) (store.PullRequest, forge.PR, context.Context) {
			h.src.commit("h1", rolesFile("SELECT"), true)
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			return store.PullRequest{Number: 1, State: store.PROpen}, open("h1"), ctx
		}, nil, "none", "waiting", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			h := newHarness(t, func(o *Options) { o.Log = zerolog.New(&logs) })
			h.leadFlow()
			rec, fpr, ctx := tt.setup(h)
			err := h.r.planPR(ctx, &rec, fpr)
			if got := strings.Contains(logs.String(), "pull request planned"); got != tt.logged {
				t.Errorf("logged the planned head: %t, want %t", got, tt.logged)
			}
			h.checkOutcome(err, tt.errKind, tt.counts)
			if got := h.stored(1); got != tt.stored {
				t.Errorf("stored %q, want %q", got, tt.stored)
			}
		})
	}
}

func TestReconcileMergedRecordsItsOutcomeOnEveryExit(t *testing.T) {
	merged := forge.PR{Number: 2, State: "closed", Merged: true, BaseRef: "main", HeadSHA: "h1", MergeCommitSHA: "m1"}
	// mergeOf merges role files as m1 and returns a never-planned record.
	mergeOf := func(h *harness, files map[string]string) (store.PullRequest, bool) {
		h.src.commit("m1", files, true)
		h.src.branch = "m1"
		return store.PullRequest{Number: 2, State: store.PROpen}, false
	}
	// reviewed plans pull request 2 at h1 (SELECT) through the PR flow,
	// merges it as m1, and returns its stored record.
	reviewed := func(h *harness) (store.PullRequest, bool) {
		h.openPR(2, "h1", "SELECT")
		rec := store.PullRequest{Number: 2, State: store.PROpen, HeadSHA: "h1"}
		if err := h.r.planPR(t.Context(), &rec, h.forge.prs[2]); err != nil {
			t.Fatal(err)
		}
		h.merge(2, "m1")
		h.r.metrics.plans.Reset()
		return h.pr(2), true
	}
	tests := []struct {
		name    string
		opts    func(*Options)
		setup   func(h *harness) (store.PullRequest, bool)
		counts  []string
		stored  string
		errKind string
	}{
		{"already applied", nil, func(h *harness) (store.PullRequest, bool) {
			return store.PullRequest{Number: 2, State: store.PRApplied}, true
		}, nil, "none", "nil"},
		{"planned without touching the role files", nil, func(h *harness) (store.PullRequest, bool) {
			return store.PullRequest{Number: 2, State: store.PROpen, PlannedSHA: "h1"}, true
		}, nil, "closed planned=h1 plan=false merge-plan=false", "nil"},
		{"never seen, outside the role files", func(o *Options) { o.Path = "elsewhere" }, func(h *harness) (store.PullRequest, bool) {
			return store.PullRequest{Number: 2, State: store.PROpen}, false
		}, nil, "closed planned= plan=false merge-plan=false", "nil"},
		{"invalid merged tree", nil, func(h *harness) (store.PullRequest, bool) {
			return mergeOf(h, map[string]string{"resources.yaml": resourcesYAML, "roles.yaml": badRoles})
		}, []string{"plans outcome=invalid trigger=merge: 1", "refusals reason=invalid-merge: 1"}, "refused planned= plan=false merge-plan=true", "stalled"},
		{"invalid, the comment fails", nil, func(h *harness) (store.PullRequest, bool) {
			h.refuse("comment/")
			return mergeOf(h, map[string]string{"resources.yaml": resourcesYAML, "roles.yaml": badRoles})
		}, []string{"plans outcome=invalid trigger=merge: 1", "refusals reason=invalid-merge: 1"}, "merged-pending planned= plan=false merge-plan=false", "waiting"},
		{"a resource cannot be planned", nil, func(h *harness) (store.PullRequest, bool) {
			h.db.down = true
			return mergeOf(h, rolesFile("SELECT"))
		}, []string{"plans outcome=error trigger=merge: 1"}, "merged-pending planned= plan=false merge-plan=false", "waiting"},
		{"never reviewed: waits for approval", nil, func(h *harness) (store.PullRequest, bool) {
			return mergeOf(h, rolesFile("SELECT"))
		}, []string{"plans outcome=changes trigger=merge: 1", "refusals reason=checksum-mismatch: 1"}, "waiting-approval planned= plan=false merge-plan=true", "nil"},
		{"waits for approval, the status fails", nil, func(h *harness) (store.PullRequest, bool) {
			h.refuse("status/")
			return mergeOf(h, rolesFile("SELECT"))
		}, []string{"plans outcome=changes trigger=merge: 1", "refusals reason=checksum-mismatch: 1"}, "merged-pending planned= plan=false merge-plan=false", "waiting"},
		{"reviewed: applied", nil, reviewed,
			[]string{"applies status=applied trigger=merge: 1", "plans outcome=changes trigger=merge: 1"}, "applied planned=h1 plan=true merge-plan=false", "nil"},
		{"reviewed, the live state changed: waits", nil, func(h *harness) (store.PullRequest, bool) {
			rec, found := reviewed(h)
			h.db.extra["rolecd_db1_ro_7d23b377"] = " -- someone was here"
			return rec, found
		}, []string{"plans outcome=changes trigger=merge: 1", "refusals reason=checksum-mismatch: 1"}, "waiting-approval planned=h1 plan=true merge-plan=true", "nil"},
		{"waits for approval, storing that fails", nil, func(h *harness) (store.PullRequest, bool) {
			h.refuse(refusePR + string(store.PRWaitingApproval))
			return mergeOf(h, rolesFile("SELECT"))
		}, []string{"plans outcome=changes trigger=merge: 1", "refusals reason=checksum-mismatch: 1"}, "merged-pending planned= plan=false merge-plan=false", "waiting"},
		{"merge commit off the branch", func(o *Options) {
			o.Source = ancestrySource{fakeSource: o.Source.(*fakeSource), ancestors: map[string]bool{}}
		}, func(h *harness) (store.PullRequest, bool) {
			return mergeOf(h, rolesFile("SELECT"))
		}, []string{"refusals reason=off-branch: 1"}, "none", "stalled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.opts)
			h.leadFlow()
			rec, found := tt.setup(h)
			err := h.r.reconcileMerged(t.Context(), rec, found, merged, false)
			h.checkOutcome(err, tt.errKind, tt.counts)
			if got := h.stored(2); got != tt.stored {
				t.Errorf("stored %q, want %q", got, tt.stored)
			}
		})
	}
}

func TestCheckDriftRecordsItsOutcomeOnEveryExit(t *testing.T) {
	tests := []struct {
		name      string
		remediate bool
		setup     func(h *harness)
		counts    []string
		checked   string // the head remembered as checked
		errKind   string
	}{
		{"no branch head", false, func(h *harness) { h.src.branch = "" }, nil, "", "waiting"},
		{"invalid role files on the branch", false, func(h *harness) {
			h.src.commit("base", map[string]string{"resources.yaml": resourcesYAML, "roles.yaml": badRoles}, true)
		}, []string{"plans outcome=invalid trigger=drift: 1"}, "", "stalled"},
		{"a resource cannot be planned", false, func(h *harness) {
			h.src.commit("base", rolesFile("SELECT"), true)
			h.db.down = true
		}, []string{"plans outcome=no-changes trigger=drift: 1"}, "", "waiting"},
		{"drift", false, func(h *harness) {
			h.src.commit("base", rolesFile("SELECT"), true)
		}, []string{"plans outcome=changes trigger=drift: 1"}, "base", "nil"},
		{"drift, the issue fails", false, func(h *harness) {
			h.src.commit("base", rolesFile("SELECT"), true)
			h.refuse("issue/")
		}, []string{"plans outcome=changes trigger=drift: 1"}, "", "waiting"},
		{"in sync", false, func(h *harness) {
			h.src.commit("base", rolesFile("SELECT"), true)
			h.db.live["rolecd_db1_ro_7d23b377"] = "SELECT"
		}, []string{"plans outcome=no-changes trigger=drift: 1"}, "base", "nil"},
		{"drift remediated", true, func(h *harness) {
			h.src.commit("base", rolesFile("SELECT"), true)
		}, []string{"applies status=applied trigger=drift: 1", "plans outcome=changes trigger=drift: 1"}, "base", "nil"},
		{"remediation deferred: a merge waits", true, func(h *harness) {
			h.src.commit("base", rolesFile("SELECT"), true)
			if err := h.store.PutPullRequest(t.Context(), &store.PullRequest{Number: 1, State: store.PRWaitingApproval}, store.Fence{}); err != nil {
				t.Fatal(err)
			}
		}, []string{"plans outcome=changes trigger=drift: 1"}, "base", "nil"},
		{"remediated, closing the issue fails", true, func(h *harness) {
			h.src.commit("base", rolesFile("SELECT"), true)
			h.refuse(kindCloseIssue)
		}, []string{"applies status=applied trigger=drift: 1", "plans outcome=changes trigger=drift: 1"}, "", "waiting"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.leadFlow()
			tt.setup(h)
			err := h.r.checkDrift(t.Context(), tt.remediate)
			h.checkOutcome(err, tt.errKind, tt.counts)
			h.r.mu.Lock()
			checked := h.r.lastDrift
			h.r.mu.Unlock()
			if checked != tt.checked {
				t.Errorf("checked head %q, want %q", checked, tt.checked)
			}
		})
	}
}
