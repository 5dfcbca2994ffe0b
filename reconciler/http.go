package reconciler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/rolecd/rolecd/reporter/audit"
	"github.com/rolecd/rolecd/store"
)

// Handler serves what GitHub and a load balancer need, on the webhook
// listener (the one reachable from outside):
//
//	POST /webhooks/github            GitHub webhooks (signed; 202 once recorded)
//	GET  /healthz                    the process is up
//	GET  /readyz                     the store answers and the repository was fetched
//
// Nothing it serves reads the store's contents. MetricsHandler and
// APIHandler are mounted by the caller (cmd/rolecd) where it decides.
func (r *Reconciler) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /webhooks/github", r.webhook)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", r.readyz)
	return mux
}

// MetricsHandler serves the Prometheus metrics (GET /metrics).
func (r *Reconciler) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(r.metrics.registry, promhttp.HandlerOpts{})
}

// APIHandler serves the read API over the store:
//
//	GET  /api/v1/sessions            sessions, newest first (?kind= &resource= &status= &since=RFC3339 &limit=)
//	GET  /api/v1/sessions/{sid}      one session with its statements
//
// Sessions are the SIEM export's JSON records (reporter/audit.Record). It
// does no authentication itself: mount it behind one (cmd/rolecd serves it
// on the API listener behind a bearer token), never on the webhook listener.
func (r *Reconciler) APIHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/sessions", r.listSessions)
	mux.HandleFunc("GET /api/v1/sessions/{sid}", r.getSession)
	return mux
}

// readyz answers 200 when the store answers and the repository was
// fetched at least once, else 503 with the reason. It is served on the
// webhook listener, so it names states, not errors (which can carry host
// names and URLs): those go to the log.
func (r *Reconciler) readyz(w http.ResponseWriter, req *http.Request) {
	ctx, cancel := context.WithTimeout(req.Context(), 5*time.Second)
	defer cancel()
	status := map[string]string{}
	ready := true
	if err := r.opts.Store.Ping(ctx); err != nil {
		ready = false
		status["store"] = "unreachable"
		r.log.Warn().Err(err).Msg("readyz: the store does not answer")
	} else {
		status["store"] = "ok"
	}
	at, fetchErr := r.opts.Source.LastFetch()
	switch {
	case at.IsZero():
		ready = false
		status["repository"] = "never fetched"
		if fetchErr != nil {
			status["repository"] += "; the last fetch failed"
			r.log.Warn().Err(fetchErr).Msg("readyz: the repository was never fetched")
		}
	case fetchErr != nil:
		// Serving the last fetched state: ready, but say so.
		status["repository"] = "fetched " + at.UTC().Format(time.RFC3339) + "; the last fetch failed"
	default:
		status["repository"] = "fetched " + at.UTC().Format(time.RFC3339)
	}
	if task, late := r.overdue(); task != "" {
		ready = false
		status["task"] = fmt.Sprintf("%s running %s past its deadline of %s", task, late.Round(time.Second), r.opts.TaskDeadline)
	}
	code := http.StatusOK
	if !ready {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, status)
}

// listSessions serves GET /api/v1/sessions.
func (r *Reconciler) listSessions(w http.ResponseWriter, req *http.Request) {
	q := req.URL.Query()
	f := store.Filter{Kind: store.Kind(q.Get("kind")), Resource: q.Get("resource"), Status: store.Status(q.Get("status"))}
	if s := q.Get("since"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			http.Error(w, "since: want an RFC 3339 time", http.StatusBadRequest)
			return
		}
		f.Since = t
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 1000 {
			http.Error(w, "limit: want a number from 0 to 1000", http.StatusBadRequest)
			return
		}
		f.Limit = n
	}
	list, err := r.opts.Store.ListSessions(req.Context(), f)
	if err != nil {
		r.log.Error().Err(err).Msg("listing sessions")
		http.Error(w, "listing sessions failed", http.StatusServiceUnavailable)
		return
	}
	var b bytes.Buffer
	b.WriteByte('[')
	for i, s := range list {
		rec, err := audit.Record(s)
		if err != nil {
			r.log.Error().Err(err).Str("sid", s.SID).Msg("encoding a session")
			http.Error(w, "encoding sessions failed", http.StatusInternalServerError)
			return
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(rec)
	}
	b.WriteString("]\n")
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b.Bytes())
}

// getSession serves GET /api/v1/sessions/{sid}.
func (r *Reconciler) getSession(w http.ResponseWriter, req *http.Request) {
	sess, err := r.opts.Store.GetSession(req.Context(), req.PathValue("sid"))
	switch {
	case errors.Is(err, store.ErrNotFound):
		http.Error(w, "no such session", http.StatusNotFound)
		return
	case err != nil:
		r.log.Error().Err(err).Msg("reading a session")
		http.Error(w, "reading the session failed", http.StatusServiceUnavailable)
		return
	}
	rec, err := audit.Record(*sess)
	if err != nil {
		http.Error(w, "encoding the session failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(rec, '\n'))
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
