package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/rolecd/rolecd/planner/spec"
)

func newValidateCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "validate [PATH]",
		Short: "Parse and check every role file under PATH (offline)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if len(args) == 1 {
				g.repo = args[0]
			}
			return validateRun(g)
		},
	}
}

type validateProblem struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Col     int    `json:"col,omitempty"`
	Message string `json:"message"`
}

func validateRun(g *globals) error {
	tree, _, dir, err := g.loadTree()
	var es spec.Errors
	if err != nil && !errors.As(err, &es) {
		return err
	}
	if g.output == "json" {
		out := struct {
			Valid     bool              `json:"valid"`
			Resources int               `json:"resources"`
			Roles     int               `json:"roles"`
			Problems  []validateProblem `json:"problems"`
		}{Valid: len(es) == 0, Problems: []validateProblem{}}
		if tree != nil {
			out.Resources, out.Roles = len(tree.Resources), len(tree.Roles)
		}
		for _, e := range es {
			out.Problems = append(out.Problems, validateProblem{e.Pos.File, e.Pos.Line, e.Pos.Col, e.Msg})
		}
		if err := writeJSON(g.stdout, out); err != nil {
			return err
		}
	} else {
		for _, e := range es {
			fmt.Fprintln(g.stdout, e.Error())
		}
		if len(es) == 0 {
			fmt.Fprintf(g.stdout, "%s: ok: %d resources, %d roles\n", dir, len(tree.Resources), len(tree.Roles))
		}
	}
	if len(es) > 0 {
		return &exitError{exitError1, fmt.Sprintf("%s: %d problem(s)", dir, len(es))}
	}
	return nil
}
