package reconciler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/rolecd/rolecd/internal/forge"
	"github.com/rolecd/rolecd/planner"
	"github.com/rolecd/rolecd/planner/spec"
	"github.com/rolecd/rolecd/store"
)

// Steps shared by the flows: fetch a commit, load and validate its role
// files, plan and record the plan session.

// step is one step of a flow over its run state s: it returns done to end
// the flow early (with err, which may be nil).
type step[S any] func(ctx context.Context, s *S) (done bool, err error)

// runSteps runs steps in order and stops at the first that is done or
// fails, returning its error.
func runSteps[S any](ctx context.Context, s *S, steps ...step[S]) error {
	for _, st := range steps {
		if done, err := st(ctx, s); done || err != nil {
			return err
		}
	}
	return nil
}

// ensureCommit makes sure sha is in the local clone: a fetch, then the
// pull request's refs/pull/N/head, then its branch. A commit that is still
// missing is a waiting error (the forge may announce a head before the
// remote serves it).
func (r *Reconciler) ensureCommit(ctx context.Context, sha string, pr int, headRef string) error {
	if sha == "" {
		return waitingf("no commit to fetch")
	}
	if r.opts.Source.HasCommit(sha) {
		return nil
	}
	var errs []error
	if err := r.opts.Source.Fetch(ctx); err != nil {
		errs = append(errs, err)
	}
	if r.opts.Source.HasCommit(sha) {
		return nil
	}
	var refs []string
	if pr > 0 {
		refs = append(refs, fmt.Sprintf("refs/pull/%d/head", pr))
	}
	if headRef != "" {
		refs = append(refs, "refs/heads/"+headRef)
	}
	for _, ref := range refs {
		if _, err := r.opts.Source.FetchRef(ctx, ref); err != nil {
			errs = append(errs, err)
		} else if r.opts.Source.HasCommit(sha) {
			return nil
		}
	}
	return waiting(fmt.Sprintf("commit %s is not in the repository yet", forge.Short(sha)), errors.Join(errs...))
}

// loadTree reads and validates the role files of commit sha. Invalid files
// come back as problems ("path/file:line: message"), not as an error.
func (r *Reconciler) loadTree(sha string) (*spec.Tree, []string, error) {
	fsys, err := r.opts.Source.Files(sha)
	if err != nil {
		// The role-file directory is missing at this commit: a human fixes it.
		return nil, []string{err.Error()}, nil
	}
	tree, err := spec.Load(fsys, spec.Options{Prefix: r.opts.RolePrefix, Credentials: r.opts.Credentials, Limits: r.opts.Limits})
	var es spec.Errors
	switch {
	case errors.As(err, &es):
		problems := make([]string, len(es))
		for i, e := range es {
			if r.opts.Path != "" {
				e.Pos.File = path.Join(r.opts.Path, e.Pos.File)
			}
			problems[i] = e.Error()
		}
		return nil, problems, nil
	case err != nil:
		return nil, nil, waiting("reading role files at "+forge.Short(sha), err)
	}
	return tree, nil, nil
}

// plan plans tree and records the plan session.
func (r *Reconciler) plan(ctx context.Context, tree *spec.Tree, src planner.Source, kind store.Kind) (*planner.Document, error) {
	started := time.Now().UTC()
	doc, err := r.opts.Planner.Plan(ctx, tree, src, uuid.NewString())
	if err != nil {
		return nil, waiting("planning", err)
	}
	if err := r.record(ctx, PlanSession(doc, kind, r.opts.Actor, started)); err != nil {
		return nil, err
	}
	return doc, nil
}

// recordInvalid records a failed plan session for invalid role files.
func (r *Reconciler) recordInvalid(ctx context.Context, src planner.Source, problems []string) (string, error) {
	now := time.Now().UTC()
	detail, err := json.Marshal(map[string]any{"source": src, "errors": problems})
	if err != nil {
		return "", fmt.Errorf("encoding problems: %w", err)
	}
	s := &store.Session{
		SID: uuid.NewString(), Kind: store.KindPlan, Status: store.StatusFailed, Actor: r.opts.Actor,
		Commit: src.Commit, PullRequest: src.PullRequest, Detail: detail,
		Error:     fmt.Sprintf("%d problem(s) in the role files:\n%s", len(problems), strings.Join(problems, "\n")),
		StartedAt: now, FinishedAt: now,
	}
	return s.SID, r.record(ctx, s)
}

// outcome is what a flow run counts when it ends, whichever step ends it:
// the steps fill it in and the flow's deferred record counts it, once.
type outcome struct {
	plan    string // the plans metric's outcome, "" when the run planned nothing
	refusal string // the refusals metric's reason, "" when the run refused nothing
}

// count counts a flow run's outcome: its plan under the flow's label, and
// its refusal.
func (r *Reconciler) count(flow string, o outcome) {
	if o.plan != "" {
		r.metrics.plans.WithLabelValues(flow, o.plan).Inc()
	}
	if o.refusal != "" {
		r.metrics.refusals.WithLabelValues(o.refusal).Inc()
	}
}

