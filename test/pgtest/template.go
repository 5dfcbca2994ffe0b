package pgtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// superuser is the bootstrap superuser of every cluster.
const superuser = "postgres"

// maxSocketDirLen keeps unix_socket_directories short enough for the
// socket path (dir + "/.s.PGSQL.65535") to fit sun_path (107 bytes).
const maxSocketDirLen = 80

// templateSettings are appended to postgresql.conf of the template: a fast,
// throwaway, loopback-only server.
var templateSettings = [][2]string{
	{"listen_addresses", "127.0.0.1"},
	{"password_encryption", "scram-sha-256"},
	{"fsync", "off"},
	{"synchronous_commit", "off"},
	{"full_page_writes", "off"},
	{"wal_level", "minimal"},
	{"max_wal_senders", "0"},
	{"shared_buffers", "16MB"},
	{"autovacuum", "off"},
	{"jit", "off"},
	{"logging_collector", "off"},
	{"timezone", "UTC"},
}

// owner is the OS account that owns the data directories and runs the
// server programs.
type owner struct {
	uid, gid   int
	switchUser bool // true when running as root: children switch to uid/gid
}

// chown gives path to the owner when the harness runs as root.
func (o owner) chown(path string) error {
	if !o.switchUser {
		return nil
	}
	if err := os.Chown(path, o.uid, o.gid); err != nil {
		return fmt.Errorf("chown %s: %w", path, err)
	}
	return nil
}

// runner runs the PostgreSQL programs of one bin directory.
type runner struct {
	binDir string
	owner  owner
	env    []string
}

func newRunner(binDir string) (*runner, error) {
	o, err := lookupOwner()
	if err != nil {
		return nil, err
	}
	return &runner{binDir: binDir, owner: o, env: childEnv(binDir)}, nil
}

// childEnv is the environment of the server programs: no PG* variables
// (PGDATA, PGPORT... would override our flags), the C locale, and
// LD_LIBRARY_PATH=<bin>/../lib when that directory exists (the
// @embedded-postgres builds need it).
func childEnv(binDir string) []string {
	var env []string
	ldPath := ""
	for _, kv := range os.Environ() {
		switch {
		case strings.HasPrefix(kv, "PG"), strings.HasPrefix(kv, "LC_"), strings.HasPrefix(kv, "LANG="):
		case strings.HasPrefix(kv, "LD_LIBRARY_PATH="):
			ldPath = strings.TrimPrefix(kv, "LD_LIBRARY_PATH=")
		default:
			env = append(env, kv)
		}
	}
	env = append(env, "LC_ALL=C", "LANG=C")
	if lib := filepath.Join(filepath.Dir(binDir), "lib"); isDir(lib) {
		if ldPath != "" {
			lib += string(os.PathListSeparator) + ldPath
		}
		ldPath = lib
	}
	if ldPath != "" {
		env = append(env, "LD_LIBRARY_PATH="+ldPath)
	}
	return env
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

// run runs a program of the bin directory as the owner, in dir, and returns
// an error carrying its output when it fails.
func (r *runner) run(ctx context.Context, dir, program string, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(r.binDir, program), args...)
	cmd.Dir = dir
	cmd.Env = r.env
	cmd.SysProcAttr = r.owner.sysProcAttr()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w: %s", program, err, strings.TrimSpace(out.String()))
	}
	return nil
}

// output runs a program of the bin directory as the owner, in dir, and
// returns its standard output; a failure's error carries both outputs.
func (r *runner) output(ctx context.Context, dir, program string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(r.binDir, program), args...)
	cmd.Dir = dir
	cmd.Env = r.env
	cmd.SysProcAttr = r.owner.sysProcAttr()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s: %w: %s", program, err, strings.TrimSpace(stdout.String()+"\n"+stderr.String()))
	}
	return stdout.String(), nil
}

// template is an initdb'ed data directory that clusters are copied from.
type template struct {
	root     string // holds data/ and the password file
	password string // of the superuser
	runner   *runner
}

// templateFormat changes whenever the way templates are built changes, so
// that templates cached by older harness versions are not reused.
const templateFormat = "1"

// templates caches one template per bin directory for the life of the
// process. It is the package's only shared state.
var templates = struct {
	sync.Mutex
	byBinDir map[string]*template
}{byBinDir: map[string]*template{}}

