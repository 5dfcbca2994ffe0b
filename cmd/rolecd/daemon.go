package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/rolecd/rolecd/applier"
	"github.com/rolecd/rolecd/gitsource"
	"github.com/rolecd/rolecd/hub"
	"github.com/rolecd/rolecd/internal/cluster"
	"github.com/rolecd/rolecd/internal/config"
	"github.com/rolecd/rolecd/reconciler"
	"github.com/rolecd/rolecd/reporter/console"
	"github.com/rolecd/rolecd/reporter/github"
	"github.com/rolecd/rolecd/store"
)

// shutdownTimeout bounds how long the HTTP server drains on exit.
const shutdownTimeout = 10 * time.Second

type daemonOptions struct {
	once bool
}

func newDaemonCmd(g *globals) *cobra.Command {
	opts := &daemonOptions{}
	cmd := &cobra.Command{
		Use:   "daemon [--once]",
		Short: "Watch the Git repository: plan pull requests, apply reviewed merges, detect drift",
		Long: "daemon watches git.url: it plans every pull request into one comment and a rolecd/plan status, applies a merge\n" +
			"only when every role's checksum equals the reviewed plan (else it waits for /rolecd apply <digest>), and checks\n" +
			"drift on drift.schedule. It serves POST /webhooks/github, /healthz and /readyz on listen (and /metrics with\n" +
			"metrics.public), and /api/v1/... on api.listen (default 127.0.0.1:8081) behind the bearer token of api.token_env\n" +
			"or api.token_file (no token: every API request is refused), and there the web hub (/hub/) when a way to sign\n" +
			"in to it is configured (hub.github, hub.proxy or hub.local_token_env).\n" +
			"With --once it makes one pass (fetch, plan open pull requests, apply merges, drift check) and exits:\n" +
			"0 when everything was done, 1 when something must be retried.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return daemonRun(cmd.Context(), g, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.once, "once", false, "one pass, then exit")
	return cmd
}

// daemonStore is the store seen as both sessions and bookkeeping.
type daemonStore struct {
	store.Store
	store.Bookkeeping
}

// The daemon bounds each resource's plan and apply, so that one slow
// cluster does not hold up the others; /readyz reports a task running past
// reconciler.DefaultTaskDeadline.
const (
	daemonPlanTimeout  = 5 * time.Minute
	daemonApplyTimeout = 30 * time.Minute
)

func daemonRun(ctx context.Context, g *globals, opts *daemonOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := g.loadConfig()
	if err != nil {
		return err
	}
	if cfg.Git.URL == "" {
		return errors.New("git.url is required for the daemon (ROLECD_GIT_URL)")
	}
	log := g.jsonLogger()
	if cfg.GitHub.Owner != "" && envOf(g, githubTokenEnv(cfg)) == "" {
		return fmt.Errorf("github: the token variable %s is empty", githubTokenEnv(cfg))
	}
	st, err := g.openState(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.close()
	bk, ok := store.AsBookkeeping(st.store)
	if !ok {
		return errors.New("this store does not keep the daemon's bookkeeping")
	}
	src, err := gitsource.Open(ctx, gitsource.Config{
		URL: cfg.Git.URL, Branch: cfg.Git.Branch, Path: cfg.Git.Path, CacheDir: cacheDir(cfg, g.storeURL(cfg)),
		Token: envOf(g, cfg.Git.TokenEnv), SSHKeyFile: cfg.Git.SSHKeyFile, Timeout: cfg.Git.Timeout,
		MaxFileSize: int64(cfg.Limits.MaxFileSize),
	})
	if err != nil {
		return err
	}
	ds := daemonStore{st.store, bk}
	rec, forge, err := newDaemonReconciler(g, cfg, st, ds, src, log, opts.once)
	if err != nil {
		return err
	}
	if opts.once {
		return rec.Once(ctx)
	}
	return serveDaemon(ctx, g, cfg, rec, ds, src, forge, st.finished, log)
}

// newDaemonReconciler wires the daemon: the forge (GitHub or the console)
// and its webhooks, one dialer for the planner and the apply engine, and
// the reconciler over them.
func newDaemonReconciler(g *globals, cfg config.Config, st *state, ds daemonStore, src *gitsource.Source, log zerolog.Logger, once bool) (*reconciler.Reconciler, reconciler.Forge, error) {
	forge, transient, err := newForge(g, cfg, src, log)
	if err != nil {
		return nil, nil, err
	}
	// Webhooks come from GitHub: without a github section there is no
	// repository to check them against, and none is accepted.
	var secret []byte
	if cfg.GitHub.Owner != "" {
		secret = []byte(envOf(g, cfg.GitHub.WebhookSecretEnv))
	}
	if cfg.GitHub.Owner != "" && len(secret) == 0 && !once {
		log.Warn().Str("webhook_secret_env", cfg.GitHub.WebhookSecretEnv).Msg("no webhook secret: webhooks are refused, polling only")
	}
	dialer := g.dialer(st, cfg)
	clusterPlanner := &cluster.Planner{
		Dialer:          dialer,
		Passwords:       st.passwordCheck(dialer),
		ResourceTimeout: daemonPlanTimeout, Log: log,
	}
	engine := &applier.Engine{
		Store: st.store, Secrets: st.keeper, Connect: dialer.Connect,
		ResourceTimeout: daemonApplyTimeout, Log: log,
	}
	rec, err := reconciler.New(reconciler.Options{
		Source: src, Forge: forge, Store: ds, Planner: clusterPlanner, Applier: engine,
		Branch: cfg.Git.Branch, Path: cfg.Git.Path, RolePrefix: cfg.RolePrefix, Credentials: cfg.CredentialPolicy(),
		Limits:          specLimits(cfg),
		ApplyPermission: cfg.GitHub.ApplyPermission, ApplyUnreviewed: cfg.ApplyUnreviewed,
		DriftRemediate: cfg.Drift.Action == "remediate", DriftSchedule: cfg.Drift.Schedule,
		PollInterval: cfg.Git.PollInterval, Webhooks: github.Webhooks{Secret: secret}, Transient: transient, Log: log,
		Repository: cfg.GitHub.Owner + "/" + cfg.GitHub.Repo, InstallationID: cfg.GitHub.InstallationID,
		OnSession: func(ctx context.Context, sid string) { st.finished(ctx, sid) },
	})
	if err != nil {
		return nil, nil, err
	}
	return rec, forge, nil
}

// serveDaemon serves the webhook listener and, when configured, the API
// listener with the hub, runs the reconciler until ctx ends, then drains
// both listeners.
func serveDaemon(ctx context.Context, g *globals, cfg config.Config, rec *reconciler.Reconciler, ds daemonStore, src *gitsource.Source, forge reconciler.Forge, onSession func(context.Context, string), log zerolog.Logger) error {
	guard, err := apiGuard(g, cfg)
	if err != nil {
		return err
	}
	web, err := serve("webhook", cfg.Listen, webhookHandler(rec, cfg), log)
	if err != nil {
		return err
	}
	var api *listener
	if cfg.API.Enabled() {
		if !guard.Configured() {
			log.Warn().Str("token_env", cfg.API.TokenEnv).Str("token_file", cfg.API.TokenFile).
				Msg("no API token: the API listener refuses every request")
		}
		mux := apiMux(rec, cfg, guard)
		// Pages served beside the API (the web hub) mount on mux at "/",
		// with their own sign-in.
		hubOn, err := mountHub(g, cfg, mux, ds, src, forge, rec, onSession, log)
		if err != nil {
			return errors.Join(err, web.stop(context.Background()))
		}
		if api, err = serve("api", cfg.API.Listen, mux, log); err != nil {
			return errors.Join(err, web.stop(context.Background()))
		}
		if hubOn {
			log.Info().Str("url", "http://"+api.ln.Addr().String()+hub.Prefix).Msg("serving the hub on the API listener")
		}
	} else if !cfg.Metrics.Public {
		log.Warn().Msg("api.listen is off and metrics.public is false: /metrics is not served")
	}
	log.Info().Str("repository", src.URL()).Msg("daemon serving")
	runErr := rec.Run(ctx)
	shutdown, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	runErr = errors.Join(runErr, web.stop(shutdown), api.stop(shutdown))
	return runErr
}

// newForge is GitHub when configured, else the console on stdout.
func newForge(g *globals, cfg config.Config, src *gitsource.Source, log zerolog.Logger) (reconciler.Forge, func(error) bool, error) {
	if cfg.GitHub.Owner == "" {
		prs := make([]console.PullRequest, len(cfg.Console.PullRequests))
		for i, p := range cfg.Console.PullRequests {
			prs[i] = console.PullRequest{Number: p.Number, Branch: p.Branch, Title: p.Title}
		}
		return console.New(g.stdout, src, cfg.Git.Branch, prs), nil, nil
	}
	token := envOf(g, githubTokenEnv(cfg))
	client, err := github.New(github.Config{
		APIURL: cfg.GitHub.APIURL, Owner: cfg.GitHub.Owner, Repo: cfg.GitHub.Repo, Token: token, Log: log,
	})
	if err != nil {
		return nil, nil, err
	}
	return client, github.IsTransient, nil
}

// githubTokenEnv names the variable of the GitHub token (default GITHUB_TOKEN).
func githubTokenEnv(cfg config.Config) string {
	if cfg.GitHub.TokenEnv == "" {
		return "GITHUB_TOKEN"
	}
	return cfg.GitHub.TokenEnv
}

// cacheDir is git.cache_dir, else "git" beside a SQLite store, else
// .rolecd/git.
func cacheDir(cfg config.Config, storeURL string) string {
	if cfg.Git.CacheDir != "" {
		return cfg.Git.CacheDir
	}
	if path, ok := strings.CutPrefix(storeURL, "sqlite://"); ok {
		return filepath.Join(filepath.Dir(path), "git")
	}
	return filepath.Join(".rolecd", "git")
}

// envOf reads the variable named name ("" when name is empty).
func envOf(g *globals, name string) string {
	if name == "" {
		return ""
	}
	return g.getenv(name)
}

// jsonLogger is the daemon's logger: zerolog JSON lines on stderr.
func (g *globals) jsonLogger() zerolog.Logger {
	level, err := zerolog.ParseLevel(g.logLevel)
	if err != nil || level == zerolog.NoLevel {
		level = zerolog.InfoLevel
	}
	return zerolog.New(g.stderr).Level(level).With().Timestamp().Logger()
}
