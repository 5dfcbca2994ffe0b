package config

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/rolecd/rolecd/internal/yamlpos"
)

// KeyError is a problem with one configuration key, e.g. git.poll_interval.
// Load puts the file and line of the key in front of it when it was set in
// the file.
type KeyError struct {
	Key string
	Msg string
}

func (e *KeyError) Error() string { return e.Key + ": " + e.Msg }

// Problems is every problem found in the configuration, each on its own
// line; Load returns it for problems of the file or of its values.
type Problems []error

func (p Problems) Error() string {
	lines := make([]string, len(p))
	for i, e := range p {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// problems returns errs as Problems, nil when there is none.
func problems(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return Problems(errs)
}

// keyErrorf returns a *KeyError for key.
func keyErrorf(key, format string, args ...any) error {
	return &KeyError{Key: key, Msg: fmt.Sprintf(format, args...)}
}

// decoder reads rolecd.yaml from its node tree, so that each problem names
// the file, line and key, and every problem is reported at once.
type decoder struct {
	file  string
	lines map[string]int // key -> line where it was set
	errs  []error
}

// failedLine marks, in the lines map, a key whose value could not be
// decoded: validation problems about it (or about what contains it) would
// only repeat the decoding problem.
const failedLine = -1

func (d *decoder) errorf(n *yaml.Node, key, format string, args ...any) {
	d.lines[key] = failedLine
	d.errs = append(d.errs, lineErrorf(n.Line, "%s:%d: key %s: %s", d.file, n.Line, key, fmt.Sprintf(format, args...)))
}

// lineError is a problem at a line of the file, so Load can sort them.
type lineError struct {
	line int
	msg  string
}

func (e *lineError) Error() string { return e.msg }

func lineErrorf(line int, format string, args ...any) error {
	return &lineError{line: line, msg: fmt.Sprintf(format, args...)}
}

// sortProblems orders problems by line; those without one keep their
// order, after the others.
func sortProblems(p Problems) {
	line := func(e error) int {
		var le *lineError
		if errors.As(e, &le) {
			return le.line
		}
		return math.MaxInt
	}
	slices.SortStableFunc(p, func(a, b error) int { return cmp.Compare(line(a), line(b)) })
}

// decodeFile decodes data into cfg, recording in lines where each key was
// set.
func decodeFile(file string, data []byte, cfg *Config, lines map[string]int) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		msg, line := yamlpos.Message(err)
		if len(data) <= yamlpos.MaxSearched {
			line = yamlpos.SyntaxLine(data, msg, parseNode)
		}
		if line > 0 {
			return Problems{fmt.Errorf("%s:%d: invalid YAML: %s", file, line, msg)}
		}
		return Problems{fmt.Errorf("%s: invalid YAML: %s", file, msg)}
	}
	if len(doc.Content) == 0 {
		return nil // empty file
	}
	d := &decoder{file: file, lines: lines}
	d.value(doc.Content[0], reflect.ValueOf(cfg).Elem(), "")
	return problems(d.errs)
}

// parseNode parses data as one YAML document.
func parseNode(data []byte) error {
	var doc yaml.Node
	return yaml.Unmarshal(data, &doc)
}

var (
	durationType = reflect.TypeOf(time.Duration(0))
	byteSizeType = reflect.TypeOf(ByteSize(0))
)

// value decodes n into v, the field named key ("" for the top level).
func (d *decoder) value(n *yaml.Node, v reflect.Value, key string) {
	if n.Kind == yaml.AliasNode {
		d.errorf(n, key, "YAML aliases are not supported: write the value out")
		return
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // keep the default
	}
	switch {
	case v.Type() == durationType:
		d.duration(n, v, key)
	case v.Type() == byteSizeType:
		s, ok := d.scalar(n, key, "a size such as 4MiB")
		if !ok {
			return
		}
		b, err := ParseByteSize(s)
		if err != nil {
			d.errorf(n, key, "%v", err)
			return
		}
		v.SetInt(int64(b))
	case v.Kind() == reflect.Struct:
		d.mapping(n, v, key)
	case v.Kind() == reflect.Slice:
		d.sequence(n, v, key)
	case v.Kind() == reflect.Map && v.Type().Key().Kind() == reflect.String:
		d.dict(n, v, key)
	case v.Kind() == reflect.String:
		if s, ok := d.scalar(n, key, "a single value"); ok {
			v.SetString(s)
		}
	case v.Kind() == reflect.Bool:
		s, ok := d.scalar(n, key, "true or false")
		if !ok {
			return
		}
		var b bool
		if err := n.Decode(&b); err != nil {
			d.errorf(n, key, "want true or false, got %q", s)
			return
		}
		v.SetBool(b)
	case v.CanInt():
		s, ok := d.scalar(n, key, "a whole number")
		if !ok {
			return
		}
		i, err := strconv.ParseInt(s, 10, v.Type().Bits())
		if err != nil || n.ShortTag() != "!!int" {
			d.errorf(n, key, "want a whole number, got %q", s)
			return
		}
		v.SetInt(i)
	default:
		// Any other type (a map, a pointer, a float): yaml.v3 decodes it,
		// and its message is kept, without its "line N:" prefix.
		if err := n.Decode(v.Addr().Interface()); err != nil {
			msg := err.Error()
			var te *yaml.TypeError
			if errors.As(err, &te) && len(te.Errors) > 0 {
				msg, _ = yamlpos.Message(errors.New(te.Errors[0]))
			}
			d.errorf(n, key, "%s", msg)
		}
	}
}

