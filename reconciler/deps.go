package reconciler

import (
	"context"
	"io/fs"
	"net/http"
	"time"

	"github.com/rolecd/rolecd/applier/report"
	"github.com/rolecd/rolecd/internal/forge"
	"github.com/rolecd/rolecd/planner"
	"github.com/rolecd/rolecd/planner/spec"
	"github.com/rolecd/rolecd/store"
)

// Source is the watched Git repository (gitsource.Source implements it).
type Source interface {
	// Fetch fetches the branch and the pull-request heads the remote has;
	// on failure the last fetched state stays usable.
	Fetch(ctx context.Context) error
	// FetchRef fetches one remote ref and returns its commit.
	FetchRef(ctx context.Context, ref string) (string, error)
	// BranchHead is the watched branch's commit as last fetched.
	BranchHead() (string, error)
	// PullHead is refs/pull/N/head as last fetched.
	PullHead(n int) (sha string, ok bool)
	// LastFetch is when the last fetch succeeded and the last fetch error.
	LastFetch() (at time.Time, err error)
	HasCommit(sha string) bool
	// Files is the role-file directory of commit sha.
	Files(sha string) (fs.FS, error)
	// Touches reports whether headSHA changes the role-file directory
	// compared with the merge base of baseSHA and headSHA.
	Touches(baseSHA, headSHA string) (bool, error)
}

// ancestry is an optional capability of a Source: a direct ancestor test
// (gitsource.Source has one).
type ancestry interface {
	IsAncestor(ancestor, descendant string) (bool, error)
}

// Forge is where pull requests live and where reports go: GitHub, or the
// console (reporter/github.Client, reporter/console.Console).
type Forge interface {
	// ListOpenPRs lists the open pull requests targeting base.
	ListOpenPRs(ctx context.Context, base string) ([]forge.PR, error)
	GetPR(ctx context.Context, n int) (forge.PR, error)
	// PRFiles lists the files a pull request changes.
	PRFiles(ctx context.Context, n int) ([]string, error)
	// UpsertComment keeps ONE comment series per (pr, key), edited in place.
	UpsertComment(ctx context.Context, pr int, key string, parts []string) error
	// Comment adds a new comment.
	Comment(ctx context.Context, pr int, body string) error
	// SetStatus sets a commit status (state: pending, success, failure, error).
	SetStatus(ctx context.Context, sha, statusContext, state, description, targetURL string) error
	// Permission is user's permission on the repository: admin, maintain,
	// write, triage, read or none.
	Permission(ctx context.Context, user string) (string, error)
	// UpsertIssue keeps one open issue per key, created or edited.
	UpsertIssue(ctx context.Context, key, title, body string) (int, error)
	// CloseIssue closes the open issue of key, if any, with a comment.
	CloseIssue(ctx context.Context, key, comment string) error
}

// Webhooks reads the forge's webhook deliveries (reporter/github's
// Webhooks): the forge's headers, signatures and payload formats are its
// business; what the daemon does with an event is the reconciler's.
type Webhooks interface {
	// Read verifies and reads the delivery of req. A refused delivery is a
	// *forge.DeliveryError (its Reason chooses the answer, its message is
	// what the sender is told); the Delivery then carries the ID, Event and
	// Kind as far as the request names them.
	Read(req *http.Request) (forge.Delivery, error)
	// Parse decodes a delivery Read returned or the store recorded.
	Parse(d forge.Delivery) (forge.Event, error)
}

// Planner plans a tree of role files against the live clusters
// (cluster.Planner).
type Planner interface {
	Plan(ctx context.Context, tree *spec.Tree, src planner.Source, sid string) (*planner.Document, error)
}

// Applier applies a reviewed plan document and records the apply session
// (applier.Engine: the checksum-gated applier).
type Applier interface {
	Apply(ctx context.Context, tree *spec.Tree, doc *planner.Document, sid, actor string) (*report.Report, error)
}

// Store is the durable state the reconciler reads and writes: sessions and
// the daemon's bookkeeping (store.Open's store implements both).
type Store interface {
	CreateSession(ctx context.Context, s *store.Session) error
	GetSession(ctx context.Context, sid string) (*store.Session, error)
	ListSessions(ctx context.Context, f store.Filter) ([]store.Session, error)
	store.Bookkeeping
}
