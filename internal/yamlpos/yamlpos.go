// Package yamlpos locates YAML parse errors: the message of a yaml.v3
// error without its prefix, the line where the error really is, and how a
// node is named in an error. Pure: it parses only through the function it
// is given.
package yamlpos

import (
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// KindName names the kind of n as an error message says it: "a mapping",
// "a list", "a single value", "an alias" or "a document".
func KindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return "a single value"
	case yaml.AliasNode:
		return "an alias"
	}
	return "a document"
}

// MaxSearched is the size up to which SyntaxLine is worth calling: it
// re-parses prefixes of the data (a few parses of the whole at most).
const MaxSearched = 1 << 20

// Message splits a yaml.v3 parse error into its message and the line the
// parser names (0 if none).
func Message(err error) (string, int) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, tail, ok := strings.Cut(rest, ": "); ok {
			if n, convErr := strconv.Atoi(num); convErr == nil {
				return tail, n
			}
		}
	}
	return msg, 0
}

// SyntaxLine finds the line of a YAML syntax error whose Message is msg:
// the first line such that data cut after it fails parse with the same
// message. The parser's own line is a poor guide: for most errors it names,
// 0-based, the start of the enclosing block rather than the offending line.
func SyntaxLine(data []byte, msg string, parse func([]byte) error) int {
	ends := lineEnds(data)
	lo, hi := 1, len(ends) // the whole data fails
	for lo < hi {
		mid := (lo + hi) / 2
		if err := parse(data[:ends[mid-1]]); err != nil {
			if m, _ := Message(err); m == msg {
				hi = mid
				continue
			}
		}
		lo = mid + 1
	}
	return lo
}

// lineEnds returns the offset just past each line of data.
func lineEnds(data []byte) []int {
	var ends []int
	for i, c := range data {
		if c == '\n' {
			ends = append(ends, i+1)
		}
	}
	if len(ends) == 0 || ends[len(ends)-1] != len(data) {
		ends = append(ends, len(data))
	}
	return ends
}