// getTemplate returns the template for binDir. Templates are also cached
// across processes, as template-<version>-<key> in the base directory
// (version: what postgres --version says; key: version, bin directory,
// postgres binary size and mtime, templateFormat), so initdb runs at most
// once per test process, and usually once per machine and PostgreSQL build;
// one template per build is all that is left behind. Bin directories of
// several versions have templates of their own, side by side.
func getTemplate(ctx context.Context, binDir string) (*template, error) {
	templates.Lock()
	defer templates.Unlock()
	if t, ok := templates.byBinDir[binDir]; ok {
		return t, nil
	}
	t, err := loadOrBuildTemplate(ctx, binDir)
	if err != nil {
		return nil, err
	}
	templates.byBinDir[binDir] = t
	return t, nil
}

func loadOrBuildTemplate(ctx context.Context, binDir string) (*template, error) {
	r, err := newRunner(binDir)
	if err != nil {
		return nil, err
	}
	base, err := baseDir()
	if err != nil {
		return nil, err
	}
	collectGarbage(ctx, base, r)
	version, err := r.programVersion(ctx, "postgres")
	if err != nil {
		return nil, fmt.Errorf("identifying PostgreSQL build: %w", err)
	}
	key, err := templateKey(binDir, version)
	if err != nil {
		return nil, err
	}
	root := filepath.Join(base, "template-"+version+"-"+key)
	switch t, err := loadTemplate(root, r); {
	case err == nil:
		return t, nil
	case errors.Is(err, errDamaged):
		// Incomplete or damaged: move it aside and build a new one.
		if err := discard(base, root); err != nil {
			return nil, err
		}
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("opening template: %w", err)
	}
	build, err := os.MkdirTemp(base, fmt.Sprintf("build-%d-", os.Getpid()))
	if err != nil {
		return nil, fmt.Errorf("creating template directory: %w", err)
	}
	if err := buildTemplate(ctx, r, build); err != nil {
		_ = os.RemoveAll(build)
		return nil, err
	}
	// Publish atomically; when another process published first, use its.
	if err := os.Rename(build, root); err != nil {
		_ = os.RemoveAll(build)
		if t, loadErr := loadTemplate(root, r); loadErr == nil {
			return t, nil
		}
		return nil, fmt.Errorf("publishing template: %w", err)
	}
	return loadTemplate(root, r)
}

// templateKey identifies a PostgreSQL build: its version and where and
// what its postgres binary is.
func templateKey(binDir, version string) (string, error) {
	fi, err := os.Stat(filepath.Join(binDir, "postgres"))
	if err != nil {
		return "", fmt.Errorf("identifying PostgreSQL build: %w", err)
	}
	sum := sha256.Sum256(fmt.Appendf(nil, "%s\x00%s\x00%d\x00%d\x00%s", version, binDir, fi.Size(), fi.ModTime().UnixNano(), templateFormat))
	return hex.EncodeToString(sum[:8]), nil
}

// loadTemplate opens a published template; os.ErrNotExist when there is none.
func loadTemplate(root string, r *runner) (*template, error) {
	if _, err := os.Stat(root); err != nil {
		return nil, err
	}
	for _, f := range []string{"data/PG_VERSION", "data/global/pg_control", "data/postgresql.conf"} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			return nil, fmt.Errorf("template %s is incomplete: %w", root, errors.Join(err, errDamaged))
		}
	}
	pw, err := os.ReadFile(filepath.Join(root, passwordFile))
	if err != nil || len(bytes.TrimSpace(pw)) == 0 {
		return nil, fmt.Errorf("template %s has no password: %w", root, errors.Join(err, errDamaged))
	}
	return &template{root: root, password: string(bytes.TrimSpace(pw)), runner: r}, nil
}

// errDamaged marks a template that exists but cannot be used.
var errDamaged = errors.New("damaged template")

// discard moves a damaged template out of the way and removes it.
func discard(base, root string) error {
	trash, err := os.MkdirTemp(base, fmt.Sprintf("build-%d-", os.Getpid()))
	if err != nil {
		return fmt.Errorf("discarding damaged template: %w", err)
	}
	if err := os.Rename(root, filepath.Join(trash, "old")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("discarding damaged template: %w", err)
	}
	if err := os.RemoveAll(trash); err != nil {
		return fmt.Errorf("discarding damaged template: %w", err)
	}
	return nil
}

// passwordFile holds the template's superuser password, readable by the
// harness's user only.
const passwordFile = "password"

