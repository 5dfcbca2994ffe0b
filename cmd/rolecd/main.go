// Command rolecd is the CLI and daemon of rolecd, GitOps for PostgreSQL
// access roles. This package only wires flags to the packages that do the
// work.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/rolecd/rolecd/internal/config"
	"github.com/rolecd/rolecd/planner/spec"
)

// exitError carries a process exit code; msg (one line) goes to stderr.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// Exit codes of DESIGN §7.
const (
	exitOK      = 0
	exitError1  = 1
	exitChanges = 2
	exitRefused = 3
)

// globals holds the flags every command shares.
type globals struct {
	configPath     string
	configExplicit bool
	output         string
	store          string
	repo           string
	logLevel       string
	stdin          io.Reader
	stdout         io.Writer
	stderr         io.Writer
	getenv         func(string) string
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}

// run executes one rolecd invocation and returns its exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	return runContext(context.Background(), args, stdin, stdout, stderr, getenv)
}

// runContext is run until ctx is cancelled (the daemon stops as on SIGTERM).
func runContext(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	g := &globals{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	root := newRootCmd(g)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintf(stderr, "rolecd: %s\n", ee.msg)
		}
		return ee.code
	}
	var es spec.Errors
	if errors.As(err, &es) {
		for _, e := range es {
			fmt.Fprintln(stderr, e.Error())
		}
		where := ""
		if te := (*treeErrors)(nil); errors.As(err, &te) {
			where = " under " + te.where()
		}
		fmt.Fprintf(stderr, "rolecd: %d problem(s) in the role files%s\n", len(es), where)
		return exitError1
	}
	if line, ok := suggestionLine(err.Error()); ok {
		fmt.Fprintf(stderr, "rolecd: %s\n", line)
		return exitError1
	}
	var cp config.Problems
	if errors.As(err, &cp) {
		for _, e := range cp {
			fmt.Fprintln(stderr, e.Error())
		}
		fmt.Fprintf(stderr, "rolecd: %d problem(s) in the configuration\n", len(cp))
		return exitError1
	}
	fmt.Fprintf(stderr, "rolecd: %s\n", oneLine(err.Error()))
	return exitError1
}

func newRootCmd(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "rolecd",
		Short:         "GitOps for PostgreSQL access roles",
		Long:          "rolecd turns role files in a Git repository into reviewed, checksummed SQL plans and applies them to PostgreSQL.",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       versionString(),
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			g.configExplicit = cmd.Flags().Changed("config")
			return checkGlobals(g)
		},
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetFlagErrorFunc(flagError)
	pf := root.PersistentFlags()
	pf.StringVar(&g.configPath, "config", "rolecd.yaml", "configuration file")
	pf.StringVarP(&g.output, "output", "", "text", "output format: text or json")
	pf.StringVar(&g.store, "store", "", "session store URL (default sqlite://.rolecd/rolecd.db)")
	pf.StringVar(&g.repo, "repo", "", "role-files tree (default: the config's git.path, else roles/, else . when it holds role files)")
	pf.StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	root.AddCommand(newValidateCmd(g), newHealthCmd(g), newPlanCmd(g), newApplyCmd(g),
		newSessionsCmd(g), newCredsCmd(g), newAdminCmd(g), newDaemonCmd(g), newVersionCmd(g))
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.HasSubCommands() && !c.Runnable() {
			c.RunE = groupRun
		}
	}
	addHelp(root)
	return root
}

// logger returns the console logger on stderr at the chosen level.
func (g *globals) logger() zerolog.Logger {
	level, err := zerolog.ParseLevel(g.logLevel)
	if err != nil || level == zerolog.NoLevel {
		level = zerolog.InfoLevel
	}
	w := zerolog.ConsoleWriter{Out: g.stderr, NoColor: true, TimeFormat: "15:04:05"}
	return zerolog.New(w).Level(level).With().Timestamp().Logger()
}

// writeJSON writes v as indented JSON, without HTML escaping (plans carry
// '<redacted>').
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encoding JSON: %w", err)
	}
	return nil
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " (and more)"
	}
	return s
}
