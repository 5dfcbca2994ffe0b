package gitsource

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
)

// Defaults applied by Open to zero Config fields.
const (
	DefaultBranch  = "main"
	DefaultTimeout = 30 * time.Second
	// DefaultMaxFileSize is the largest blob Files serves: planner/spec's
	// default limit on a role file.
	DefaultMaxFileSize int64 = 4 << 20
	// DefaultMaxEntries bounds the entries (files and directories) Files
	// lists under Path.
	DefaultMaxEntries = 100000
)

// tokenUser is the basic-auth user name GitHub (and GitHub Enterprise) expects
// with an installation or personal access token.
const tokenUser = "x-access-token"

// Config says where the watched repository lives and how to reach it.
type Config struct {
	// URL is https://..., ssh://..., git@host:path, file:///path or a plain
	// local path. Credentials embedded in it (https://user:token@host/...)
	// are used for authentication and never shown.
	URL string
	// Branch is the watched branch; default "main".
	Branch string
	// Path is the directory of role files inside the repository; "" is the root.
	Path string
	// CacheDir holds the bare clone; created with mode 0700. One Source per
	// CacheDir at a time.
	CacheDir string
	// Token authenticates https remotes with basic auth as x-access-token:<Token>.
	Token string
	// SSHKeyFile is the private key (unencrypted PEM/OpenSSH) for ssh remotes.
	SSHKeyFile string
	// SSHKnownHostsFile, when set, is the known_hosts file that verifies the
	// ssh server's host key; otherwise SSH_KNOWN_HOSTS or ~/.ssh/known_hosts.
	SSHKnownHostsFile string
	// Timeout bounds every network call (Fetch, FetchRef, the clone in Open);
	// default 30s.
	Timeout time.Duration
	// MaxFileSize is the largest blob Files reads, in bytes (default
	// DefaultMaxFileSize): a larger file is listed with its size but
	// reading it fails with ErrTooLarge, before its blob is loaded.
	MaxFileSize int64
	// MaxEntries bounds the entries Files lists under Path (default
	// DefaultMaxEntries); more fail Files with ErrTooLarge.
	MaxEntries int
}

// maxFileSize is MaxFileSize, or its default when unset (a Config that
// did not go through Open, as OpenLocal's).
func (c Config) maxFileSize() int64 {
	if c.MaxFileSize <= 0 {
		return DefaultMaxFileSize
	}
	return c.MaxFileSize
}

// maxEntries is MaxEntries, or its default when unset.
func (c Config) maxEntries() int {
	if c.MaxEntries <= 0 {
		return DefaultMaxEntries
	}
	return c.MaxEntries
}

// remote is a normalised Config: what go-git is given, what people are shown,
// and which strings must never be shown.
type remote struct {
	transportURL string // no userinfo for http(s)
	display      string // no credentials at all
	protocol     string
	auth         transport.AuthMethod
	secrets      []string
}

