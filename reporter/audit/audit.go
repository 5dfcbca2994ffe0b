// Package audit exports finished sessions to a SIEM: each session as one
// JSON line appended to a file, and/or POSTed to a webhook signed with
// HMAC-SHA256. Export never blocks the caller: sessions go through a
// bounded queue to one background worker, which retries failed webhook
// deliveries with backoff. A session that cannot be delivered is never
// dropped silently: it is handed to Config.OnFailure, so the caller can
// record it (as a store.KindAudit session).
package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/rolecd/rolecd/internal/backoff"
	"github.com/rolecd/rolecd/store"
)

// Defaults for Config fields left zero.
const (
	DefaultMaxAttempts = 6
	DefaultQueueSize   = 1024
	// DefaultTimeout bounds one webhook request of the default client.
	DefaultTimeout = 30 * time.Second
)

const (
	// minBackoff and maxBackoff bound the default backoff.
	minBackoff = time.Second
	maxBackoff = time.Minute
	// maxRetryAfter caps a server's Retry-After, so that one receiver
	// cannot stall the queue for hours.
	maxRetryAfter = 10 * time.Minute
	// maxResponse is how much of a response body is read (and discarded).
	maxResponse = 64 << 10
)

// Errors handed to OnFailure by Export.
var (
	// ErrQueueFull is reported when a session arrives while the queue is full.
	ErrQueueFull = errors.New("audit queue full")
	// ErrClosed is reported when a session arrives after Close.
	ErrClosed = errors.New("audit exporter closed")
)

// Config configures an Exporter. At least one of File and WebhookURL is set.
type Config struct {
	// File, when set, receives one JSON line per session (created 0600,
	// opened O_APPEND for every line, so log rotation just works).
	File string
	// WebhookURL, when set, receives each session as a signed POST.
	WebhookURL string
	// Secret signs webhook bodies (X-Rolecd-Signature-256); required with
	// WebhookURL.
	Secret []byte
	// Client sends webhook requests; nil means one with DefaultTimeout
	// that does not follow redirects.
	Client *http.Client
	// MaxAttempts bounds webhook attempts per session (0: DefaultMaxAttempts).
	MaxAttempts int
	// Backoff is the wait after failed attempt number attempt (1, 2, ...);
	// nil means exponential from 1s to 60s with jitter. A Retry-After
	// header takes precedence.
	Backoff func(attempt int) time.Duration
	// OnFailure is called once for every session that was not delivered,
	// with the reason. It is called from the worker, and from Export when
	// the queue is full or the exporter closed: it must return promptly
	// (record the failure; do not deliver again from it). nil only logs.
	OnFailure func(sid string, err error)
	// QueueSize bounds the sessions waiting for the worker (0: DefaultQueueSize).
	QueueSize int
	// Log receives delivery warnings; never a session body or the secret.
	Log zerolog.Logger
}

// item is one session waiting for delivery, already encoded.
type item struct {
	sid  string
	body []byte
}

// Exporter delivers sessions in the background. Its methods are safe for
// concurrent use.
type Exporter struct {
	cfg         Config
	webhookHost string // for errors and logs: never the full URL

	mu     sync.RWMutex // guards closed against sends on a closed queue
	closed bool
	queue  chan item

	closeOnce sync.Once
	cancel    context.CancelFunc // aborts the worker's deliveries
	done      chan struct{}      // closed when the worker has finished
	abandoned atomic.Int64       // sessions given up because Close's ctx ended
}

