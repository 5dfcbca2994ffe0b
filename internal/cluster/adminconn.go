package cluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rolecd/rolecd/planner/catalog"
	"github.com/rolecd/rolecd/planner/spec"
)

// DefaultConnectTimeout bounds each connection attempt.
const DefaultConnectTimeout = 10 * time.Second

// Dialer builds admin connections. The zero value reads the process
// environment and the file system.
type Dialer struct {
	// Getenv defaults to os.Getenv.
	Getenv func(string) string
	// ReadFile defaults to os.ReadFile.
	ReadFile func(string) ([]byte, error)
	// ConnectTimeout defaults to DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// Stored returns the admin credential kept in the store (`rolecd admin
	// set`) for a resource whose files name neither password_env nor
	// password_file; ok is false when there is none. A stored credential
	// brings its own user. Nil means no store.
	Stored func(ctx context.Context, resource string) (user, password string, ok bool, err error)
	// Policy allow-lists password_env, password_file and password_command
	// (rolecd.yaml credentials:); rolecd's commands always set it. A
	// password file must also resolve, symbolic links followed, inside
	// one of its directories. Nil skips the checks.
	Policy *spec.CredentialPolicy
	// Commands are the configured password commands, by name.
	Commands map[string]Command
	// CommandCache, when set, reuses a command's output for a while
	// instead of running it for every connection.
	CommandCache *CommandCache
	// Environ is the environment of password commands, before rolecd's
	// own variables are removed; default os.Environ.
	Environ func() []string
}

// Config returns the connection configuration for database on res.
func (d Dialer) Config(res spec.Resource, database string) (*pgx.ConnConfig, error) {
	return d.config(context.Background(), res, database)
}

func (d Dialer) config(ctx context.Context, res spec.Resource, database string) (*pgx.ConnConfig, error) {
	timeout := d.ConnectTimeout
	if timeout <= 0 {
		timeout = DefaultConnectTimeout
	}
	pairs := []string{
		kv("host", res.Host),
		kv("port", strconv.Itoa(res.Port)),
		kv("user", res.Admin.User),
		kv("dbname", database),
		kv("sslmode", res.SSLMode),
		kv("application_name", "rolecd"),
		kv("connect_timeout", strconv.Itoa(int((timeout+time.Second-1)/time.Second))),
	}
	if res.SSLRootCert != "" {
		pairs = append(pairs, kv("sslrootcert", res.SSLRootCert))
	}
	dsn := strings.Join(pairs, " ")
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("resource %s: connection settings: %w", res.Name, err)
	}
	password, err := d.password(ctx, res, database)
	if err != nil {
		return nil, err
	}
	if password == "" && d.Stored != nil {
		user, pw, ok, err := d.Stored(ctx, res.Name)
		if err != nil {
			return nil, fmt.Errorf("resource %s: stored admin credential: %w", res.Name, err)
		}
		if ok {
			cfg.User, password = user, pw
		}
	}
	if password != "" {
		cfg.Password = password
	}
	requireAuth(cfg, res)
	return cfg, nil
}

func (d Dialer) password(ctx context.Context, res spec.Resource, database string) (string, error) {
	if d.Policy != nil {
		if err := d.Policy.CheckConnection(res.Connection()); err != nil {
			return "", fmt.Errorf("resource %s: %w", res.Name, err)
		}
	}
	switch {
	case res.Admin.PasswordEnv != "":
		getenv := d.Getenv
		if getenv == nil {
			getenv = os.Getenv
		}
		pw := getenv(res.Admin.PasswordEnv)
		if pw == "" {
			return "", fmt.Errorf("resource %s: admin password: environment variable %s is not set", res.Name, res.Admin.PasswordEnv)
		}
		return pw, nil
	case res.Admin.PasswordFile != "":
		path := res.Admin.PasswordFile
		if d.Policy != nil {
			resolved, err := d.resolveFile(path)
			if err != nil {
				return "", fmt.Errorf("resource %s: admin password_file: %w", res.Name, err)
			}
			path = resolved
		}
		read := d.ReadFile
		if read == nil {
			read = os.ReadFile
		}
		b, err := read(path)
		if err != nil {
			return "", fmt.Errorf("resource %s: admin password file: %w", res.Name, err)
		}
		pw := strings.TrimRight(string(b), "\r\n")
		if pw == "" {
			return "", fmt.Errorf("resource %s: admin password file %s is empty", res.Name, res.Admin.PasswordFile)
		}
		return pw, nil
	case res.Admin.PasswordCommand != "":
		return d.runCommand(ctx, res, database, res.Admin.PasswordCommand)
	}
	return "", nil
}

