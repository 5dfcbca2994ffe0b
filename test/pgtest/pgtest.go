// Package pgtest starts throwaway PostgreSQL clusters for tests and demos:
// loopback-only, SCRAM password authentication over TCP, fsync off, each in
// its own data directory copied from a template data directory. initdb runs
// at most once per process and PostgreSQL build: the template is cached,
// across processes too and keyed by version, under rolecd-pgtest-<uid> in
// /dev/shm (when it is a roomy tmpfs) or $TMPDIR. It runs the installed
// server binaries (see BinDir), or those of Config.BinDir, so clusters of
// several versions can run at once; as root it runs them as the postgres
// OS user. Where no binaries exist and none were named, but a Docker engine
// answers, it runs a PostgreSQL container instead (see EnvImage).
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// startTimeout bounds pg_ctl -w start and stop, in seconds.
const startTimeout = 60

// portAttempts is how often a start is retried when another process took
// the free port we picked before the server could bind it.
const portAttempts = 5

// logFile is the server log, inside the data directory.
const logFile = "server.log"

// Config adjusts a cluster.
type Config struct {
	// Settings are extra postgresql.conf settings, e.g. log_statement=all.
	Settings map[string]string
	// Port is the TCP port on 127.0.0.1; 0 picks a free one. A fixed port
	// that is taken fails the start.
	Port int
	// BinDir is the PostgreSQL bin directory to run; empty: BinDir(). Set,
	// it is used as it is (never a container instead), so clusters of
	// several PostgreSQL versions can run side by side in one process.
	BinDir string
}

// Cluster is one running throwaway PostgreSQL cluster.
type Cluster struct {
	Host       string // always 127.0.0.1
	Port       int
	User       string // the bootstrap superuser
	Password   string
	DataDir    string // empty for a container
	BinDir     string // empty for a container
	VersionNum int    // server_version_num, e.g. 150018

	dir    string // holds DataDir; removed by Stop
	runner *runner
	ctr    containerHandle // non-nil for a container

	mu      sync.Mutex
	stopped bool
}

// StartCluster starts a new cluster and returns when it accepts password
// connections on 127.0.0.1. The caller must call Stop. It runs the binaries
// of cfg.BinDir, else of BinDir(); only when BinDir() finds none and none
// was named does it look for a Docker engine and run a container of
// EnvImage there.
func StartCluster(ctx context.Context, cfg Config) (*Cluster, error) {
	return startCluster(ctx, cfg, BinDir, dockerEngineUp)
}

// startCluster is StartCluster with the lookup of the default bin directory
// and the Docker engine check as parameters.
func startCluster(ctx context.Context, cfg Config, findBinDir func() (string, error), dockerUp func(context.Context) error) (*Cluster, error) {
	var binDir string
	var err error
	if cfg.BinDir != "" {
		binDir, err = explicitBinDir(cfg.BinDir)
	} else {
		binDir, err = findBinDir()
	}
	switch b, err := chooseBackend(ctx, err, dockerUp); {
	case err != nil:
		return nil, err
	case b == backendDocker:
		return startContainer(ctx, cfg)
	}
	tmpl, err := getTemplate(ctx, binDir)
	if err != nil {
		return nil, fmt.Errorf("preparing template cluster: %w", err)
	}
	base := filepath.Dir(tmpl.root)
	dir, err := os.MkdirTemp(base, fmt.Sprintf("c-%d-", os.Getpid()))
	if err != nil {
		return nil, fmt.Errorf("creating cluster directory: %w", err)
	}
	c := &Cluster{
		Host:     "127.0.0.1",
		User:     superuser,
		Password: tmpl.password,
		DataDir:  filepath.Join(dir, "data"),
		BinDir:   binDir,
		dir:      dir,
		runner:   tmpl.runner,
	}
	if err := c.start(ctx, tmpl, cfg); err != nil {
		if stopErr := c.Stop(); stopErr != nil {
			err = errors.Join(err, stopErr)
		}
		return nil, err
	}
	return c, nil
}

