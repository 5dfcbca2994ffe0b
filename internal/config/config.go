// Package config loads rolecd.yaml (DESIGN §8): strict YAML, then ROLECD_*
// environment overrides, then defaults.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Config is the content of rolecd.yaml.
type Config struct {
	Git             Git    `yaml:"git"`
	GitHub          GitHub `yaml:"github"`
	ApplyUnreviewed bool   `yaml:"apply_unreviewed"`
	Drift           Drift  `yaml:"drift"`
	Store           string `yaml:"store"`
	// Listen is the webhook listener: POST /webhooks/github, /healthz,
	// /readyz, and /metrics when Metrics.Public. It never serves the API.
	Listen string `yaml:"listen"`
	// API is the second listener, for what reads the store.
	API           API     `yaml:"api"`
	Metrics       Metrics `yaml:"metrics"`
	RolePrefix    string  `yaml:"role_prefix"`
	SecretKeyFile string  `yaml:"secret_key_file"`
	Audit         Audit   `yaml:"audit"`
	// Credentials allow-lists the admin password sources role files may
	// name (see Credentials).
	Credentials Credentials `yaml:"credentials"`
	// Console configures the console forge, used when github is not set.
	Console Console `yaml:"console"`
	// Limits bound what reading a role-files tree may cost.
	Limits Limits `yaml:"limits"`
	// Hub configures the web hub; it is off until a way to sign in is set.
	Hub Hub `yaml:"hub"`
}

// Limits bound the role-files tree that rolecd reads (the CLI from disk,
// the daemon from each commit), so a hostile pull request cannot exhaust
// memory: a larger tree is refused, naming the limit.
type Limits struct {
	// MaxFileSize is the largest role file (default 4MiB).
	MaxFileSize ByteSize `yaml:"max_file_size"`
	// MaxTreeSize is the largest total of the role files (default 64MiB).
	MaxTreeSize ByteSize `yaml:"max_tree_size"`
	// MaxRoles is the most roles, and the most resources, a tree may
	// declare (default 20000).
	MaxRoles int `yaml:"max_roles"`
}

// ByteSize is a size in bytes, written 4194304, 4MiB, 512KiB or 1GiB.
type ByteSize int64

// ParseByteSize reads a size: a whole number of bytes, optionally followed
// by B, KiB, MiB or GiB (KB, MB and GB are read as the binary units too).
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.TrimSpace(s)
	num := strings.TrimRight(t, "BKMGbikmg ")
	unit := strings.ToLower(strings.TrimSpace(t[len(num):]))
	mult := map[string]int64{"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10,
		"m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20, "g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30}[unit]
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || mult == 0 || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("want a size such as 4MiB, 512KiB or 4194304 (bytes), got %q", s)
	}
	return ByteSize(n * mult), nil
}

// Hub configures the web hub (DESIGN §8), served on the API listener
// (api.listen) under /hub/. It is never open: it serves only when GitHub
// sign-in, a trusted proxy or a local token is configured.
type Hub struct {
	// BaseURL is the hub's public address, for the OAuth redirect URI
	// ("" = the request's host, over https).
	BaseURL string `yaml:"base_url"`
	// CookieKeyEnv names the variable holding the session-cookie key (at
	// least 32 bytes); unset, a random key is made at start (sign-ins end
	// when the daemon restarts, and replicas do not share them).
	CookieKeyEnv string `yaml:"cookie_key_env"`
	// InsecureCookies drops the cookies' Secure flag: only for a demo on
	// http://127.0.0.1.
	InsecureCookies bool      `yaml:"insecure_cookies"`
	GitHub          HubGitHub `yaml:"github"`
	Proxy           HubProxy  `yaml:"proxy"`
	// LocalTokenEnv names a variable holding a one-time sign-in token
	// (local demos): whoever presents it once is signed in with write
	// permission.
	LocalTokenEnv string `yaml:"local_token_env"`
}

// HubGitHub is the GitHub OAuth app of the hub; the repository and the API
// are github's (owner, repo, api_url).
type HubGitHub struct {
	ClientID        string `yaml:"client_id"`
	ClientSecretEnv string `yaml:"client_secret_env"`
	// WebURL is GitHub's web host ("" = derived from github.api_url:
	// https://github.com/, or the GitHub Enterprise host).
	WebURL string `yaml:"web_url"`
}

