package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/rolecd/rolecd/store"
)

// Set by the Makefile (go build -ldflags "-X main.version=... -X main.commit=...");
// otherwise taken from the build information Go embeds.
var (
	version = ""
	commit  = ""
)

// versionString is what `rolecd version` and `rolecd --version` print:
// the version, the commit it was built from, and the Go toolchain.
func versionString() string {
	ver, rev, modified := version, commit, false
	if bi, ok := debug.ReadBuildInfo(); ok {
		if ver == "" {
			ver = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if rev == "" {
					rev = s.Value
				}
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if ver == "" || ver == "(devel)" {
		ver = "dev"
	}
	if rev == "" {
		rev = "unknown"
	}
	if modified {
		rev += ", modified"
	}
	return fmt.Sprintf("rolecd %s (commit %s) %s %s/%s", ver, rev, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

func newVersionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version and the commit rolecd was built from",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if g.output == "json" {
				return writeJSON(g.stdout, map[string]string{"version": versionString()})
			}
			_, err := fmt.Fprintln(g.stdout, versionString())
			return err
		},
	}
}

// logLevels are the values --log-level takes.
func logLevels() []string { return []string{"debug", "info", "warn", "error"} }

// checkGlobals rejects unknown values of the global flags.
func checkGlobals(g *globals) error {
	if g.output != "text" && g.output != "json" {
		return &exitError{exitError1, fmt.Sprintf("--output %q: want text or json", g.output)}
	}
	if !slices.Contains(logLevels(), g.logLevel) {
		return &exitError{exitError1, fmt.Sprintf("--log-level %q: want one of %s", g.logLevel, strings.Join(logLevels(), ", "))}
	}
	return nil
}

// checkOutPath rejects `-o json` and `-o text`, which mean --output: -o
// takes the path of the plan document to write. A file of that name is
// still reachable as ./json.
func checkOutPath(out string) error {
	if out == "json" || out == "text" {
		return &exitError{exitError1, fmt.Sprintf("-o takes a file path to write the plan document to (e.g. -o plan.json), not a format: for %s on stdout use --output %s (to write a file named %s: -o ./%s)", out, out, out, out)}
	}
	return nil
}

// sessionKinds and sessionStatuses are the values of sessions list --kind
// and --status.
func sessionKinds() []string {
	return []string{string(store.KindPlan), string(store.KindApply), string(store.KindHealth), string(store.KindCredential),
		string(store.KindDrift), string(store.KindAudit), string(store.KindAction), string(store.KindView)}
}

func sessionStatuses() []string {
	return []string{string(store.StatusNoChanges), string(store.StatusChanges), string(store.StatusApplied), string(store.StatusRefused),
		string(store.StatusFailed), string(store.StatusOK), string(store.StatusRunning), string(store.StatusInterrupted)}
}

// checkSessionFilter rejects unknown --kind and --status values, which
// would otherwise silently list nothing.
func checkSessionFilter(o *sessionsListOptions) error {
	if o.kind != "" && !slices.Contains(sessionKinds(), o.kind) {
		return &exitError{exitError1, fmt.Sprintf("--kind %q: want one of %s", o.kind, strings.Join(sessionKinds(), ", "))}
	}
	if o.status != "" && !slices.Contains(sessionStatuses(), o.status) {
		return &exitError{exitError1, fmt.Sprintf("--status %q: want one of %s", o.status, strings.Join(sessionStatuses(), ", "))}
	}
	if o.limit < 1 {
		return &exitError{exitError1, fmt.Sprintf("--limit %d: want 1 or more", o.limit)}
	}
	return nil
}

// groupRun runs a command that only groups others (sessions, creds,
// admin): alone it shows its help; with an unknown subcommand it fails
// with cobra's suggestions, as the root command does.
func groupRun(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return cmd.Help()
	}
	cmd.SuggestionsMinimumDistance = 2
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return &exitError{exitError1, msg + " (rolecd " + strings.TrimPrefix(cmd.CommandPath(), "rolecd ") + " --help lists them)"}
}

// suggestionLine turns cobra's multi-line "Did you mean this?" error into
// one line that keeps the suggestions whole.
func suggestionLine(msg string) (string, bool) {
	head, tail, ok := strings.Cut(msg, "\n\nDid you mean this?\n")
	if !ok {
		return "", false
	}
	var s []string
	for _, l := range strings.Split(tail, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			s = append(s, l)
		}
	}
	return head + "; did you mean " + strings.Join(s, " or ") + "? (rolecd --help lists the commands)", true
}

// flagError adds the nearest flag names to an unknown-flag error, so
// `--resorce` answers "did you mean --resource?".
func flagError(c *cobra.Command, err error) error {
	name, ok := strings.CutPrefix(err.Error(), "unknown flag: --")
	if !ok {
		return err
	}
	var near []string
	seen := map[string]bool{}
	visit := func(f *pflag.Flag) {
		if !seen[f.Name] && !f.Hidden && editDistance(name, f.Name) <= 2 {
			seen[f.Name] = true
			near = append(near, "--"+f.Name)
		}
	}
	c.Flags().VisitAll(visit)
	c.InheritedFlags().VisitAll(visit)
	if len(near) == 0 {
		return fmt.Errorf("%w (rolecd %s --help lists the flags)", err, strings.TrimPrefix(c.CommandPath(), "rolecd "))
	}
	return fmt.Errorf("%w; did you mean %s?", err, strings.Join(near, " or "))
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
