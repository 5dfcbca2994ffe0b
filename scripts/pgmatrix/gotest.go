package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// pgtestPackage is the harness; a package whose tests reach it needs
// PostgreSQL.
const pgtestPackage = "github.com/rolecd/rolecd/test/pgtest"

// selfPackage is pgmatrix: its tests check builds, never start a server.
const selfPackage = "github.com/rolecd/rolecd/scripts/pgmatrix"

// goTool runs the go command in the module's directory.
type goTool struct {
	Go  string // the go command
	Dir string // the module's root directory
}

// postgresPackages lists the packages whose tests use PostgreSQL: the
// harness and every package whose test binary depends on it.
func (g goTool) postgresPackages(ctx context.Context) ([]string, error) {
	cmd := exec.CommandContext(ctx, g.Go, "list", "-test", "-f",
		`{{.ForTest}}|{{.ImportPath}}|{{join .Deps " "}}`, "./...")
	cmd.Dir = g.Dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %w: %s", err, lastLines(stderr.String(), 10))
	}
	return selectPostgresPackages(string(out)), nil
}

// selectPostgresPackages picks, from `go list -test` lines
// "ForTest|ImportPath|Deps", the packages under test whose test variant
// depends on the harness (or is the harness), except pgmatrix itself.
func selectPostgresPackages(list string) []string {
	var pkgs []string
	for _, line := range strings.Split(list, "\n") {
		forTest, rest, ok := strings.Cut(line, "|")
		if !ok || forTest == "" {
			continue
		}
		_, deps, _ := strings.Cut(rest, "|")
		if forTest == selfPackage {
			continue
		}
		if forTest == pgtestPackage || slices.Contains(strings.Fields(deps), pgtestPackage) {
			pkgs = append(pkgs, forTest)
		}
	}
	slices.Sort(pkgs)
	return slices.Compact(pkgs)
}

// testEvent is one line of go test -json.
type testEvent struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
	// FailedBuild names the package that did not build, on a package's
	// fail event.
	FailedBuild string
}

// outcome is what one go test run did.
type outcome struct {
	Passed, Failed int      // top-level tests
	FailedTests    []string // "package Test/sub", innermost failures only
	FailedPkgs     []string // packages that failed without a failing test, with the reason

	Err error // go test's own error (exit status) when it failed
}

// OK reports whether everything passed.
func (o outcome) OK() bool {
	return o.Err == nil && o.Failed == 0 && len(o.FailedPkgs) == 0
}

// goTestRun is one go test invocation.
type goTestRun struct {
	Args     []string  // after "go test -json"
	Env      []string  // added to the environment
	Log      io.Writer // the whole output, as text
	Progress io.Writer // one line per package
}

// test runs go test -json and reads its events.
func (g goTool) test(ctx context.Context, r goTestRun) outcome {
	cmd := exec.CommandContext(ctx, g.Go, append([]string{"test", "-json"}, r.Args...)...)
	cmd.Dir = g.Dir
	cmd.Env = append(os.Environ(), r.Env...)
	// On cancellation let go test stop its test binaries (and their
	// clusters) itself before it is killed.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGINT) }
	cmd.WaitDelay = 30 * time.Second
	// go test's stderr and the events' output meet in one log.
	log := &lockedWriter{w: r.Log}
	cmd.Stderr = log
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return outcome{Err: err}
	}
	if err := cmd.Start(); err != nil {
		return outcome{Err: fmt.Errorf("starting go test: %w", err)}
	}
	o := readEvents(stdout, log, r.Progress)
	if err := cmd.Wait(); err != nil {
		o.Err = fmt.Errorf("go test: %w", err)
	}
	return o
}

// lockedWriter serialises writes from several goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// readEvents reads a go test -json stream: it writes the output to log,
// a line per finished package to progress, and counts the results.
func readEvents(r io.Reader, log, progress io.Writer) outcome {
	var o outcome
	var failed []string
	failedTests := map[string]bool{} // packages with a failed test
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var e testEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.Action == "" {
			fmt.Fprintln(log, sc.Text()) // not an event: keep it as it is
			continue
		}
		switch e.Action {
		case "output", "build-output":
			io.WriteString(log, e.Output)
		case "pass", "fail":
			switch {
			case e.Test == "" && e.Action == "fail":
				fmt.Fprintf(progress, "    FAIL %s (%.1fs)\n", e.Package, e.Elapsed)
				switch {
				case e.FailedBuild != "":
					o.FailedPkgs = append(o.FailedPkgs, e.Package+": build failed ("+e.FailedBuild+")")
				case !failedTests[e.Package]:
					o.FailedPkgs = append(o.FailedPkgs, e.Package+": failed without a failing test (panic, timeout or setup)")
				}
			case e.Test == "":
				fmt.Fprintf(progress, "    ok   %s (%.1fs)\n", e.Package, e.Elapsed)
			case e.Action == "fail":
				failed = append(failed, e.Package+" "+e.Test)
				failedTests[e.Package] = true
				if !strings.Contains(e.Test, "/") {
					o.Failed++
				}
			case !strings.Contains(e.Test, "/"):
				o.Passed++
			}
		}
	}
	if err := sc.Err(); err != nil {
		o.Err = fmt.Errorf("reading go test output: %w", err)
	}
	o.FailedTests = innermost(failed)
	return o
}

// innermost drops each failed test that is the parent of another failed
// one ("pkg T" when "pkg T/sub" failed too).
func innermost(failed []string) []string {
	var out []string
	for _, f := range failed {
		parent := slices.ContainsFunc(failed, func(g string) bool { return strings.HasPrefix(g, f+"/") })
		if !parent {
			out = append(out, f)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// moduleDir returns the directory of the main module.
func moduleDir(ctx context.Context, goCmd string) (string, error) {
	out, err := exec.CommandContext(ctx, goCmd, "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the rolecd module: run pgmatrix from the repository")
	}
	return strings.TrimSuffix(gomod, "/go.mod"), nil
}