// HubProxy trusts an authenticating proxy's user header, only from its
// addresses.
type HubProxy struct {
	Header string   `yaml:"header"`
	From   []string `yaml:"from"` // CIDRs or addresses
	// Permission is every proxy user's permission when GitHub is not
	// configured (default read); with github:, the user's GitHub
	// permission decides.
	Permission string `yaml:"permission"`
}

// Git is the watched repository.
type Git struct {
	URL          string        `yaml:"url"`
	Branch       string        `yaml:"branch"`
	Path         string        `yaml:"path"`
	PollInterval time.Duration `yaml:"poll_interval"`
	TokenEnv     string        `yaml:"token_env"`
	SSHKeyFile   string        `yaml:"ssh_key_file"`
	// CacheDir holds the daemon's bare clone (default: "git" beside a
	// SQLite store, else .rolecd/git).
	CacheDir string `yaml:"cache_dir"`
	// Timeout bounds each network call to the remote (default 30s).
	Timeout time.Duration `yaml:"timeout"`
}

// GitHub is the forge rolecd reports to; empty Owner means console only.
type GitHub struct {
	Owner            string `yaml:"owner"`
	Repo             string `yaml:"repo"`
	TokenEnv         string `yaml:"token_env"`
	APIURL           string `yaml:"api_url"`
	WebhookSecretEnv string `yaml:"webhook_secret_env"`
	ApplyPermission  string `yaml:"apply_permission"`
	// InstallationID, when set, is the GitHub App installation whose
	// webhook deliveries are accepted (deliveries of any repository other
	// than owner/repo are always ignored).
	InstallationID int64 `yaml:"installation_id"`
}

// APIOff as api.listen serves no API listener.
const APIOff = "off"

// API is the listener of /api/v1/... (and the web hub): everything that
// reads the store. It requires a bearer token; with no token configured it
// answers 401 to everything.
type API struct {
	// Listen is host:port (default 127.0.0.1:8081), or "off" (or "").
	Listen string `yaml:"listen"`
	// TokenEnv names the variable holding the bearer token (default
	// ROLECD_API_TOKEN); TokenFile, when set, is read instead.
	TokenEnv  string `yaml:"token_env"`
	TokenFile string `yaml:"token_file"`
}

// Enabled reports whether the API listener is served.
func (a API) Enabled() bool { return a.Listen != "" && a.Listen != APIOff }

// Metrics says where /metrics is served.
type Metrics struct {
	// Public serves /metrics without authentication on the webhook
	// listener (for a Prometheus scraping the pod); by default (false) it
	// is served on the API listener, behind the bearer token.
	Public bool `yaml:"public"`
}

// Console declares the pull requests of the console forge (no github:
// section): branches of the watched repository proposed for merge into
// git.branch. A pull request counts as merged once its head commit is
// reachable from the branch.
type Console struct {
	PullRequests []ConsolePR `yaml:"pull_requests"`
}

// ConsolePR is one console pull request: a number (for sessions and
// messages) and its branch; no branch means refs/pull/<number>/head.
type ConsolePR struct {
	Number int    `yaml:"number"`
	Branch string `yaml:"branch"`
	Title  string `yaml:"title"`
}

// Drift configures scheduled drift detection.
type Drift struct {
	Schedule string `yaml:"schedule"`
	Action   string `yaml:"action"`
}

// Audit configures the SIEM export of finished sessions.
type Audit struct {
	File       string `yaml:"file"`
	WebhookURL string `yaml:"webhook_url"`
	// WebhookSecretEnv names the variable holding the HMAC-SHA256 key of
	// the X-Rolecd-Signature-256 header.
	WebhookSecretEnv string `yaml:"webhook_secret_env"`
}

// Defaults returns the configuration used when nothing is set.
func Defaults() Config {
	return Config{
		Git:        Git{Branch: "main", PollInterval: time.Minute, Timeout: 30 * time.Second},
		GitHub:     GitHub{APIURL: "https://api.github.com/", ApplyPermission: "write"},
		Drift:      Drift{Schedule: "@every 1h", Action: "report"},
		Store:      "sqlite://.rolecd/rolecd.db",
		Listen:     "127.0.0.1:8080",
		API:        API{Listen: "127.0.0.1:8081", TokenEnv: "ROLECD_API_TOKEN"},
		RolePrefix: "rolecd",
		Limits:     Limits{MaxFileSize: 4 << 20, MaxTreeSize: 64 << 20, MaxRoles: 20000},
	}
}

