// Package github posts rolecd's reports to GitHub through go-github: pull
// request comments found again by a hidden marker and edited in place,
// commit statuses, drift issues, and the reads the daemon needs (open pull
// requests, changed files, a user's repository permission), as the
// forge-neutral values of internal/forge.
//
// Webhooks reads GitHub's webhook deliveries: size cap, HMAC-SHA256
// signature, headers, JSON or form-encoded payloads, and their decoding
// into a forge.Event.
//
// Every call honours GitHub's rate limits (primary: 403/429 with
// X-RateLimit-Remaining: 0, waiting until X-RateLimit-Reset; secondary:
// Retry-After), retries 5xx answers and network errors with exponential
// backoff, and gives up with an error that IsTransient reports when the
// caller should try again later. The token never appears in errors or logs.
package github

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	gh "github.com/google/go-github/v60/github"
	"github.com/rs/zerolog"

	"github.com/rolecd/rolecd/internal/backoff"
)

// Defaults of Config.
const (
	DefaultMaxAttempts = 6
	DefaultMaxWait     = 15 * time.Minute
	defaultSecondary   = time.Minute // secondary rate limit without Retry-After
	backoffBase        = 500 * time.Millisecond
	backoffCap         = 30 * time.Second
	rateResetMargin    = time.Second // clock skew between us and GitHub
)

// Config configures a Client.
type Config struct {
	// APIURL is the REST API base: "" for api.github.com, or a GitHub
	// Enterprise Server's "https://ghe.example.com/api/v3/".
	APIURL      string
	Owner, Repo string
	Token       string
	// HTTPClient carries the requests (timeouts, proxies); nil: a client
	// with a 30s timeout.
	HTTPClient *http.Client
	// MaxAttempts bounds the requests of one API call (default 6).
	MaxAttempts int
	// MaxWait caps one rate-limit wait (default 15m): a limit that resets
	// later fails the call at once with a transient error.
	MaxWait time.Duration
	// Sleep waits d or until ctx ends; nil: a timer. Tests inject a fast one.
	Sleep func(ctx context.Context, d time.Duration) error
	Log   zerolog.Logger
}

// Client is a GitHub API client for one repository. It is safe for
// concurrent use.
type Client struct {
	owner, repo string
	token       string
	http        *http.Client
	baseURL     *url.URL
	uploadURL   *url.URL
	maxAttempts int
	maxWait     time.Duration
	sleep       func(ctx context.Context, d time.Duration) error
	log         zerolog.Logger

	mu       sync.Mutex
	resumeAt time.Time // no request before this: a rate limit is in force
}

// New checks cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	if cfg.Owner == "" || cfg.Repo == "" {
		return nil, errors.New("github: owner and repo are required")
	}
	if cfg.Token == "" {
		return nil, errors.New("github: a token is required")
	}
	c := &Client{
		owner: cfg.Owner, repo: cfg.Repo, token: cfg.Token, http: cfg.HTTPClient,
		maxAttempts: cfg.MaxAttempts, maxWait: cfg.MaxWait, sleep: cfg.Sleep, log: cfg.Log,
	}
	if c.http == nil {
		c.http = &http.Client{Timeout: 30 * time.Second}
	}
	if c.maxAttempts <= 0 {
		c.maxAttempts = DefaultMaxAttempts
	}
	if c.maxWait <= 0 {
		c.maxWait = DefaultMaxWait
	}
	if c.sleep == nil {
		c.sleep = backoff.Sleep
	}
	api := gh.NewClient(c.http)
	if cfg.APIURL != "" {
		u, err := url.Parse(cfg.APIURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, fmt.Errorf("github: api_url %q: want an http(s) URL such as https://ghe.example.com/api/v3/", redactURL(cfg.APIURL))
		}
		if u.User != nil {
			return nil, errors.New("github: api_url must not hold credentials: use the token setting")
		}
		upload := *u
		upload.Path = strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), "/api/v3") + "/api/uploads/"
		if api, err = api.WithEnterpriseURLs(u.String(), upload.String()); err != nil {
			return nil, fmt.Errorf("github: api_url: %w", err)
		}
	}
	c.baseURL, c.uploadURL = api.BaseURL, api.UploadURL
	return c, nil
}

func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	return "<unparsable>"
}

// api returns a go-github client for one request. A fresh one each time:
// go-github remembers a rate limit and refuses requests until its reset
// without asking GitHub, which would turn this client's own (capped,
// injectable) wait into an error. The transport, and so its connection
// pool, is shared.
func (c *Client) api() *gh.Client {
	api := gh.NewClient(c.http).WithAuthToken(c.token)
	base, upload := *c.baseURL, *c.uploadURL
	api.BaseURL, api.UploadURL = &base, &upload
	api.UserAgent = "rolecd"
	return api
}

// Error is a failed API call. Its message never holds the token.
type Error struct {
	Op        string // what was being done, e.g. "listing pull requests"
	Status    int    // the last HTTP status, 0 when there was no answer
	Transient bool   // worth retrying later: network, 5xx, rate limits
	msg       string
	err       error
}

func (e *Error) Error() string { return e.msg }

// Unwrap returns the underlying error (a go-github error, a network error,
// a context error).
func (e *Error) Unwrap() error { return e.err }

// IsTransient reports whether err is a failure worth retrying later: a
// network error, a 5xx answer, or a rate limit that outlasted MaxWait or
// MaxAttempts.
func IsTransient(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Transient
}

