package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/rolecd/rolecd/internal/yamlpos"
)

// Keys accepted in YAML role files.
func topKeys() []string { return []string{"resources", "roles", "items"} }
func adminKeys() []string {
	return []string{"user", "password_env", "password_file", "password_command", "allow_cleartext"}
}

// resourceKeys are the keys of a resources: entry.
func resourceKeys() []string {
	return []string{"name", "host", "port", "database", "sslmode", "sslrootcert", "admin", "object_creators", "drop_reassign_to", "prune", "allow_source_roles"}
}

// roleKeys are the keys of a roles: entry, or of a Hoop batch plan's
// items: entry, which names its resource resource_name.
func roleKeys(resourceKey string) []string {
	return []string{resourceKey, "type", "role", "scopes", "privileges", "permissions", "source_role", "rotate_password",
		"functions", "connection_limit", "valid_until", "password_max_age", "options"}
}

// yamlFile decodes one YAML file into raw declarations. It reads the node
// tree itself, so every field keeps its line:col, unknown and duplicate
// keys are caught, and aliases are refused rather than expanded.
type yamlFile struct {
	name string
	out  *decoded
}

// decodeYAML appends the declarations and problems of one YAML file to out.
// Every document of a multi-document file is read.
func decodeYAML(name string, data []byte, out *decoded) {
	f := &yamlFile{name: name, out: out}
	if !out.budget(name, data, yamlSeparators) {
		return
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := decodeNode(dec, &doc)
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			f.syntaxError(data, err)
			return
		}
		f.document(&doc)
		if out.full {
			return
		}
	}
}

// yamlSeparators are the bytes of which at least one precedes every YAML
// node: a line break, ",", ":", "-", "[", "{", "?", "!", "&", "*".
const yamlSeparators = "\n,:-[{?!&*"

// decodeNode decodes the next document, turning a panic of the YAML library
// into an error: a role file must never crash the daemon.
func decodeNode(dec *yaml.Decoder, doc *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: unreadable document: %v", r)
		}
	}()
	return dec.Decode(doc)
}

// syntaxError reports a YAML parse error at the line where it is.
func (f *yamlFile) syntaxError(data []byte, err error) {
	msg, line := yamlpos.Message(err)
	if len(data) <= yamlpos.MaxSearched {
		line = yamlpos.SyntaxLine(data, msg, parseAll)
	}
	f.out.errorf(Pos{File: f.name, Line: max(line, 1)}, "invalid YAML: %s", msg)
}

// parseAll parses every document of data and returns the first error.
func parseAll(data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := decodeNode(dec, &doc)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func (f *yamlFile) pos(n *yaml.Node) Pos {
	return Pos{File: f.name, Line: max(n.Line, 1), Col: n.Column}
}

func (f *yamlFile) errorf(n *yaml.Node, format string, args ...any) {
	f.out.errorf(f.pos(n), format, args...)
}

// alias reports n when it is an alias. Aliases are refused, never expanded,
// so a "billion laughs" document costs no more than its own size.
func (f *yamlFile) alias(n *yaml.Node) bool {
	if n.Kind != yaml.AliasNode {
		return false
	}
	f.errorf(n, "YAML aliases are not supported (*%s): write the value out", n.Value)
	return true
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// document reads the top level of one document.
func (f *yamlFile) document(doc *yaml.Node) {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return
	}
	root := doc.Content[0]
	if f.alias(root) || isNull(root) {
		return
	}
	if root.Kind != yaml.MappingNode {
		f.errorf(root, "no resources, roles or items: the top level must be a mapping, got %s", yamlpos.KindName(root))
		return
	}
	if k := hoopResultsKey(root); k != nil {
		f.errorf(k, "this is a Hoop plan-result file (hoop resources plan -o), not a role file: give rolecd the batch plan file (items:) it was planned from")
		return
	}
	found := false
	f.fields(root, "role file", topKeys(), func(key string, _, v *yaml.Node) {
		found = true
		switch key {
		case "resources":
			f.list(key, v, func(item *yaml.Node) { f.resource(item) })
		case "roles":
			f.list(key, v, func(item *yaml.Node) { f.role(item, "resource") })
		case "items":
			f.list(key, v, func(item *yaml.Node) { f.role(item, "resource_name") })
		}
	})
	if !found {
		f.errorf(root, "no resources, roles or items")
	}
}

// fields walks the key/value pairs of mapping m, reporting aliases,
// duplicate and unknown keys, and calls set for each known key.
func (f *yamlFile) fields(m *yaml.Node, what string, known []string, set func(key string, k, v *yaml.Node)) {
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if f.alias(k) {
			continue
		}
		if k.Kind != yaml.ScalarNode {
			f.errorf(k, "unknown key (%s) in %s: want %s", yamlpos.KindName(k), what, strings.Join(known, ", "))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			f.errorf(k, "duplicate key %s in %s (first at line %d)", quote(k.Value), what, first.Line)
			continue
		}
		seen[k.Value] = k
		if !slices.Contains(known, k.Value) {
			if k.Value == "password" && (what == "admin" || what == "resource") {
				f.errorf(k, "admin passwords never live in role files: use password_env, password_file, password_command or the store")
				continue
			}
			f.errorf(k, "unknown key %s in %s: want %s", quote(k.Value), what, strings.Join(known, ", "))
			continue
		}
		set(k.Value, k, v)
	}
}