// Load reads path (a missing file is fine when optional is true), applies
// ROLECD_* overrides from env and validates the result. Every problem is
// reported at once, those of the file as "path:LINE: key git.poll_interval:
// ...".
func Load(path string, optional bool, env func(string) string) (Config, error) {
	cfg := Defaults()
	lines := map[string]int{}
	var decodeErrs Problems
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		// A value that cannot be decoded keeps its default, so the
		// validation of the others below is still worth reporting.
		if err := decodeFile(path, data, &cfg, lines); err != nil && !errors.As(err, &decodeErrs) {
			return Config{}, err
		}
	case optional && errors.Is(err, fs.ErrNotExist):
	default:
		return Config{}, fmt.Errorf("reading config: %w", err)
	}
	if err := applyEnv(reflect.ValueOf(&cfg).Elem(), "ROLECD", env); err != nil {
		return Config{}, err
	}
	all := append(Problems{}, decodeErrs...)
	var valErrs Problems
	if err := withLines(path, cfg.Validate(), lines); err != nil && errors.As(err, &valErrs) {
		all = append(all, valErrs...)
	}
	if len(all) > 0 {
		sortProblems(all)
		return cfg, all
	}
	return cfg, nil
}

// Validate checks values that the YAML types cannot.
func (c Config) Validate() error {
	var errs []error
	if c.Drift.Action != "report" && c.Drift.Action != "remediate" {
		errs = append(errs, keyErrorf("drift.action", "%q is neither report nor remediate", c.Drift.Action))
	}
	if c.Git.PollInterval < 0 {
		errs = append(errs, keyErrorf("git.poll_interval", "%s is negative", c.Git.PollInterval))
	}
	if c.Git.Timeout < 0 {
		errs = append(errs, keyErrorf("git.timeout", "%s is negative", c.Git.Timeout))
	}
	if c.Drift.Schedule != "" {
		if _, err := cron.ParseStandard(c.Drift.Schedule); err != nil {
			errs = append(errs, keyErrorf("drift.schedule", "%q: %v", c.Drift.Schedule, err))
		}
	}
	if (c.GitHub.Owner == "") != (c.GitHub.Repo == "") {
		key := "github.repo" // the one that is set, so the message has its line
		if c.GitHub.Owner != "" {
			key = "github.owner"
		}
		errs = append(errs, keyErrorf(key, "github.owner and github.repo go together"))
	}
	seen := map[int]bool{}
	for i, pr := range c.Console.PullRequests {
		switch {
		case pr.Number <= 0:
			errs = append(errs, keyErrorf(fmt.Sprintf("console.pull_requests[%d]", i), "number must be positive"))
		case seen[pr.Number]:
			errs = append(errs, keyErrorf(fmt.Sprintf("console.pull_requests[%d]", i), "number %d appears twice", pr.Number))
		}
		seen[pr.Number] = true
	}
	if c.RolePrefix == "" || strings.Trim(c.RolePrefix, "abcdefghijklmnopqrstuvwxyz0123456789_") != "" {
		errs = append(errs, keyErrorf("role_prefix", "%q must be lower-case letters, digits and _", c.RolePrefix))
	}
	if c.Listen == "" {
		errs = append(errs, errors.New("listen: the webhook listener's address is required"))
	}
	if c.API.Enabled() && c.API.Listen == c.Listen {
		errs = append(errs, fmt.Errorf("api.listen: %q is also listen: the API needs its own listener", c.API.Listen))
	}
	errs = append(errs, c.validateHub()...)
	switch c.GitHub.ApplyPermission {
	case "read", "triage", "write", "maintain", "admin":
	default:
		errs = append(errs, keyErrorf("github.apply_permission", "%q is not a GitHub permission", c.GitHub.ApplyPermission))
	}
	if c.Limits.MaxFileSize <= 0 {
		errs = append(errs, keyErrorf("limits.max_file_size", "must be positive"))
	}
	if c.Limits.MaxTreeSize < c.Limits.MaxFileSize {
		errs = append(errs, keyErrorf("limits.max_tree_size", "must be at least limits.max_file_size"))
	}
	if c.Limits.MaxRoles <= 0 {
		errs = append(errs, keyErrorf("limits.max_roles", "must be positive"))
	}
	errs = append(errs, c.Credentials.validate(c.ReservedEnv())...)
	return errors.Join(errs...)
}