// scalar returns the value of a scalar node, complaining (want) otherwise.
func (d *decoder) scalar(n *yaml.Node, key, want string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, key, "want %s, got %s", want, yamlpos.KindName(n))
		return "", false
	}
	return n.Value, true
}

// duration reads a Go duration; a bare number is refused (yaml.v3 would
// read 30 as 30 nanoseconds).
func (d *decoder) duration(n *yaml.Node, v reflect.Value, key string) {
	s, ok := d.scalar(n, key, "a duration such as 30s or 5m")
	if !ok {
		return
	}
	dur, err := time.ParseDuration(s)
	if err != nil {
		d.errorf(n, key, "want a duration such as 30s or 5m, got %q", s)
		return
	}
	v.SetInt(int64(dur))
}

// mapping decodes a mapping into struct v by the fields' yaml tags.
func (d *decoder) mapping(n *yaml.Node, v reflect.Value, key string) {
	if n.Kind != yaml.MappingNode {
		if key == "" {
			d.errs = append(d.errs, lineErrorf(n.Line, "%s:%d: the top level must be a mapping of keys, got %s", d.file, n.Line, yamlpos.KindName(n)))
			return
		}
		d.errorf(n, key, "want a mapping, got %s", yamlpos.KindName(n))
		return
	}
	t := v.Type()
	var known []string
	fields := map[string]int{}
	for i := 0; i < t.NumField(); i++ {
		name := t.Field(i).Tag.Get("yaml")
		if name == "" || name == "-" {
			continue
		}
		known = append(known, name)
		fields[name] = i
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		full := join(key, k.Value)
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, join(key, "?"), "a key must be a single value, got %s", yamlpos.KindName(k))
			continue
		}
		if line, dup := seen[k.Value]; dup {
			d.errorf(k, full, "set twice (first at line %d)", line)
			continue
		}
		seen[k.Value] = k.Line
		idx, ok := fields[k.Value]
		if !ok {
			where := "at the top level"
			if key != "" {
				where = "in " + key
			}
			d.errorf(k, full, "unknown key %s: want one of %s", where, strings.Join(sorted(known), ", "))
			continue
		}
		d.lines[full] = k.Line
		d.value(val, v.Field(idx), full)
	}
}

// dict decodes a mapping into map v (string keys); entries are named
// key.NAME, so a problem inside one names it.
func (d *decoder) dict(n *yaml.Node, v reflect.Value, key string) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, key, "want a mapping, got %s", yamlpos.KindName(n))
		return
	}
	out := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, join(key, "?"), "a key must be a single value, got %s", yamlpos.KindName(k))
			continue
		}
		full := join(key, k.Value)
		if line, dup := seen[k.Value]; dup {
			d.errorf(k, full, "set twice (first at line %d)", line)
			continue
		}
		seen[k.Value] = k.Line
		d.lines[full] = k.Line
		elem := reflect.New(v.Type().Elem()).Elem()
		d.value(val, elem, full)
		out.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), elem)
	}
	v.Set(out)
}

// sequence decodes a list into slice v; entries are named key[i].
func (d *decoder) sequence(n *yaml.Node, v reflect.Value, key string) {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, key, "want a list, got %s", yamlpos.KindName(n))
		return
	}
	out := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		ik := fmt.Sprintf("%s[%d]", key, i)
		d.lines[ik] = item.Line
		d.value(item, out.Index(i), ik)
	}
	v.Set(out)
}

func join(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// withLines puts "file:LINE: key" in front of each *KeyError of err (a
// join of errors, as Validate returns) whose key was set in the file.
func withLines(file string, err error, lines map[string]int) error {
	if err == nil {
		return nil
	}
	var all []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		all = j.Unwrap()
	} else {
		all = []error{err}
	}
	var out []error
	for _, e := range all {
		var ke *KeyError
		if !errors.As(e, &ke) {
			out = append(out, e)
			continue
		}
		if failedWithin(ke.Key, lines) {
			continue
		}
		if line, ok := lines[ke.Key]; ok {
			out = append(out, lineErrorf(line, "%s:%d: key %s: %s", file, line, ke.Key, ke.Msg))
		} else {
			out = append(out, e)
		}
	}
	return problems(out)
}

// failedWithin reports whether key, or a key inside it, failed to decode.
func failedWithin(key string, lines map[string]int) bool {
	for k, line := range lines {
		if line == failedLine && (k == key || strings.HasPrefix(k, key+".") || strings.HasPrefix(k, key+"[")) {
			return true
		}
	}
	return false
}
