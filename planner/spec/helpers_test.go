package spec

import (
	"errors"
	"testing"
)

// knownResources is what role tests may reference without declaring it.
var knownResources = []Resource{{
	Name: "analytics", Host: "db1.internal", Port: 5432, Database: "postgres", SSLMode: "prefer",
	Admin: Admin{User: "postgres"}, Pos: Pos{File: "inventory.yaml", Line: 2, Col: 5},
}}

// parseErrs parses files and returns the rendered errors (nil when the
// files are valid), checking the error contract on the way.
func parseErrs(t *testing.T, opts Options, files ...File) []string {
	t.Helper()
	tree, err := Parse(files, opts)
	if err == nil {
		if tree == nil {
			t.Fatal("Parse returned neither a tree nor an error")
		}
		return nil
	}
	if tree != nil {
		t.Errorf("Parse returned a tree with an error")
	}
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("error is %T, want Errors: %v", err, err)
	}
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Error()
	}
	return out
}

// mustParse parses files that must be valid.
func mustParse(t *testing.T, opts Options, files ...File) *Tree {
	t.Helper()
	tree, err := Parse(files, opts)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return tree
}

func yamlOf(data string) File { return File{Name: "roles.yaml", Data: []byte(data)} }

func csvOf(data string) File { return File{Name: "roles.csv", Data: []byte(data)} }