// applyEnv sets every field from ROLECD_<PATH> when that variable is set,
// e.g. ROLECD_GIT_URL or ROLECD_ROLE_PREFIX. A list of strings is
// comma-separated (ROLECD_CREDENTIALS_ENV_ALLOW=PG_ADMIN_*,BILLING_PW);
// other lists and mappings are only set in the file.
func applyEnv(v reflect.Value, prefix string, env func(string) string) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := prefix + "_" + strings.ToUpper(f.Tag.Get("yaml"))
		fv := v.Field(i)
		if f.Type.Kind() == reflect.Struct {
			if err := applyEnv(fv, name, env); err != nil {
				return err
			}
			continue
		}
		s := env(name)
		if s == "" {
			continue
		}
		switch {
		case f.Type == byteSizeType:
			b, err := ParseByteSize(s)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			fv.SetInt(int64(b))
		case f.Type == reflect.TypeOf(time.Duration(0)):
			d, err := time.ParseDuration(s)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			fv.SetInt(int64(d))
		case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.String:
			var items []string
			for item := range strings.SplitSeq(s, ",") {
				if item = strings.TrimSpace(item); item != "" {
					items = append(items, item)
				}
			}
			fv.Set(reflect.ValueOf(items))
		case f.Type.Kind() == reflect.Slice || f.Type.Kind() == reflect.Map:
			return fmt.Errorf("%s: this setting cannot be set from the environment; use the configuration file", name)
		case f.Type.Kind() == reflect.Int64 || f.Type.Kind() == reflect.Int:
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return fmt.Errorf("%s: want a whole number, got %q", name, s)
			}
			fv.SetInt(n)
		case f.Type.Kind() == reflect.Bool:
			b, err := strconv.ParseBool(s)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			fv.SetBool(b)
		default:
			fv.SetString(s)
		}
	}
	return nil
}

// HubEnabled reports whether a way to sign in to the hub is configured.
func (c Config) HubEnabled() bool {
	return c.Hub.GitHub.ClientID != "" || c.Hub.Proxy.Header != "" || c.Hub.LocalTokenEnv != ""
}

// ProxyPrefixes parses hub.proxy.from.
func (h Hub) ProxyPrefixes() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for i, s := range h.Proxy.From {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, fmt.Errorf("hub.proxy.from[%d]: %q is neither an address nor a CIDR", i, s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func (c Config) validateHub() []error {
	h := c.Hub
	var errs []error
	if c.HubEnabled() && !c.API.Enabled() {
		errs = append(errs, errors.New("hub: the hub is served on api.listen, which is off"))
	}
	if h.GitHub.ClientID != "" {
		if c.GitHub.Owner == "" {
			errs = append(errs, errors.New("hub.github: GitHub sign-in needs github.owner and github.repo (their permissions decide)"))
		}
		if h.GitHub.ClientSecretEnv == "" {
			errs = append(errs, errors.New("hub.github.client_secret_env: required with hub.github.client_id"))
		}
	}
	if (h.Proxy.Header == "") != (len(h.Proxy.From) == 0) {
		errs = append(errs, errors.New("hub.proxy: header and from go together (the header is trusted only from the proxy's addresses)"))
	}
	if _, err := h.ProxyPrefixes(); err != nil {
		errs = append(errs, err)
	}
	switch h.Proxy.Permission {
	case "", "read", "triage", "write", "maintain", "admin":
	default:
		errs = append(errs, fmt.Errorf("hub.proxy.permission: %q is not a GitHub permission", h.Proxy.Permission))
	}
	if h.InsecureCookies {
		if !c.API.Enabled() || !loopback(c.API.Listen) {
			errs = append(errs, errors.New("hub.insecure_cookies: only with api.listen on a loopback address (127.0.0.1:PORT)"))
		}
		if h.BaseURL != "" && !strings.HasPrefix(h.BaseURL, "http://127.0.0.1") && !strings.HasPrefix(h.BaseURL, "http://localhost") {
			errs = append(errs, errors.New("hub.insecure_cookies: only for a base_url on http://127.0.0.1 or http://localhost"))
		}
	}
	return errs
}

// loopback reports whether a host:port listens on a loopback address.
func loopback(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}