// normalize validates cfg, applies defaults and cleans Path.
func normalize(cfg Config) (Config, error) {
	if strings.TrimSpace(cfg.URL) == "" {
		return cfg, errors.New("git url is empty")
	}
	if cfg.CacheDir == "" {
		return cfg, errors.New("git cache directory is empty")
	}
	if cfg.Branch == "" {
		cfg.Branch = DefaultBranch
	}
	if err := plumbing.NewBranchReferenceName(cfg.Branch).Validate(); err != nil || strings.Contains(cfg.Branch, "*") {
		return cfg, fmt.Errorf("invalid git branch %q", cfg.Branch)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxFileSize <= 0 {
		cfg.MaxFileSize = DefaultMaxFileSize
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = DefaultMaxEntries
	}
	if cfg.Timeout < 0 {
		return cfg, fmt.Errorf("invalid git timeout %s: want a positive duration", cfg.Timeout)
	}
	p, err := cleanPath(cfg.Path)
	if err != nil {
		return cfg, err
	}
	cfg.Path = p
	return cfg, nil
}

// cleanPath turns a configured role-file directory into a slash-separated
// path relative to the repository root ("" for the root).
func cleanPath(p string) (string, error) {
	p = strings.Trim(filepath.ToSlash(p), "/")
	if p == "" {
		return "", nil
	}
	for part := range strings.SplitSeq(p, "/") {
		if part == ".." {
			return "", fmt.Errorf("invalid git path %q: must stay inside the repository", p)
		}
	}
	p = path.Clean(p)
	if p == "." {
		return "", nil
	}
	return p, nil
}

// newRemote works out the transport URL, the display URL, the auth method
// and the secrets to scrub for cfg.
func newRemote(cfg Config) (*remote, error) {
	r := &remote{}
	r.addSecret(cfg.Token)
	raw := strings.TrimSpace(cfg.URL)
	// Collect the secrets before anything can fail with the URL in a message.
	if u, err := url.Parse(raw); err == nil && u.Scheme != "" {
		if u.User != nil {
			if pass, ok := u.User.Password(); ok {
				r.addSecret(pass)
			} else if u.Scheme == "http" || u.Scheme == "https" {
				r.addSecret(u.User.Username()) // https://<token>@host/...
			}
		}
		for _, vs := range u.Query() {
			for _, v := range vs {
				r.addSecret(v)
			}
		}
	}
	ep, err := transport.NewEndpoint(raw)
	if err != nil {
		return nil, r.wrap("parsing git url", err)
	}
	r.protocol = ep.Protocol
	switch ep.Protocol {
	case "http", "https":
		return r, r.http(raw, cfg)
	case "ssh":
		return r, r.ssh(raw, ep, cfg)
	case "file":
		r.transportURL = raw
		if !strings.HasPrefix(raw, "file://") {
			r.transportURL = ep.Path // absolute, so a later chdir does not matter
		}
		r.display = r.transportURL
		return r, nil
	case "git":
		u, err := url.Parse(raw)
		if err != nil {
			return nil, r.wrap("parsing git url", err)
		}
		u.User = nil
		r.transportURL = u.String()
		r.display = displayURL(u)
		return r, nil
	}
	return nil, fmt.Errorf("unsupported git url scheme %q: want https, ssh, git or file", ep.Protocol)
}

func (r *remote) http(raw string, cfg Config) error {
	u, err := url.Parse(raw)
	if err != nil {
		return r.wrap("parsing git url", err)
	}
	user, pass := "", ""
	if u.User != nil {
		user = u.User.Username()
		pass, _ = u.User.Password()
		if pass == "" { // https://<token>@host/...
			user, pass = tokenUser, user
		}
	}
	u.User = nil
	r.transportURL = u.String()
	r.display = displayURL(u)
	switch {
	case cfg.Token != "":
		r.auth = &githttp.BasicAuth{Username: tokenUser, Password: cfg.Token}
	case pass != "":
		r.auth = &githttp.BasicAuth{Username: user, Password: pass}
	}
	if a, ok := r.auth.(*githttp.BasicAuth); ok {
		r.addSecret(base64.StdEncoding.EncodeToString([]byte(a.Username + ":" + a.Password)))
	}
	return nil
}

func (r *remote) ssh(raw string, ep *transport.Endpoint, cfg Config) error {
	user := ep.User
	if user == "" {
		user = "git"
	}
	if strings.Contains(raw, "://") {
		u, err := url.Parse(raw)
		if err != nil {
			return r.wrap("parsing git url", err)
		}
		if u.User != nil {
			u.User = url.User(u.User.Username())
		}
		r.transportURL = u.String()
		r.display = displayURL(u)
	} else {
		r.transportURL = raw // scp-like user@host:path carries no password
		r.display = raw
	}
	switch {
	case cfg.SSHKeyFile != "":
		keys, err := gitssh.NewPublicKeysFromFile(user, cfg.SSHKeyFile, "")
		if err != nil {
			return r.wrap(fmt.Sprintf("reading ssh key %s", cfg.SSHKeyFile), err)
		}
		if cfg.SSHKnownHostsFile != "" {
			cb, err := gitssh.NewKnownHostsCallback(cfg.SSHKnownHostsFile)
			if err != nil {
				return r.wrap(fmt.Sprintf("reading ssh known hosts %s", cfg.SSHKnownHostsFile), err)
			}
			keys.HostKeyCallback = cb
		}
		r.auth = keys
	case ep.Password != "":
		auth := &gitssh.Password{User: user, Password: ep.Password}
		if cfg.SSHKnownHostsFile != "" {
			cb, err := gitssh.NewKnownHostsCallback(cfg.SSHKnownHostsFile)
			if err != nil {
				return r.wrap(fmt.Sprintf("reading ssh known hosts %s", cfg.SSHKnownHostsFile), err)
			}
			auth.HostKeyCallback = cb
		}
		r.auth = auth
	}
	return nil
}

// displayURL is u without credentials: no userinfo for http(s), the user name
// only for ssh, the query (which may carry a token) elided.
func displayURL(u *url.URL) string {
	c := *u
	if c.Scheme == "http" || c.Scheme == "https" || c.Scheme == "git" {
		c.User = nil
	} else if c.User != nil {
		c.User = url.User(c.User.Username())
	}
	if c.RawQuery != "" {
		c.RawQuery = "<redacted>"
	}
	c.Fragment, c.RawFragment = "", ""
	return c.String()
}

// addSecret records s, and the forms it takes once escaped, as text to scrub.
func (r *remote) addSecret(s string) {
	if s == "" {
		return
	}
	for _, v := range []string{s, url.QueryEscape(s), url.PathEscape(s), url.UserPassword("u", s).String()[2:]} {
		if v != "" && !slices.Contains(r.secrets, v) {
			r.secrets = append(r.secrets, v)
		}
	}
}