func (c *Cluster) start(ctx context.Context, tmpl *template, cfg Config) error {
	if err := c.runner.owner.chown(c.dir); err != nil {
		return err
	}
	// cp -a keeps modes and, run as root, ownership.
	cp := exec.CommandContext(ctx, "cp", "-a", filepath.Join(tmpl.root, "data"), c.DataDir)
	if out, err := cp.CombinedOutput(); err != nil {
		return fmt.Errorf("copying template: %w: %s", err, strings.TrimSpace(string(out)))
	}
	settings := [][2]string{{"unix_socket_directories", c.DataDir}}
	names := make([]string, 0, len(cfg.Settings))
	for name := range cfg.Settings {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		settings = append(settings, [2]string{name, cfg.Settings[name]})
	}
	if err := appendSettings(filepath.Join(c.DataDir, "postgresql.conf"), settings); err != nil {
		return fmt.Errorf("configuring cluster: %w", err)
	}
	var err error
	for attempt := 0; attempt < portAttempts; attempt++ {
		if c.Port = cfg.Port; c.Port == 0 {
			if c.Port, err = freePort(); err != nil {
				return err
			}
		}
		var retry bool
		if retry, err = c.pgCtlStart(ctx); err == nil || !retry || cfg.Port != 0 {
			break
		}
	}
	if err != nil {
		return err
	}
	return c.readVersion(ctx)
}

// pgCtlStart runs pg_ctl start; retry is true when the port was taken.
func (c *Cluster) pgCtlStart(ctx context.Context) (retry bool, err error) {
	logPath := filepath.Join(c.DataDir, logFile)
	var offset int64
	if fi, err := os.Stat(logPath); err == nil {
		offset = fi.Size()
	}
	err = c.runner.run(ctx, c.dir, "pg_ctl", "-D", c.DataDir, "-l", logPath,
		"-w", "-t", strconv.Itoa(startTimeout), "-o", "-p "+strconv.Itoa(c.Port), "start")
	if err == nil {
		return false, nil
	}
	log, _ := os.ReadFile(logPath)
	if offset <= int64(len(log)) {
		log = log[offset:]
	}
	retry = strings.Contains(string(log), "could not bind") || strings.Contains(string(log), "Address already in use")
	return retry, fmt.Errorf("starting cluster on port %d: %w\nserver log:\n%s", c.Port, err, tail(string(log), 20))
}

func (c *Cluster) readVersion(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.ConnString("postgres"))
	if err != nil {
		return fmt.Errorf("connecting to new cluster: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if err := conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&c.VersionNum); err != nil {
		return fmt.Errorf("reading server_version_num: %w", err)
	}
	return nil
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	return port, nil
}

// Stop stops the server and removes its data directory. It is idempotent.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return nil
	}
	c.stopped = true
	if c.ctr != nil {
		return c.stopContainer()
	}
	var errs []error
	if _, err := os.Stat(filepath.Join(c.DataDir, "postmaster.pid")); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), startTimeout*time.Second)
		defer cancel()
		if err := c.runner.run(ctx, c.dir, "pg_ctl", "-D", c.DataDir, "-m", "immediate",
			"-w", "-t", strconv.Itoa(startTimeout), "stop"); err != nil {
			errs = append(errs, fmt.Errorf("stopping cluster on port %d: %w", c.Port, err))
		}
	}
	if err := os.RemoveAll(c.dir); err != nil {
		errs = append(errs, fmt.Errorf("removing cluster directory: %w", err))
	}
	return errors.Join(errs...)
}

// ConnString returns a keyword/value connection string (libpq and pgx) for
// the superuser over TCP with password authentication.
func (c *Cluster) ConnString(database string) string {
	return fmt.Sprintf("host=%s port=%d user=%s password=%s dbname=%s sslmode=disable",
		c.Host, c.Port, quoteConnValue(c.User), quoteConnValue(c.Password), quoteConnValue(database))
}

// quoteConnValue single-quotes a connection-string value.
func quoteConnValue(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// ServerLog returns the server log so far (a container's: its output).
func (c *Cluster) ServerLog() (string, error) {
	if c.ctr != nil {
		return c.containerLog()
	}
	b, err := os.ReadFile(filepath.Join(c.DataDir, logFile))
	if err != nil {
		return "", fmt.Errorf("reading server log: %w", err)
	}
	return string(b), nil
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