// buildTemplate runs initdb into root/data and writes root/password.
func buildTemplate(ctx context.Context, r *runner, root string) error {
	if err := os.Chmod(root, 0o755); err != nil {
		return fmt.Errorf("chmod %s: %w", root, err)
	}
	password, err := randomHex(24)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(root, passwordFile), []byte(password+"\n"), 0o600); err != nil {
		return fmt.Errorf("writing password file: %w", err)
	}
	// initdb reads the password from a file it can open, then it goes.
	work, err := os.MkdirTemp(root, "work-")
	if err != nil {
		return fmt.Errorf("creating initdb work directory: %w", err)
	}
	defer os.RemoveAll(work)
	pwfile := filepath.Join(work, "pwfile")
	if err := os.WriteFile(pwfile, []byte(password+"\n"), 0o600); err != nil {
		return fmt.Errorf("writing initdb password file: %w", err)
	}
	data := filepath.Join(root, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		return fmt.Errorf("creating template data directory: %w", err)
	}
	for _, p := range []string{work, pwfile, data} {
		if err := r.owner.chown(p); err != nil {
			return err
		}
	}
	err = r.run(ctx, work, "initdb", "-D", data, "-U", superuser,
		"--auth-host=scram-sha-256", "--auth-local=trust", "--pwfile="+pwfile,
		"-E", "UTF8", "--locale=C", "--no-sync")
	if err != nil {
		return fmt.Errorf("initdb: %w", err)
	}
	return appendSettings(filepath.Join(data, "postgresql.conf"), templateSettings)
}

// baseDir returns the directory that holds templates and clusters,
// enterable by the server's OS user: rolecd-pgtest-<uid> in /dev/shm when it
// is a roomy tmpfs (see fastTempDir), else in $TMPDIR (or /tmp when $TMPDIR
// is too long for a unix socket path).
func baseDir() (string, error) {
	tmp := fastTempDir()
	if tmp == "" {
		tmp = os.TempDir()
	}
	if len(tmp) > maxSocketDirLen-40 {
		tmp = "/tmp"
	}
	base := filepath.Join(tmp, fmt.Sprintf("rolecd-pgtest-%d", os.Geteuid()))
	if err := os.MkdirAll(base, 0o755); err != nil {
		return "", fmt.Errorf("creating %s: %w", base, err)
	}
	fi, err := os.Lstat(base)
	if err != nil {
		return "", fmt.Errorf("checking %s: %w", base, err)
	}
	if uid, ok := fileOwnerUID(fi); !fi.IsDir() || (ok && uid != os.Geteuid()) {
		return "", fmt.Errorf("%s is not a directory owned by uid %d", base, os.Geteuid())
	}
	if err := os.Chmod(base, 0o755); err != nil {
		return "", fmt.Errorf("chmod %s: %w", base, err)
	}
	return base, nil
}

// collectGarbage removes the clusters and half-built templates left behind
// by test processes that died without cleaning up (killed on timeout, say).
// Entries are named c-<pid>-<random> and build-<pid>-<random>; only those of
// dead processes are touched.
func collectGarbage(ctx context.Context, base string, r *runner) {
	entries, err := os.ReadDir(base)
	if err != nil {
		return
	}
	for _, e := range entries {
		parts := strings.SplitN(e.Name(), "-", 3)
		if len(parts) != 3 || (parts[0] != "build" && parts[0] != "c") {
			continue
		}
		pid, err := strconv.Atoi(parts[1])
		if err != nil || pid == os.Getpid() || processAlive(pid) {
			continue
		}
		dir := filepath.Join(base, e.Name())
		data := filepath.Join(dir, "data")
		if _, err := os.Stat(filepath.Join(data, "postmaster.pid")); err == nil {
			_ = r.run(ctx, dir, "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
		}
		_ = os.RemoveAll(dir)
	}
}

// appendSettings appends name = 'value' lines to a postgresql.conf; later
// lines override earlier ones.
func appendSettings(conf string, settings [][2]string) error {
	var b strings.Builder
	b.WriteString("\n# rolecd test harness\n")
	for _, s := range settings {
		if err := validSetting(s[0], s[1]); err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s = '%s'\n", s[0], quoteConfValue(s[1]))
	}
	f, err := os.OpenFile(conf, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("opening %s: %w", conf, err)
	}
	if _, err := f.WriteString(b.String()); err != nil {
		_ = f.Close()
		return fmt.Errorf("writing %s: %w", conf, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", conf, err)
	}
	return nil
}

// validSetting accepts setting names made of [a-z0-9_.] and one-line values.
func validSetting(name, value string) error {
	if name == "" {
		return errors.New("empty setting name")
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.') {
			return fmt.Errorf("invalid setting name %q", name)
		}
	}
	if strings.ContainsAny(value, "\n\r\x00") {
		return fmt.Errorf("setting %s: value must be a single line", name)
	}
	return nil
}

// quoteConfValue escapes a value for a single-quoted postgresql.conf string.
func quoteConfValue(v string) string {
	return strings.NewReplacer(`\`, `\\`, `'`, `''`).Replace(v)
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating random bytes: %w", err)
	}
	return hex.EncodeToString(b), nil
}
