package main

import (
	"bytes"
	"testing"
)

// Progress is for terminals only: never on a pipe or buffer, never with
// --output json.
func TestProgressQuietWhenNotATerminal(t *testing.T) {
	for _, output := range []string{"text", "json"} {
		g := &globals{stderr: &bytes.Buffer{}, output: output}
		if p := g.progress(); p != nil || p.planFunc() != nil || p.applyFunc() != nil {
			t.Errorf("output %s to a buffer: progress %v, want none", output, p)
		}
	}
}
