package yamlpos

import (
	"errors"
	"testing"

	"go.yaml.in/yaml/v3"
)

func parse(data []byte) error {
	var n yaml.Node
	return yaml.Unmarshal(data, &n)
}

func TestMessage(t *testing.T) {
	for _, tc := range []struct {
		err  string
		msg  string
		line int
	}{
		{"yaml: line 3: mapping values are not allowed in this context", "mapping values are not allowed in this context", 3},
		{"yaml: did not find expected key", "did not find expected key", 0},
		{"yaml: line x: odd", "line x: odd", 0},
	} {
		msg, line := Message(errors.New(tc.err))
		if msg != tc.msg || line != tc.line {
			t.Errorf("Message(%q) = %q, %d; want %q, %d", tc.err, msg, line, tc.msg, tc.line)
		}
	}
}

func TestSyntaxLine(t *testing.T) {
	for _, tc := range []struct {
		data string
		want int
	}{
		{"a: 1\nb: 2\nc: [1, 2\nd: 4\n", 3},
		{"a: 1\nb:\n  - x\n - y\n", 4},
		{"a: b: c", 1},
	} {
		err := parse([]byte(tc.data))
		if err == nil {
			t.Fatalf("%q parses", tc.data)
		}
		msg, _ := Message(err)
		if got := SyntaxLine([]byte(tc.data), msg, parse); got != tc.want {
			t.Errorf("SyntaxLine(%q) = %d, want %d (%s)", tc.data, got, tc.want, msg)
		}
	}
}

func TestKindName(t *testing.T) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte("a: &x [1]\nb: *x\nc: {d: 1}\ne: v\n"), &doc); err != nil {
		t.Fatal(err)
	}
	top := doc.Content[0].Content
	for _, tc := range []struct {
		node *yaml.Node
		want string
	}{
		{&doc, "a document"},
		{doc.Content[0], "a mapping"},
		{top[1], "a list"},
		{top[3], "an alias"},
		{top[5], "a mapping"},
		{top[7], "a single value"},
	} {
		if got := KindName(tc.node); got != tc.want {
			t.Errorf("KindName(%v node) = %q, want %q", tc.node.Kind, got, tc.want)
		}
	}
}
