package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/rolecd/rolecd/planner/spec"
)

func newValidateCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "validate [PATH]",
		Short: "Parse and check the role files of a directory, or one file (offline)",
		Long: "validate parses and checks, without any database, every role file of a directory (PATH, else --repo,\n" +
			"else the default location), or one file: a role file, a Hoop CSV or a Hoop batch plan file. A file's\n" +
			"roles may use the resources of the role-files tree when one is found.",
		Example: "  rolecd validate                    # the default location: git.path, roles/, or .\n" +
			"  rolecd validate roles.example\n" +
			"  rolecd validate hoop-roles.csv --repo roles",
		Args: cobra.MaximumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if len(args) == 1 {
				if st, err := os.Stat(args[0]); err == nil && !st.IsDir() {
					return validateFileRun(g, args[0])
				}
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
	where := dir
	if te := (*treeErrors)(nil); errors.As(err, &te) {
		where = te.where()
	}
	return reportValidation(g, dir, where, tree, es)
}

// validateFileRun checks one file. Its roles may use the resources of the
// role-files tree, when one is found and valid; otherwise only the
// resources the file declares.
func validateFileRun(g *globals, name string) error {
	data, err := os.ReadFile(name)
	if err != nil {
		return fmt.Errorf("reading %s: %w", name, err)
	}
	var known []spec.Resource
	base, cfg, _, treeErr := g.loadTree()
	if treeErr == nil {
		known = base.Resources
	} else {
		log := g.logger()
		log.Info().Str("file", name).Str("why", oneLine(treeErr.Error())).Msg("checking the file on its own: its roles may only use the resources it declares")
	}
	tree, err := spec.Parse([]spec.File{{Name: name, Data: data}}, spec.Options{Prefix: cfg.RolePrefix, Resources: known})
	var es spec.Errors
	if err != nil && !errors.As(err, &es) {
		return err
	}
	return reportValidation(g, name, name, tree, es)
}

// reportValidation prints the outcome of validating what (a directory or
// a file) and returns the exit error, naming where, when there are problems.
func reportValidation(g *globals, what, where string, tree *spec.Tree, es spec.Errors) error {
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
			fmt.Fprintf(g.stdout, "%s: ok: %d resources, %d roles\n", what, len(tree.Resources), len(tree.Roles))
		}
	}
	if len(es) > 0 {
		return &exitError{exitError1, fmt.Sprintf("%s: %d problem(s)", where, len(es))}
	}
	return nil
}
