package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// result is one row of the summary: one PostgreSQL version, or the check
// that all versions run side by side.
type result struct {
	Label    string // "14" ... "18", or "all"
	Server   string // e.g. 17.10; empty when setup failed
	Package  string // npm package version, or a description
	Outcome  outcome
	SetupErr error // download or check failed: no tests ran
	Duration time.Duration
	Log      string // the go test output file
}

// Status is pass, FAIL, or "setup failed".
func (r result) Status() string {
	switch {
	case r.SetupErr != nil:
		return "SETUP FAILED"
	case r.Outcome.OK():
		return "pass"
	default:
		return "FAIL"
	}
}

// tests describes the counts, e.g. "61 passed, 2 failed".
func (r result) tests() string {
	if r.SetupErr != nil {
		return "-"
	}
	s := fmt.Sprintf("%d passed", r.Outcome.Passed)
	if r.Outcome.Failed > 0 {
		s += fmt.Sprintf(", %d failed", r.Outcome.Failed)
	}
	return s
}

// writeSummary prints the table of results and, below it, what failed.
func writeSummary(w io.Writer, results []result) {
	fmt.Fprintln(w, "\nPostgreSQL test matrix")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "POSTGRESQL\tSERVER\tPACKAGE\tRESULT\tTESTS\tDURATION")
	for _, r := range results {
		server := r.Server
		if server == "" {
			server = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Label, server, r.Package, r.Status(), r.tests(), formatDuration(r.Duration))
	}
	_ = tw.Flush()
	for _, r := range results {
		if r.Status() == "pass" {
			continue
		}
		fmt.Fprintf(w, "\nPostgreSQL %s: %s\n", r.Label, r.Status())
		if r.SetupErr != nil {
			fmt.Fprintf(w, "  %v\n", r.SetupErr)
			continue
		}
		for _, t := range r.Outcome.FailedTests {
			fmt.Fprintf(w, "  --- FAIL: %s\n", t)
		}
		for _, p := range r.Outcome.FailedPkgs {
			fmt.Fprintf(w, "  FAIL %s\n", p)
		}
		if r.Outcome.Err != nil && len(r.Outcome.FailedTests) == 0 && len(r.Outcome.FailedPkgs) == 0 {
			fmt.Fprintf(w, "  %v\n", r.Outcome.Err)
		}
		if r.Log != "" {
			fmt.Fprintf(w, "  log: %s\n", r.Log)
		}
	}
	var failed []string
	for _, r := range results {
		if r.Status() != "pass" {
			failed = append(failed, r.Label)
		}
	}
	if len(failed) == 0 {
		fmt.Fprintf(w, "\nall %d passed\n", len(results))
		return
	}
	fmt.Fprintf(w, "\n%d of %d failed: %s\n", len(failed), len(results), strings.Join(failed, ", "))
}

// formatDuration prints whole seconds, minutes from a minute on: 42s, 2m05s.
func formatDuration(d time.Duration) string {
	d = d.Round(time.Second)
	if d < time.Minute {
		return fmt.Sprintf("%ds", int(d.Seconds()))
	}
	return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
}