// resolveFile resolves path's symbolic links and checks that the result
// is still inside one of the policy's directories (themselves resolved), so
// a link planted inside an allowed directory cannot point outside it. It
// returns the resolved path, which is what is read.
func (d Dialer) resolveFile(path string) (string, error) {
	resolved, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", fmt.Errorf("resolving the password file: %w", err)
	}
	var dirs []string
	for _, dir := range d.Policy.FileDirs {
		if r, err := filepath.EvalSymlinks(dir); err == nil {
			dirs = append(dirs, r)
		}
	}
	for _, f := range d.Policy.ReservedFiles {
		if r, err := filepath.EvalSymlinks(f); err == nil && r == resolved {
			return "", fmt.Errorf("%w: %s resolves to one of rolecd's own secret files, never an admin password", spec.ErrNotAllowed, path)
		}
	}
	if !spec.UnderDirs(resolved, dirs) {
		return "", fmt.Errorf("%w: %s resolves to %s, outside credentials.file_dirs (%s)", spec.ErrNotAllowed, path, resolved, strings.Join(d.Policy.FileDirs, ", "))
	}
	return resolved, nil
}

// Connect opens one admin connection to database on res.
func (d Dialer) Connect(ctx context.Context, res spec.Resource, database string) (*pgx.Conn, error) {
	cfg, err := d.config(ctx, res, database)
	if err != nil {
		return nil, err
	}
	var watch authWatch
	watch.install(cfg)
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if method, refused := watch.refused(); err != nil && refused && !res.Admin.AllowCleartext {
		return nil, &AuthRefusedError{Resource: res.Name, Endpoint: fmt.Sprintf("%s:%d", res.Host, res.Port), Method: method, Err: err}
	}
	if err != nil {
		return nil, fmt.Errorf("resource %s: connecting to %s:%d database %q as %q: %w",
			res.Name, res.Host, res.Port, database, cfg.User, unwrapConnect(err))
	}
	return conn, nil
}

// Connector adapts Connect to catalog.Inspect.
func (d Dialer) Connector(res spec.Resource) catalog.Connector {
	return func(ctx context.Context, database string) (*pgx.Conn, error) {
		return d.Connect(ctx, res, database)
	}
}

// Health connects to res's maintenance database and returns its
// server_version.
func (d Dialer) Health(ctx context.Context, res spec.Resource) (string, error) {
	conn, err := d.Connect(ctx, res, res.Database)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var version string
	if err := conn.QueryRow(ctx, "SELECT current_setting('server_version')").Scan(&version); err != nil {
		return "", fmt.Errorf("resource %s: reading server version: %w", res.Name, err)
	}
	return version, nil
}

// kv renders one libpq keyword/value pair with the value quoted.
func kv(key, value string) string {
	value = strings.ReplaceAll(value, `\`, `\\`)
	value = strings.ReplaceAll(value, `'`, `\'`)
	return key + "='" + value + "'"
}

// unwrapConnect drops pgx's "failed to connect to `user=... database=...`:"
// preamble, which repeats what our own message already says.
func unwrapConnect(err error) error {
	msg := err.Error()
	if i := strings.Index(msg, "`: "); strings.HasPrefix(msg, "failed to connect to `") && i > 0 {
		return &trimmed{msg: msg[i+3:], err: err}
	}
	return err
}

type trimmed struct {
	msg string
	err error
}

func (t *trimmed) Error() string { return t.msg }
func (t *trimmed) Unwrap() error { return t.err }
