// Package hub is rolecd's provisioning hub on the web: server-rendered
// pages over the store and the branch head's role files. Inventory (every
// resource with its server version, health, admin-credential state, role
// counts and a Hoop-style funnel), one page per resource (roles, drift and
// the SQL that would fix it, a "check now" action), pull requests, and the
// audit trail of sessions with their SQL.
//
// The hub is never open: a visitor signs in with GitHub (OAuth; read
// permission on the watched repository to view, write to act), or comes
// through an authenticating proxy whose header is trusted only from
// configured addresses, or (local demos) with a one-time token. Every view
// and action is itself recorded as an audit session (store.KindView,
// store.KindAction). No secret is ever rendered: admin credentials are
// shown by source and availability, generated ones by existence.
//
// The package declares what it consumes (Store, Inventory, Checker,
// Permissions) so that only cmd/rolecd wires concrete I/O to it.
package hub

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/rolecd/rolecd/internal/forge"
	"github.com/rolecd/rolecd/planner/spec"
	"github.com/rolecd/rolecd/store"
)

// Prefix is where the hub's pages live; mount Handler on it.
const Prefix = "/hub/"

// Store is what the hub reads from the store, and the audit sessions it
// writes (store.Open's store implements it with its Bookkeeping side).
type Store interface {
	CreateSession(ctx context.Context, s *store.Session) error
	GetSession(ctx context.Context, sid string) (*store.Session, error)
	ListSessions(ctx context.Context, f store.Filter) ([]store.Session, error)
	ListPullRequests(ctx context.Context, states ...store.PRState) ([]store.PullRequest, error)
	ListDrift(ctx context.Context) ([]store.Drift, error)
	GetAdmin(ctx context.Context, resource string) (store.AdminCredential, error)
	Credentials(ctx context.Context, roleName string) ([]store.Credential, error)
}

// Inventory is the watched branch's head: its commit and the validated
// role files there (GitInventory reads it from a Git source).
type Inventory interface {
	Head(ctx context.Context) (commit string, tree *spec.Tree, err error)
}

// Checker queues a drift check of the branch head (the reconciler's
// TriggerDrift); the resource is the one the visitor asked about.
type Checker interface {
	CheckNow(resource string)
}

// CheckerFunc adapts a function to Checker.
type CheckerFunc func(resource string)

// CheckNow calls f.
func (f CheckerFunc) CheckNow(resource string) { f(resource) }

// Permissions answers a GitHub user's permission on the watched
// repository: admin, maintain, write, triage, read or none
// (reporter/github's Client, asked with the daemon's own token).
type Permissions interface {
	Permission(ctx context.Context, user string) (string, error)
}

// CredentialProbe tells whether a resource's admin credential is available
// from its source, never its value (see AdminState).
type CredentialProbe func(ctx context.Context, resource string, c spec.Connection) AdminState

// AdminState is what the hub shows about a resource's admin credential.
type AdminState struct {
	Source    string // env, file, command or store
	Name      string // the variable, file or command name ("" for store)
	Available bool
	Problem   string // why it is not available, without the value
}

// GitHubAuth configures GitHub OAuth sign-in.
type GitHubAuth struct {
	// WebURL is GitHub's web base ("https://github.com/", or a GitHub
	// Enterprise host "https://ghe.example.com/"); APIURL the REST API base
	// ("https://api.github.com/", "https://ghe.example.com/api/v3/").
	WebURL, APIURL string
	ClientID       string
	ClientSecret   string
	// Owner and Repo are the watched repository whose permissions decide.
	Owner, Repo string
	// Permissions looks a user's permission up; nil asks the API with the
	// user's own OAuth token.
	Permissions Permissions
	// HTTPClient calls GitHub (default: a client with a 15s timeout).
	HTTPClient *http.Client
}

// ProxyAuth trusts an authenticating proxy's user header, only on requests
// from the proxy's addresses.
type ProxyAuth struct {
	Header string         // e.g. X-Forwarded-User
	From   []netip.Prefix // the proxy's addresses; required
	// Permissions, when set, looks the user's GitHub permission up;
	// otherwise every proxy user has Permission.
	Permissions Permissions
	Permission  string // default "read"
}