// StatusCode returns the HTTP status of a failed API call, or 0.
func StatusCode(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

func (c *Client) fail(op string, status int, transient bool, err error) *Error {
	msg := fmt.Sprintf("github: %s: %v", op, err)
	return &Error{Op: op, Status: status, Transient: transient, msg: c.scrub(msg), err: err}
}

// scrub removes the token from s, should anything ever echo it.
func (c *Client) scrub(s string) string {
	return strings.ReplaceAll(s, c.token, "<redacted>")
}

// call runs one API call, fn, with rate-limit waits and retries.
func (c *Client) call(ctx context.Context, op string, fn func(api *gh.Client) (*gh.Response, error)) error {
	var last error
	status := 0
	for attempt := 1; ; attempt++ {
		if err := c.waitRateLimit(ctx, op, status, last); err != nil {
			return err
		}
		resp, err := fn(c.api())
		status = 0
		if resp != nil && resp.Response != nil {
			status = resp.StatusCode
			c.noteRemaining(resp)
		}
		if err == nil {
			return nil
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return c.fail(op, status, false, ctxErr)
		}
		retry, backoff := c.classify(err, attempt)
		if !retry {
			return c.fail(op, status, false, err)
		}
		last = err
		if attempt >= c.maxAttempts {
			return c.fail(op, status, true, fmt.Errorf("giving up after %d attempts: %w", attempt, err))
		}
		c.log.Warn().Str("op", op).Int("status", status).Int("attempt", attempt).
			Dur("backoff", backoff).Str("error", c.scrub(err.Error())).Msg("github api call failed, retrying")
		if backoff > 0 {
			if err := c.sleep(ctx, backoff); err != nil {
				return c.fail(op, status, false, err)
			}
		}
	}
}

// waitRateLimit waits until a rate limit in force resets, or fails when
// that is more than MaxWait away.
func (c *Client) waitRateLimit(ctx context.Context, op string, status int, last error) error {
	c.mu.Lock()
	until := c.resumeAt
	c.mu.Unlock()
	d := time.Until(until)
	if d <= 0 {
		return nil
	}
	if d > c.maxWait {
		err := fmt.Errorf("rate limited until %s, more than the %s wait allowed", until.UTC().Format(time.RFC3339), c.maxWait)
		if last != nil {
			err = fmt.Errorf("%w: %w", err, last)
		}
		return c.fail(op, status, true, err)
	}
	c.log.Warn().Str("op", op).Dur("wait", d).Msg("github rate limit, waiting")
	if err := c.sleep(ctx, d); err != nil {
		return c.fail(op, status, false, err)
	}
	c.mu.Lock()
	if c.resumeAt.Equal(until) {
		c.resumeAt = time.Time{}
	}
	c.mu.Unlock()
	return nil
}

func (c *Client) pauseUntil(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.resumeAt) {
		c.resumeAt = t
	}
}

// noteRemaining pauses requests when a successful answer spent the last
// request of the hourly budget.
func (c *Client) noteRemaining(resp *gh.Response) {
	if resp.StatusCode < 400 && resp.Header.Get("X-RateLimit-Remaining") == "0" && !resp.Rate.Reset.IsZero() {
		c.pauseUntil(resp.Rate.Reset.Add(rateResetMargin))
	}
}

// classify says whether err is worth another attempt and how long to back
// off first; rate limits set resumeAt instead of a backoff.
func (c *Client) classify(err error, attempt int) (retry bool, backoff time.Duration) {
	var rl *gh.RateLimitError
	var abuse *gh.AbuseRateLimitError
	var er *gh.ErrorResponse
	switch {
	case errors.As(err, &rl):
		if reset := rl.Rate.Reset.Time; time.Until(reset) > 0 {
			c.pauseUntil(reset.Add(rateResetMargin))
		}
		return true, 0
	case errors.As(err, &abuse):
		d := defaultSecondary
		if abuse.RetryAfter != nil {
			d = *abuse.RetryAfter
		}
		c.pauseUntil(time.Now().Add(d))
		return true, 0
	case errors.As(err, &er) && er.Response != nil:
		code, h := er.Response.StatusCode, er.Response.Header
		if code == http.StatusTooManyRequests || (code == http.StatusForbidden && h.Get("Retry-After") != "") {
			c.pauseUntil(time.Now().Add(secondaryWait(h)))
			return true, 0
		}
		if code >= 500 {
			if ra := h.Get("Retry-After"); ra != "" {
				c.pauseUntil(time.Now().Add(secondaryWait(h)))
				return true, 0
			}
			return true, exponential(attempt)
		}
		return false, 0
	case isNetwork(err):
		return true, exponential(attempt)
	}
	return false, 0
}

// secondaryWait reads how long a secondary rate limit lasts: Retry-After
// seconds, else X-RateLimit-Reset, else a minute as GitHub advises.
func secondaryWait(h http.Header) time.Duration {
	if s, err := strconv.Atoi(h.Get("Retry-After")); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if h.Get("X-RateLimit-Remaining") == "0" {
		if s, err := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64); err == nil {
			return max(0, time.Until(time.Unix(s, 0).Add(rateResetMargin)))
		}
	}
	return defaultSecondary
}

// exponential is the wait before retrying after failed attempt number
// attempt.
func exponential(attempt int) time.Duration {
	return backoff.Exponential{Base: backoffBase, Cap: backoffCap}.Delay(attempt)
}

func isNetwork(err error) bool {
	var ue *url.Error
	var ne net.Error
	return errors.As(err, &ue) || errors.As(err, &ne) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}
