package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/rolecd/rolecd/internal/cluster"
	"github.com/rolecd/rolecd/internal/config"
	"github.com/rolecd/rolecd/internal/credentials"
	"github.com/rolecd/rolecd/planner/spec"
	"github.com/rolecd/rolecd/reporter/audit"
	"github.com/rolecd/rolecd/store"
)

// auditDrainTimeout bounds how long a CLI command waits, on exit, for its
// sessions to reach the SIEM; what is left is recorded as failed delivery.
const auditDrainTimeout = 30 * time.Second

// state is the store, the keeper of the secrets in it, and the audit export.
type state struct {
	store    store.Store
	keeper   *credentials.Keeper
	exporter *audit.Exporter
	actor    string
}

// storeURL is --store, else the config's store.
func (g *globals) storeURL(cfg config.Config) string {
	if g.store != "" {
		return g.store
	}
	return cfg.Store
}

// defaultKeyFile is the key file beside an SQLite store; "" for others.
func defaultKeyFile(url string) string {
	path, ok := strings.CutPrefix(url, "sqlite://")
	if !ok {
		return ""
	}
	return filepath.Join(filepath.Dir(path), "secret.key")
}

// openState opens the store and loads the secret key.
func (g *globals) openState(ctx context.Context, cfg config.Config) (*state, error) {
	url := g.storeURL(cfg)
	st, err := store.Open(ctx, url)
	if err != nil {
		return nil, err
	}
	key, created, err := credentials.LoadKey(g.getenv, cfg.SecretKeyFile, defaultKeyFile(url))
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("secret key: %w", err)
	}
	if created {
		log := g.logger()
		log.Warn().Str("file", defaultKeyFile(url)).Msg("created a new secret key for stored passwords: back it up with the store, they cannot be read without it")
	}
	cipher, err := credentials.NewCipher(key)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("secret key: %w", err)
	}
	s := &state{store: st, keeper: credentials.NewKeeper(cipher), actor: actor()}
	if cfg.Audit.File != "" || cfg.Audit.WebhookURL != "" {
		var secret []byte
		if cfg.Audit.WebhookSecretEnv != "" {
			secret = []byte(g.getenv(cfg.Audit.WebhookSecretEnv))
		}
		s.exporter, err = audit.New(audit.Config{
			File: cfg.Audit.File, WebhookURL: cfg.Audit.WebhookURL, Secret: secret, Log: g.logger(),
			OnFailure: func(sid string, err error) { s.recordAuditFailure(sid, err) },
		})
		if err != nil {
			st.Close()
			return nil, fmt.Errorf("audit export: %w", err)
		}
	}
	return s, nil
}

// treeAndState loads the role files and opens the store: what most
// commands need. The caller closes the state.
func (g *globals) treeAndState(ctx context.Context) (*spec.Tree, config.Config, *state, error) {
	tree, cfg, _, err := g.loadTree()
	if err != nil {
		return nil, cfg, nil, err
	}
	st, err := g.openState(ctx, cfg)
	return tree, cfg, st, err
}

// configState opens the store of the configuration, for commands that do
// not read role files.
func (g *globals) configState(ctx context.Context) (*state, error) {
	cfg, err := g.loadConfig()
	if err != nil {
		return nil, err
	}
	return g.openState(ctx, cfg)
}

// recordAuditFailure records a failed SIEM delivery as a session of its own.
func (s *state) recordAuditFailure(sid string, err error) {
	now := time.Now().UTC()
	_ = s.store.CreateSession(context.Background(), &store.Session{
		SID: uuid.NewString(), Kind: store.KindAudit, Status: store.StatusFailed, Actor: s.actor,
		Detail: mustJSON(map[string]string{"session": sid}), Error: "audit delivery of session " + sid + " failed: " + err.Error(),
		StartedAt: now, FinishedAt: now,
	})
}

// finished exports a finished session (never blocking).
func (s *state) finished(ctx context.Context, sid string) {
	if s.exporter == nil {
		return
	}
	sess, err := s.store.GetSession(ctx, sid)
	if err != nil {
		s.recordAuditFailure(sid, err)
		return
	}
	s.exporter.Export(*sess)
}

// record creates a finished session and exports it.
func (s *state) record(ctx context.Context, sess *store.Session) error {
	if sess.SID == "" {
		sess.SID = uuid.NewString()
	}
	if sess.Actor == "" {
		sess.Actor = s.actor
	}
	if err := s.store.CreateSession(ctx, sess); err != nil {
		return fmt.Errorf("recording %s session: %w", sess.Kind, err)
	}
	s.finished(ctx, sess.SID)
	return nil
}

func (s *state) close() {
	if s.exporter != nil {
		ctx, cancel := context.WithTimeout(context.Background(), auditDrainTimeout)
		defer cancel()
		_ = s.exporter.Close(ctx)
	}
	s.store.Close()
}

// roleCredentials returns a role's stored password versions, newest
// first; none when it has none.
func (s *state) roleCredentials(ctx context.Context, role string) ([]store.Credential, error) {
	versions, err := s.store.Credentials(ctx, role)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return versions, err
}

// commandCacheTTL is how long a password command's output is reused: one
// plan or apply connects once per database, and IAM tokens last minutes.
const commandCacheTTL = time.Minute

// passwordCheck decides password resets of existing roles against the
// passwords s keeps, over dialer's connections.
func (s *state) passwordCheck(dialer cluster.Dialer) cluster.PasswordCheck {
	return cluster.Passwords{Credentials: s.roleCredentials, Keeper: s.keeper, Connect: dialer.Connect}.Check
}

// dialer is an cluster.Dialer with the configuration's credential policy
// and password commands, that also finds admin credentials in the store.
func (g *globals) dialer(s *state, cfg config.Config) cluster.Dialer {
	d := cluster.Dialer{Getenv: g.getenv, Policy: cfg.CredentialPolicy(), Commands: map[string]cluster.Command{},
		CommandCache: cluster.NewCommandCache(commandCacheTTL)}
	for name, c := range cfg.Credentials.Commands {
		d.Commands[name] = cluster.Command{Argv: c.Argv, Timeout: c.Timeout}
	}
	if s != nil {
		d.Stored = func(ctx context.Context, resource string) (string, string, bool, error) {
			c, err := s.store.GetAdmin(ctx, resource)
			if errors.Is(err, store.ErrNotFound) {
				return "", "", false, nil
			}
			if err != nil {
				return "", "", false, err
			}
			pw, err := s.keeper.OpenAdmin(resource, c.Ciphertext)
			if err != nil {
				return "", "", false, err
			}
			return c.User, pw, true, nil
		}
	}
	return d
}

// actor names who runs rolecd: user@host.
func actor() string {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	return name + "@" + host
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only called with plain maps and structs
	}
	return b
}
