package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"strings"

	"github.com/rs/zerolog"

	"github.com/rolecd/rolecd/gitsource"
	"github.com/rolecd/rolecd/hub"
	"github.com/rolecd/rolecd/internal/config"
	"github.com/rolecd/rolecd/planner/spec"
	"github.com/rolecd/rolecd/reconciler"
)

// newHub builds the web hub from the configuration, or returns nil when
// no way to sign in is configured (the hub is never open).
func newHub(g *globals, cfg config.Config, st daemonStore, src *gitsource.Source, forge reconciler.Forge, rec *reconciler.Reconciler, onSession func(context.Context, string), log zerolog.Logger) (*hub.Hub, error) {
	if !cfg.HubEnabled() {
		return nil, nil
	}
	hc := cfg.Hub
	opts := hub.Options{
		Store:           st,
		Inventory:       &hub.GitInventory{Branch: src, Options: spec.Options{Prefix: cfg.RolePrefix, Credentials: cfg.CredentialPolicy()}},
		Checker:         hub.CheckerFunc(func(string) { rec.TriggerDrift() }),
		Probe:           hub.SourceProbe(g.getenv, st, cfg.CredentialPolicy()),
		BaseURL:         hc.BaseURL,
		InsecureCookies: hc.InsecureCookies,
		Log:             log,
		OnSession:       onSession,
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

// mountHub mounts the hub on the API listener's mux under /hub/ (and
// redirects / there) when a way to sign in is configured; it reports
// whether it did.
func mountHub(g *globals, cfg config.Config, mux *http.ServeMux, st daemonStore, src *gitsource.Source, forge reconciler.Forge, rec *reconciler.Reconciler, onSession func(context.Context, string), log zerolog.Logger) (bool, error) {
	h, err := newHub(g, cfg, st, src, forge, rec, onSession, log)
	if err != nil || h == nil {
		return false, err
	}
	mux.Handle(hub.Prefix, h.Handler())
	mux.Handle("GET /{$}", http.RedirectHandler(hub.Prefix, http.StatusFound))
	return true, nil
}