// Options configures a Hub.
type Options struct {
	Store     Store
	Inventory Inventory
	Checker   Checker
	// Probe checks admin credentials (nil: sources shown, availability
	// unknown).
	Probe CredentialProbe

	// GitHub, Proxy and LocalToken are the ways in; at least one is
	// required.
	GitHub *GitHubAuth
	Proxy  *ProxyAuth
	// LocalToken, when set, signs in whoever presents it once, with write
	// permission, as actor "local" (local demos).
	LocalToken string

	// Key signs and encrypts the session cookie (at least 32 bytes).
	Key []byte
	// BaseURL is the hub's public address ("https://rolecd.example.com"),
	// for the OAuth redirect URI; "" derives it from the request.
	BaseURL string
	// InsecureCookies drops the Secure flag (a demo on http://127.0.0.1).
	InsecureCookies bool
	// RepoURL links pull requests: "https://github.com/acme/db-roles"
	// ("" renders no links).
	RepoURL string
	// SessionTTL is how long a sign-in lasts (default 8h); permissions are
	// re-checked every PermissionTTL (default 10m).
	SessionTTL, PermissionTTL time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	Log zerolog.Logger
	// OnSession is called with every audit session the hub recorded (the
	// SIEM export).
	OnSession func(ctx context.Context, sid string)
}

// Hub serves the pages. Create it with New.
type Hub struct {
	opts  Options
	log   zerolog.Logger
	pages map[string]*template.Template
	keys  cookieKeys

	mu         sync.Mutex
	localToken string                // "" once used
	perms      map[string]cachedPerm // proxy users' permissions
}

// New checks opts and returns a Hub.
func New(opts Options) (*Hub, error) {
	var errs []error
	if opts.Store == nil || opts.Inventory == nil {
		errs = append(errs, errors.New("store and inventory are required"))
	}
	if opts.GitHub == nil && opts.Proxy == nil && opts.LocalToken == "" {
		errs = append(errs, errors.New("no way to sign in: configure GitHub OAuth, a trusted proxy or a local token (the hub is never open)"))
	}
	if len(opts.Key) < 32 {
		errs = append(errs, fmt.Errorf("the cookie key has %d bytes, want at least 32", len(opts.Key)))
	}
	if g := opts.GitHub; g != nil {
		if g.ClientID == "" || g.ClientSecret == "" || g.WebURL == "" || g.APIURL == "" || g.Owner == "" || g.Repo == "" {
			errs = append(errs, errors.New("github sign-in: client id, client secret, web and API URLs, owner and repo are required"))
		}
		g.WebURL, g.APIURL = withSlash(g.WebURL), withSlash(g.APIURL)
		if g.HTTPClient == nil {
			g.HTTPClient = &http.Client{Timeout: 15 * time.Second}
		}
	}
	if p := opts.Proxy; p != nil {
		if p.Header == "" || len(p.From) == 0 {
			errs = append(errs, errors.New("trusted proxy: a header and the proxy's addresses are required"))
		}
		if p.Permission == "" {
			p.Permission = "read"
		}
		if forge.PermissionRank(p.Permission) <= 0 {
			errs = append(errs, fmt.Errorf("trusted proxy: permission %q: want read, triage, write, maintain or admin", p.Permission))
		}
	}
	if opts.LocalToken != "" && len(opts.LocalToken) < 16 {
		errs = append(errs, errors.New("the local token is shorter than 16 characters"))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("hub: %w", errors.Join(errs...))
	}
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = 8 * time.Hour
	}
	if opts.PermissionTTL <= 0 {
		opts.PermissionTTL = 10 * time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	opts.BaseURL = strings.TrimSuffix(opts.BaseURL, "/")
	opts.RepoURL = strings.TrimSuffix(opts.RepoURL, "/")
	pages, err := parseTemplates()
	if err != nil {
		return nil, err
	}
	return &Hub{
		opts: opts, log: opts.Log.With().Str("component", "hub").Logger(),
		pages: pages, keys: deriveKeys(opts.Key), localToken: opts.LocalToken, perms: map[string]cachedPerm{},
	}, nil
}

func withSlash(s string) string {
	if s != "" && !strings.HasSuffix(s, "/") {
		return s + "/"
	}
	return s
}
