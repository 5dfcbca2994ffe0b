package spec

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/rolecd/rolecd/internal/golden"
)

func TestTreeGolden(t *testing.T) {
	tree, err := Load(os.DirFS("testdata/tree"), Options{})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	got, err := json.MarshalIndent(tree, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, "tree.golden", append(got, '\n'))
}