// New validates cfg, fills in defaults and starts the worker. The caller
// must call Close.
func New(cfg Config) (*Exporter, error) {
	e := &Exporter{cfg: cfg}
	if cfg.File == "" && cfg.WebhookURL == "" {
		return nil, errors.New("audit export: neither a file nor a webhook URL is set")
	}
	if cfg.WebhookURL != "" {
		u, err := url.Parse(cfg.WebhookURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, errors.New("audit webhook URL: want an absolute http or https URL")
		}
		if len(cfg.Secret) == 0 {
			return nil, errors.New("audit webhook: a signing secret is required")
		}
		e.webhookHost = u.Host
	}
	if cfg.File != "" {
		f, err := openAppend(cfg.File)
		if err != nil {
			return nil, err
		}
		if err := f.Close(); err != nil {
			return nil, fmt.Errorf("audit file: %w", err)
		}
	}
	if e.cfg.Client == nil {
		e.cfg.Client = &http.Client{
			Timeout: DefaultTimeout,
			// A redirected POST would be resent elsewhere (or turned into
			// a GET): treat a redirect as a final answer instead.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if e.cfg.MaxAttempts <= 0 {
		e.cfg.MaxAttempts = DefaultMaxAttempts
	}
	if e.cfg.Backoff == nil {
		e.cfg.Backoff = DefaultBackoff
	}
	if e.cfg.QueueSize <= 0 {
		e.cfg.QueueSize = DefaultQueueSize
	}
	e.queue = make(chan item, e.cfg.QueueSize)
	e.done = make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	go e.run(ctx)
	return e, nil
}

// DefaultBackoff waits 1s, 2s, 4s ... up to 60s after failed attempt
// number attempt, each drawn uniformly from the upper half of that value
// (jitter), so that many exporters do not retry in step.
func DefaultBackoff(attempt int) time.Duration {
	return backoff.Exponential{Base: minBackoff, Cap: maxBackoff, Jitter: true}.Delay(attempt)
}

// Export queues s for delivery and returns at once. When the queue is full
// (or the exporter is closed), OnFailure is called with ErrQueueFull (or
// ErrClosed) before Export returns; a session whose record cannot be
// encoded is reported the same way.
func (e *Exporter) Export(s store.Session) {
	body, err := Record(s)
	if err != nil {
		e.fail(s.SID, err)
		return
	}
	e.mu.RLock()
	if e.closed {
		e.mu.RUnlock()
		e.fail(s.SID, ErrClosed)
		return
	}
	select {
	case e.queue <- item{sid: s.SID, body: body}:
		e.mu.RUnlock()
	default:
		e.mu.RUnlock()
		e.fail(s.SID, ErrQueueFull)
	}
}

// Close stops accepting sessions and waits until the worker has delivered
// every queued one. When ctx ends first, it aborts the delivery in flight,
// reports it and every session still queued through OnFailure, and returns
// (after that reporting) an error matching ctx.Err(). Close may be called
// more than once.
func (e *Exporter) Close(ctx context.Context) error {
	e.closeOnce.Do(func() {
		e.mu.Lock()
		e.closed = true
		close(e.queue)
		e.mu.Unlock()
	})
	select {
	case <-e.done:
	case <-ctx.Done():
		e.cancel()
		<-e.done
	}
	e.cancel()
	if n := e.abandoned.Load(); n > 0 {
		cause := ctx.Err()
		if cause == nil {
			cause = ErrClosed // another Close call gave up
		}
		return fmt.Errorf("closing audit exporter: undelivered sessions (reported through OnFailure): %d: %w", n, cause)
	}
	return nil
}

// run is the worker: it delivers queued sessions in order until the queue
// is closed and empty. Once ctx is cancelled it only reports.
func (e *Exporter) run(ctx context.Context) {
	defer close(e.done)
	for it := range e.queue {
		if ctx.Err() != nil {
			e.abandoned.Add(1)
			e.fail(it.sid, fmt.Errorf("%w before delivery", ErrClosed))
			continue
		}
		if err := e.deliver(ctx, it); err != nil {
			if ctx.Err() != nil {
				e.abandoned.Add(1)
				err = fmt.Errorf("%w during delivery: %w", ErrClosed, err)
			}
			e.fail(it.sid, err)
		}
	}
}

// fail logs a failed session and hands it to OnFailure.
func (e *Exporter) fail(sid string, err error) {
	e.cfg.Log.Warn().Str("sid", sid).Err(err).Msg("audit export failed")
	if e.cfg.OnFailure != nil {
		e.cfg.OnFailure(sid, err)
	}
}

// deliver writes one session to every configured destination.
func (e *Exporter) deliver(ctx context.Context, it item) error {
	var errs []error
	if e.cfg.File != "" {
		if err := appendLine(e.cfg.File, it.body); err != nil {
			errs = append(errs, err)
		}
	}
	if e.cfg.WebhookURL != "" {
		if err := e.post(ctx, it); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func openAppend(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening audit file: %w", err)
	}
	return f, nil
}

// appendLine appends body and a newline with a single write, so lines of
// concurrent writers (other rolecd processes) do not interleave.
func appendLine(path string, body []byte) error {
	f, err := openAppend(path)
	if err != nil {
		return err
	}
	line := make([]byte, 0, len(body)+1)
	line = append(append(line, body...), '\n')
	_, err = f.Write(line)
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		return fmt.Errorf("writing audit file: %w", err)
	}
	return nil
}

// post delivers one session to the webhook, retrying network errors, 5xx
// and 429 up to MaxAttempts times. Every attempt carries the same delivery
// id, so the receiver can deduplicate.
func (e *Exporter) post(ctx context.Context, it item) error {
	delivery := uuid.NewString()
	for attempt := 1; ; attempt++ {
		err := e.postOnce(ctx, it.body, delivery)
		if err == nil {
			return nil
		}
		var se *statusError
		final := errors.As(err, &se) && !se.retryable()
		if final || attempt >= e.cfg.MaxAttempts || ctx.Err() != nil {
			return fmt.Errorf("audit webhook, attempt %d of %d: %w", attempt, e.cfg.MaxAttempts, err)
		}
		var wait time.Duration
		if se != nil && se.retryAfter >= 0 {
			wait = se.retryAfter
		} else {
			wait = e.cfg.Backoff(attempt)
		}
		e.cfg.Log.Debug().Str("sid", it.sid).Int("attempt", attempt).Dur("wait", wait).Err(err).Msg("audit webhook delivery failed; retrying")
		if sleepErr := backoff.Sleep(ctx, wait); sleepErr != nil {
			return fmt.Errorf("audit webhook, attempt %d of %d: %w; stopped waiting to retry: %w", attempt, e.cfg.MaxAttempts, err, sleepErr)
		}
	}
}

// postOnce sends one request.
func (e *Exporter) postOnce(ctx context.Context, body []byte, delivery string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.cfg.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("building request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "rolecd-audit")
	req.Header.Set("X-Rolecd-Event", "session")
	req.Header.Set("X-Rolecd-Delivery", delivery)
	req.Header.Set("X-Rolecd-Signature-256", sign(e.cfg.Secret, body))
	resp, err := e.cfg.Client.Do(req)
	if err != nil {
		// *url.Error repeats the full URL, which may carry a token.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("posting to %s: %w", e.webhookHost, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponse))
	_ = resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	return &statusError{code: resp.StatusCode, host: e.webhookHost, retryAfter: retryAfter(resp.Header.Get("Retry-After"))}
}

// statusError is a non-2xx answer.
type statusError struct {
	code       int
	host       string
	retryAfter time.Duration // -1: no usable Retry-After
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s answered %d %s", e.host, e.code, http.StatusText(e.code))
}

// retryable is true for 5xx and 429; other answers are final.
func (e *statusError) retryable() bool {
	return e.code >= 500 || e.code == http.StatusTooManyRequests
}

// retryAfter parses a Retry-After value (seconds or an HTTP date), capped
// at maxRetryAfter; -1 when absent or unparsable.
func retryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return -1
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return -1
		}
		if n > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(time.Until(t), 0), maxRetryAfter)
	}
	return -1
}