// mapping reports whether n is a mapping, complaining otherwise.
func (f *yamlFile) mapping(what string, n *yaml.Node) bool {
	if f.alias(n) {
		return false
	}
	if n.Kind != yaml.MappingNode {
		f.errorf(n, "each %s must be a mapping, got %s", what, yamlpos.KindName(n))
		return false
	}
	return true
}

// list calls each for every entry of the list n (null is an empty list).
func (f *yamlFile) list(key string, n *yaml.Node, each func(*yaml.Node)) {
	if f.alias(n) || isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		f.errorf(n, "%s: want a list, got %s", key, yamlpos.KindName(n))
		return
	}
	for _, item := range n.Content {
		if f.out.full {
			return // over limits.max_roles: already reported
		}
		each(item)
	}
}

// scalar reads a single-valued field; null means absent.
func (f *yamlFile) scalar(key string, n *yaml.Node) value {
	switch {
	case f.alias(n):
		return value{pos: f.pos(n), set: true, bad: true}
	case isNull(n):
		return value{}
	case n.Kind != yaml.ScalarNode:
		f.errorf(n, "%s: want a single value, got %s", key, yamlpos.KindName(n))
		return value{pos: f.pos(n), set: true, bad: true}
	}
	return value{s: n.Value, pos: f.pos(n), set: true}
}

// strings reads a list field: a YAML list of single values, or one
// ";"-separated string as in Hoop's files; null means absent.
func (f *yamlFile) strings(key string, n *yaml.Node) listValue {
	switch {
	case f.alias(n):
		return listValue{pos: f.pos(n), bad: true}
	case isNull(n):
		return listValue{}
	case n.Kind == yaml.ScalarNode:
		return splitList(n.Value, f.pos(n))
	case n.Kind != yaml.SequenceNode:
		f.errorf(n, "%s: want a list, got %s", key, yamlpos.KindName(n))
		return listValue{pos: f.pos(n), bad: true}
	}
	l := listValue{pos: f.pos(n)}
	for _, item := range n.Content {
		if len(l.items) == maxListItems {
			l.over = true
			break
		}
		v := f.scalar(key, item)
		if v.bad {
			l.bad = true
			continue
		}
		if !v.set {
			f.errorf(item, "%s: empty entry", key)
			l.bad = true
			continue
		}
		l.items = append(l.items, v)
	}
	return l
}

// listField reads a list field. A single value is Hoop's ";"-separated
// list in Hoop's items: files (scalarOK); in rolecd's own files it is an
// error, since "scopes: analytics" most likely meant a list.
func (f *yamlFile) listField(key string, n *yaml.Node, scalarOK bool) listValue {
	if scalarOK || n.Kind != yaml.ScalarNode || isNull(n) || strings.TrimSpace(n.Value) == "" {
		return f.strings(key, n)
	}
	var parts []string
	for _, item := range splitList(n.Value, Pos{}).items {
		parts = append(parts, item.s)
	}
	example := strings.Join(parts, ", ")
	if len(example) > maxQuoted || strings.ContainsAny(example, "\"[]{}#") {
		example = "..."
	}
	f.errorf(n, "%s: want a list, got a single value %s: write %s: [%s]", key, quote(n.Value), key, example)
	return listValue{pos: f.pos(n), bad: true}
}

func (f *yamlFile) resource(n *yaml.Node) {
	if !f.mapping("resource", n) {
		return
	}
	r := rawResource{pos: f.pos(n)}
	f.fields(n, "resource", resourceKeys(), func(key string, k, v *yaml.Node) {
		switch key {
		case "name":
			r.name = f.scalar(key, v)
		case "host":
			r.host = f.scalar(key, v)
		case "port":
			r.port = f.scalar(key, v)
		case "database":
			r.database = f.scalar(key, v)
		case "sslmode":
			r.sslmode = f.scalar(key, v)
		case "sslrootcert":
			r.sslrootcert = f.scalar(key, v)
		case "admin":
			r.admin = f.admin(k, v)
		case "object_creators":
			r.creators = f.listField(key, v, false)
		case "drop_reassign_to":
			r.reassign = f.scalar(key, v)
		case "prune":
			r.prune = f.scalar(key, v)
		case "allow_source_roles":
			r.allowSources = f.listField(key, v, false)
		}
	})
	f.out.addResource(r)
}

