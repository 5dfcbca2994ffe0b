package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/rolecd/rolecd/config"
	"github.com/rolecd/rolecd/gitsource"
	"github.com/rolecd/rolecd/hub"
	"github.com/rolecd/rolecd/planner/spec"
	"github.com/rolecd/rolecd/reconciler"
)

// newHub builds the web hub from the configuration, or returns nil when
// no way to sign in is configured (the hub is never open).
func newHub(g *globals, cfg config.Config, st daemonStore, src *gitsource.Source, forge reconciler.Forge, rec *reconciler.Reconciler, log zerolog.Logger) (*hub.Hub, error) {
	if !cfg.HubEnabled() {
		return nil, nil
	}
	hc := cfg.Hub
	opts := hub.Options{
		Store:           st,
		Inventory:       &hub.GitInventory{Branch: src, Options: spec.Options{Prefix: cfg.RolePrefix}},
		Checker:         hub.CheckerFunc(func(string) { rec.TriggerDrift() }),
		Probe:           hub.SourceProbe(g.getenv, st),
		BaseURL:         hc.BaseURL,
		InsecureCookies: hc.InsecureCookies,
		Log:             log,
	}
	if cfg.GitHub.Owner != "" {
		opts.RepoURL = githubWebURL(cfg) + cfg.GitHub.Owner + "/" + cfg.GitHub.Repo
	}
	if hc.GitHub.ClientID != "" {
		secret := envOf(g, hc.GitHub.ClientSecretEnv)
		if secret == "" {
			return nil, fmt.Errorf("hub.github: the client secret variable %s is empty", hc.GitHub.ClientSecretEnv)
		}
		opts.GitHub = &hub.GitHubAuth{
			WebURL: githubWebURL(cfg), APIURL: cfg.GitHub.APIURL, ClientID: hc.GitHub.ClientID, ClientSecret: secret,
			Owner: cfg.GitHub.Owner, Repo: cfg.GitHub.Repo, Permissions: forge,
		}
	}
	if hc.Proxy.Header != "" {
		from, err := hc.ProxyPrefixes()
		if err != nil {
			return nil, err
		}
		opts.Proxy = &hub.ProxyAuth{Header: hc.Proxy.Header, From: from, Permission: hc.Proxy.Permission}
		if cfg.GitHub.Owner != "" {
			opts.Proxy.Permissions = forge
		}
	}
	if hc.LocalTokenEnv != "" {
		opts.LocalToken = envOf(g, hc.LocalTokenEnv)
		if opts.LocalToken == "" && opts.GitHub == nil && opts.Proxy == nil {
			return nil, fmt.Errorf("hub.local_token_env: the variable %s is empty", hc.LocalTokenEnv)
		}
	}
	if k := envOf(g, hc.CookieKeyEnv); k != "" {
		opts.Key = []byte(k)
	} else {
		opts.Key = make([]byte, 32)
		if _, err := rand.Read(opts.Key); err != nil {
			return nil, fmt.Errorf("hub: making a cookie key: %w", err)
		}
		log.Warn().Msg("hub: no hub.cookie_key_env set; a random key is used, so sign-ins end when the daemon restarts")
	}
	h, err := hub.New(opts)
	if err != nil {
		return nil, err
	}
	return h, nil
}

// githubWebURL is hub.github.web_url, else GitHub's web host derived from
// github.api_url (https://api.github.com/ -> https://github.com/;
// https://ghe.example.com/api/v3/ -> https://ghe.example.com/).
func githubWebURL(cfg config.Config) string {
	if u := cfg.Hub.GitHub.WebURL; u != "" {
		return strings.TrimSuffix(u, "/") + "/"
	}
	api := strings.TrimSuffix(cfg.GitHub.APIURL, "/") + "/"
	switch {
	case api == "https://api.github.com/":
		return "https://github.com/"
	case strings.HasSuffix(api, "/api/v3/"):
		return strings.TrimSuffix(api, "api/v3/")
	}
	return api
}

// withHub mounts the hub under /hub/ beside another handler, and redirects
// / to it.
func withHub(h *hub.Hub, other http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(hub.Prefix, h.Handler())
	mux.Handle("GET /{$}", http.RedirectHandler(hub.Prefix, http.StatusFound))
	if other != nil {
		mux.Handle("/", other)
	}
	return mux
}

// serveHub serves the hub on hub.listen, when set; the returned function
// stops it.
func serveHub(g *globals, cfg config.Config, st daemonStore, src *gitsource.Source, forge reconciler.Forge, rec *reconciler.Reconciler, log zerolog.Logger) (func() error, error) {
	if cfg.Hub.Listen == "" {
		return func() error { return nil }, nil
	}
	h, err := newHub(g, cfg, st, src, forge, rec, log)
	if err != nil {
		return nil, err
	}
	if h == nil {
		return nil, errors.New("hub.listen is set, but no way to sign in to the hub is configured")
	}
	ln, err := net.Listen("tcp", cfg.Hub.Listen)
	if err != nil {
		return nil, fmt.Errorf("hub: listening on %s: %w", cfg.Hub.Listen, err)
	}
	srv := &http.Server{Handler: withHub(h, nil), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info().Str("listen", ln.Addr().String()).Str("url", "http://"+ln.Addr().String()+hub.Prefix).Msg("serving the hub")
	return func() error {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		err := srv.Shutdown(ctx)
		if serr := <-served; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
			err = errors.Join(err, serr)
		}
		if err != nil {
			return fmt.Errorf("stopping the hub: %w", err)
		}
		return nil
	}, nil
}
