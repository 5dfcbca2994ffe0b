package e2e

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rolecd/rolecd/planner"
	"github.com/rolecd/rolecd/planner/spec"
	"github.com/rolecd/rolecd/reconciler"
	"github.com/rolecd/rolecd/store"
)

// pausingPlanner is a replica that stops in the middle of its first plan
// (a long GC pause, a network partition) until released.
type pausingPlanner struct {
	reconciler.Planner
	once    sync.Once
	paused  chan string // the plan session's sid, once paused
	release chan struct{}
}

func (p *pausingPlanner) Plan(ctx context.Context, tree *spec.Tree, src planner.Source, sid string) (*planner.Document, error) {
	first := false
	p.once.Do(func() { first = true })
	if first {
		p.paused <- sid
		<-p.release
	}
	return p.Planner.Plan(ctx, tree, src, sid)
}

// Two replicas on one PostgreSQL store, real clusters, real GitHub API:
// replica A plans a pull request and stalls past its lease; replica B
// takes the lease over (by the database clock) and works the same pull
// request. When A resumes, the store refuses its writes (fenced by the
// lease generation): the pull request's state and its one comment are
// B's, and A stops leading.
func TestTwoReplicasStaleLeaderIsFenced(t *testing.T) {
	e := newDaemonEnv(t)
	e.usePostgresStore()
	pp := &pausingPlanner{paused: make(chan string), release: make(chan struct{})}
	a := e.newDaemon(func(o *reconciler.Options) {
		o.Holder, o.LeaseTTL = "rolecd-0", time.Minute
		pp.Planner = o.Planner
		o.Planner = pp
	})
	b := e.newDaemon(func(o *reconciler.Options) { o.Holder, o.LeaseTTL = "rolecd-1", time.Minute })
	e.openPR(7, rolesYAML(map[string]string{"ro": "SELECT"}))
	a.mustDeliver("pull_request", "d-7", e.gh.PullRequestEvent("opened", 7))

	ctx := context.Background()
	aDone := make(chan error, 1)
	go func() { aDone <- a.Drain(ctx) }()
	staleSID := <-pp.paused
	before, err := a.store.GetLease(ctx, reconciler.LeaseName)
	if err != nil || before.Holder != "rolecd-0" {
		t.Fatalf("lease while A works: %+v, %v", before, err)
	}
	// A stalls past its TTL: on the database's clock its lease lapsed.
	e.cluster.Exec(t, "rolecd", "UPDATE leases SET expires_at = now() - interval '1 second'")
	if err := b.Drain(ctx); err != nil {
		t.Fatalf("B could not take the lapsed lease: %v", err)
	}
	// B leads: its poll finds A's pending delivery and the open pull request.
	b.TriggerPoll()
	b.drain()
	after, err := b.store.GetLease(ctx, reconciler.LeaseName)
	if err != nil || after.Holder != "rolecd-1" || after.Generation != before.Generation+1 {
		t.Fatalf("lease after the takeover: %+v, %v (before %+v)", after, err, before)
	}
	bRec := b.pr(7)
	if bRec.PlanSID == "" || bRec.PlanSID == staleSID {
		t.Fatalf("B's state of #7: %+v", bRec)
	}

	// A resumes, finishes its plan, and tries to write.
	close(pp.release)
	aErr := <-aDone
	var fe *store.FencedError
	if !errors.Is(aErr, store.ErrFenced) || !errors.As(aErr, &fe) || fe.Generation != before.Generation || fe.Current != after.Generation {
		t.Fatalf("A's drain = %v; want its write refused as generation %d behind %d", aErr, before.Generation, after.Generation)
	}
	if got := a.pr(7); got.PlanSID != bRec.PlanSID || got.PlannedSHA != bRec.PlannedSHA {
		t.Errorf("#7 after A resumed: %+v, want B's %+v", got, bRec)
	}
	comments := e.botComments(7)
	if len(comments) != 1 || !strings.Contains(comments[0].Body, bRec.PlanSID) || strings.Contains(comments[0].Body, staleSID) {
		t.Errorf("comments on #7: %d, want B's one (plan %s)", len(comments), bRec.PlanSID)
	}
	if due, err := a.store.DueReports(ctx, time.Now().Add(time.Hour), 0); err != nil || len(due) != 0 {
		t.Errorf("reports left in the outbox: %+v, %v", due, err)
	}
	// A does not work any more while B holds the lease.
	if err := a.Drain(ctx); err == nil || !strings.Contains(err.Error(), "holds the lease") {
		t.Errorf("A's next drain = %v, want refused", err)
	}
}