func (f *yamlFile) admin(k, v *yaml.Node) rawAdmin {
	a := rawAdmin{pos: f.pos(k)}
	if isNull(v) {
		return a
	}
	if f.alias(v) {
		a.set, a.user = true, value{pos: f.pos(v), set: true, bad: true}
		return a
	}
	if v.Kind != yaml.MappingNode {
		f.errorf(v, "admin: want a mapping with user and password_env, password_file or password_command, got %s", yamlpos.KindName(v))
		a.set, a.user = true, value{pos: f.pos(v), set: true, bad: true}
		return a
	}
	a.set, a.pos = true, f.pos(v)
	f.fields(v, "admin", adminKeys(), func(key string, _, v *yaml.Node) {
		switch key {
		case "user":
			a.user = f.scalar("admin.user", v)
		case "password_env":
			a.passwordEnv = f.scalar("admin.password_env", v)
		case "password_file":
			a.passwordFile = f.scalar("admin.password_file", v)
		case "password_command":
			a.passwordCommand = f.scalar("admin.password_command", v)
		case "allow_cleartext":
			a.allowCleartext = f.scalar("admin.allow_cleartext", v)
		}
	})
	return a
}

// role reads one entry of roles: (resourceKey "resource") or of a Hoop
// batch plan's items: (resourceKey "resource_name").
func (f *yamlFile) role(n *yaml.Node, resourceKey string) {
	what := "role"
	hoop := resourceKey == "resource_name" // Hoop's batch plan file
	if hoop {
		what = "item"
	}
	if !f.mapping(what, n) {
		return
	}
	r := rawRole{pos: f.pos(n)}
	if resourceKey == "resource_name" {
		r.format = formatHoopBatch
	}
	var privKey *yaml.Node
	f.fields(n, what, roleKeys(resourceKey), func(key string, k, v *yaml.Node) {
		switch key {
		case resourceKey:
			r.resource = f.scalar(key, v)
		case "type":
			r.typ = f.scalar(key, v)
		case "role":
			r.label = f.scalar(key, v)
		case "scopes":
			r.scopes = f.listField(key, v, hoop)
		case "privileges", "permissions":
			if privKey != nil {
				f.errorf(k, "both privileges and permissions given (permissions is an alias of privileges, first at line %d)", privKey.Line)
				r.privileges.bad = true
				return
			}
			privKey = k
			r.privileges = f.listField(key, v, hoop)
		case "source_role":
			r.sourceRole = f.scalar(key, v)
		case "rotate_password":
			r.rotate = f.scalar(key, v)
		case "functions":
			r.functions = f.listField(key, v, hoop)
		case "connection_limit":
			r.connLimit = f.scalar(key, v)
		case "valid_until":
			r.validUntil = f.scalar(key, v)
		case "password_max_age":
			r.maxAge = f.scalar(key, v)
		case "options":
			r.options = f.options(key, v)
		}
	})
	f.out.addRole(r)
}

// options reads a role's options: a mapping of setting names to single
// values; null means absent.
func (f *yamlFile) options(key string, n *yaml.Node) rawOptions {
	switch {
	case f.alias(n):
		return rawOptions{pos: f.pos(n), bad: true}
	case isNull(n):
		return rawOptions{}
	case n.Kind != yaml.MappingNode:
		f.errorf(n, "%s: want a mapping of setting names to values, got %s", key, yamlpos.KindName(n))
		return rawOptions{pos: f.pos(n), bad: true}
	}
	out := rawOptions{pos: f.pos(n)}
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		name := f.scalar(key, k)
		if name.bad || !name.set {
			out.bad = true
			if !name.set {
				f.errorf(k, "%s: empty setting name", key)
			}
			continue
		}
		if first, dup := seen[k.Value]; dup {
			f.errorf(k, "duplicate key %s in %s (first at line %d)", quote(k.Value), key, first.Line)
			out.bad = true
			continue
		}
		seen[k.Value] = k
		val := f.scalar(key+"."+k.Value, v)
		if val.bad {
			out.bad = true
			continue
		}
		if !val.set {
			val = value{pos: f.pos(v)} // null: reported by the validator
		}
		out.items = append(out.items, rawOption{name: name, value: val})
	}
	return out
}
