package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/rolecd/rolecd/internal/bearer"
	"github.com/rolecd/rolecd/internal/config"
	"github.com/rolecd/rolecd/reconciler"
)

// The daemon's two listeners. The webhook listener (listen) is the one
// exposed to GitHub: webhooks, probes and, with metrics.public, /metrics;
// nothing on it reads the store. The API listener (api.listen, loopback by
// default) serves /api/v1/... behind the bearer token, /metrics when it is
// not public, and is where the web hub mounts its pages at "/".

// webhookHandler is the webhook listener's handler.
func webhookHandler(rec *reconciler.Reconciler, cfg config.Config) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", rec.Handler())
	if cfg.Metrics.Public {
		mux.Handle("GET /metrics", rec.MetricsHandler())
	}
	return mux
}

// apiMux is the API listener's mux: /api/v1/ (and /metrics unless public)
// behind guard. Other handlers (the web hub at "/", with its own sign-in)
// are mounted on the returned mux.
func apiMux(rec *reconciler.Reconciler, cfg config.Config, guard bearer.Guard) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/api/", guard.Require(rec.APIHandler()))
	if !cfg.Metrics.Public {
		mux.Handle("GET /metrics", guard.Require(rec.MetricsHandler()))
	}
	return mux
}

// apiGuard loads the API token (api.token_file, else $api.token_env).
func apiGuard(g *globals, cfg config.Config) (bearer.Guard, error) {
	guard, err := bearer.Load(cfg.API.TokenFile, cfg.API.TokenEnv, g.getenv)
	if err != nil {
		return bearer.Guard{}, fmt.Errorf("api: %w", err)
	}
	return guard, nil
}

// listener is one HTTP server on its address.
type listener struct {
	name string
	ln   net.Listener
	srv  *http.Server
	done chan error
}

// serve listens on addr and serves h until stop.
func serve(name, addr string, h http.Handler, log zerolog.Logger) (*listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s: listening on %s: %w", name, addr, err)
	}
	l := &listener{name: name, ln: ln, done: make(chan error, 1),
		srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}}
	go func() { l.done <- l.srv.Serve(ln) }()
	log.Info().Str("listener", name).Str("listen", ln.Addr().String()).Msg("serving")
	return l, nil
}

// stop drains the server within ctx and returns its errors.
func (l *listener) stop(ctx context.Context) error {
	if l == nil {
		return nil
	}
	var errs []error
	if err := l.srv.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("stopping the %s listener: %w", l.name, err))
	}
	if err := <-l.done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		errs = append(errs, fmt.Errorf("%s listener: %w", l.name, err))
	}
	return errors.Join(errs...)
}
