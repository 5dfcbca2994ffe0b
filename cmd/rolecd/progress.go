package main

import (
	"fmt"
	"io"
	"os"

	"github.com/mattn/go-isatty"

	"github.com/rolecd/rolecd/applier"
)

// progress writes one self-overwriting status line to a terminal: quiet
// (nil) when stderr is not a terminal or the output is JSON, so scripts and
// logs never see it.
type progress struct{ w io.Writer }

func (g *globals) progress() *progress {
	f, ok := g.stderr.(*os.File)
	if !ok || g.output == "json" || !(isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())) {
		return nil
	}
	return &progress{w: f}
}

// plan reports resources planned so far.
func (p *progress) plan(resource string, done, total int) {
	fmt.Fprintf(p.w, "\r\033[Kplan: %d/%d resource(s) planned (last: %s)", done, total, resource)
	if done == total {
		fmt.Fprintln(p.w)
	}
}

// apply reports the transactions and roles of a resource done so far.
func (p *progress) apply(pr applier.Progress) {
	fmt.Fprintf(p.w, "\r\033[Kapply: resource %s: database %s, %d/%d transaction(s), %d/%d role(s) done",
		pr.Resource, pr.Database, pr.Step, pr.Steps, pr.RolesDone, pr.Roles)
	if pr.Step == pr.Steps {
		fmt.Fprintln(p.w)
	}
}

// planFunc is p.plan, or nil for no progress.
func (p *progress) planFunc() func(string, int, int) {
	if p == nil {
		return nil
	}
	return p.plan
}

// applyFunc is p.apply, or nil for no progress.
func (p *progress) applyFunc() func(applier.Progress) {
	if p == nil {
		return nil
	}
	return p.apply
}