// settle ends a flow run: it counts the run's outcome under the flow's
// label and, when a step settled the pull request's record (save), stores
// rec; the store's error then replaces the run's.
func (r *Reconciler) settle(ctx context.Context, flow string, out outcome, save bool, rec *store.PullRequest, err error) error {
	r.count(flow, out)
	if !save {
		return err
	}
	if perr := r.putPR(ctx, rec); perr != nil {
		return perr
	}
	return err
}

// invalidTree says how one flow reports role files that do not validate.
type invalidTree struct {
	out        *outcome // the flow run's outcome: invalid, with refusal
	refusal    string   // refusal metric label, "" for none
	pr         int
	commit     string
	comment    string // comment key
	preamble   string // planComment preamble
	status     string // commit status context
	statusDesc string
	stall      string // StalledError reason
	// warn, when set, logs the problems with the session's SID.
	warn *zerolog.Logger
	// keep settles the flow's record of the pull request with the session
	// SID (the flow's deferred record stores it).
	keep func(sid string)
}

// reportInvalid records a failed plan session for invalid role files,
// counts the run invalid, comments and sets a failure status on the
// commit, lets the flow settle its record, and returns the StalledError
// the flow ends with.
func (r *Reconciler) reportInvalid(ctx context.Context, src planner.Source, problems []string, it invalidTree) error {
	sid, err := r.recordInvalid(ctx, src, problems)
	if err != nil {
		return err
	}
	it.out.plan, it.out.refusal = "invalid", it.refusal
	if it.warn != nil {
		it.warn.Warn().Str("sid", sid).Int("problems", len(problems)).Msg("invalid role files")
	}
	if err := r.upsertComment(ctx, it.pr, it.comment, r.planComment(nil, it.commit, it.pr, it.preamble, problems)); err != nil {
		return err
	}
	if err := r.setStatus(ctx, it.commit, it.status, "failure", it.statusDesc); err != nil {
		return err
	}
	it.keep(sid)
	return stalled(it.stall, errors.New(strings.Join(problems, "; ")))
}

// record stores a finished session and hands it to OnSession.
func (r *Reconciler) record(ctx context.Context, s *store.Session) error {
	if err := r.opts.Store.CreateSession(ctx, s); err != nil {
		return waiting("recording the "+string(s.Kind)+" session", err)
	}
	r.sessionDone(ctx, s.SID)
	return nil
}

func (r *Reconciler) sessionDone(ctx context.Context, sid string) {
	if r.opts.OnSession != nil {
		r.opts.OnSession(context.WithoutCancel(ctx), sid)
	}
}

// PlanSession is the audit session of a plan document, as both the daemon
// and `rolecd plan` record it (so `rolecd apply --sid` works on it): kind and
// actor as given, the status from the plan's summary, and one line in Error
// for each resource that failed to plan.
func PlanSession(doc *planner.Document, kind store.Kind, actor string, started time.Time) *store.Session {
	sum := doc.Summary()
	status := store.StatusNoChanges
	switch {
	case sum.FailedResources > 0:
		status = store.StatusFailed
	case sum.Changes > 0:
		status = store.StatusChanges
	}
	detail, _ := json.Marshal(doc) // a Document always encodes
	s := &store.Session{
		SID: doc.SID, Kind: kind, Status: status, Actor: actor, Commit: doc.Source.Commit, PullRequest: doc.Source.PullRequest,
		Checksum: doc.Digest(), Detail: detail, StartedAt: started, FinishedAt: time.Now().UTC(),
	}
	var errs []string
	for _, rp := range doc.Resources {
		s.Resources = append(s.Resources, rp.Resource)
		if rp.Error != "" {
			errs = append(errs, rp.Resource+": "+rp.Error)
		}
		for _, role := range rp.Roles {
			s.Roles = append(s.Roles, role.Config.RoleName)
		}
	}
	s.Error = strings.Join(errs, "\n")
	return s
}

// checksumsOf maps "resource/role_name" to each role's checksum.
func checksumsOf(doc *planner.Document) map[string]string {
	out := map[string]string{}
	for _, rp := range doc.Resources {
		for _, role := range rp.Roles {
			out[rp.Resource+"/"+role.Config.RoleName] = role.Checksum
		}
	}
	return out
}

// checksumDiff lists, sorted, the roles whose checksum differs between the
// reviewed plan and the new one (present in only one counts).
func checksumDiff(reviewed, now map[string]string) []string {
	var out []string
	for k, v := range now {
		if old, ok := reviewed[k]; !ok {
			out = append(out, k+": not in the reviewed plan")
		} else if old != v {
			out = append(out, k+": the SQL changed")
		}
	}
	for k := range reviewed {
		if _, ok := now[k]; !ok {
			out = append(out, k+": reviewed, no longer planned")
		}
	}
	sort.Strings(out)
	return out
}

// failedResources lists the resources a plan could not plan, with why.
func failedResources(doc *planner.Document) []string {
	var out []string
	for _, rp := range doc.Resources {
		if rp.Error != "" {
			out = append(out, rp.Resource+": "+rp.Error)
		}
	}
	return out
}

// forgeError classifies a failed forge call.
func (r *Reconciler) forgeError(op string, err error) error {
	r.metrics.forgeErrs.WithLabelValues(op).Inc()
	if r.opts.Transient == nil || r.opts.Transient(err) {
		return waiting(op, err)
	}
	return stalled(op, err)
}

// plural is n and noun, with an s unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
