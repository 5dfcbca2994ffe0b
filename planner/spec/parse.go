package spec

import (
	"bytes"
	"cmp"
	"fmt"
	"path"
	"slices"
	"strings"
	"unicode/utf8"
)

// File is one role file to parse.
type File struct {
	// Name is how errors name the file: its path relative to the tree
	// root, slash-separated. Its extension selects the format.
	Name string
	Data []byte
}

// Options tune Parse and Load.
type Options struct {
	// Prefix is the role-name prefix; "" means DefaultPrefix.
	Prefix string
	// Resources are resources known from elsewhere (e.g. the repository
	// when parsing a `plan -f` file): roles may reference them. Those a
	// role references are part of the returned Tree, with Complete false
	// (the tree does not hold all their roles); a file declaring one of
	// them again must declare it identically.
	Resources []Resource
	// Credentials, when set, allow-lists the admin password sources of
	// the declared resources: a password_env, password_file or
	// password_command it refuses is a validation error at its line.
	// rolecd's commands always set it; nil skips the check (pure parsing).
	Credentials *CredentialPolicy
	// Limits bound the files read (zero fields: the defaults).
	Limits Limits
	// Batch is set for the files of `plan -f`: as in Hoop's batch plan, an
	// items: entry naming an unknown resource fails alone (Tree.Failed)
	// instead of failing the whole parse. In a role-files tree every
	// reference must resolve, so Load leaves it unset.
	Batch bool
	// Discover makes Load skip what obviously is not role content instead
	// of reporting it: directories for which ForeignDir is true and files
	// for which NotRoleFile gives a reason. Skipped, when set, is told of
	// each (slash-separated path, reason). Parse ignores both.
	Discover bool
	Skipped  func(name, reason string)
}

// utf8BOM is the byte order mark some editors put at the start of a file.
const utf8BOM = "\uFEFF"

// Parse parses and validates role files: YAML (*.yaml, *.yml) with
// resources:, roles: and/or Hoop's items: lists, and CSV (*.csv) roles with
// Hoop's header. It reports every problem at once, as Errors sorted by file,
// line and column; on error the Tree is nil, never half-loaded. Files over
// Options.Limits are refused before they are decoded.
func Parse(files []File, opts Options) (*Tree, error) {
	p, err := newParser(opts)
	if err != nil {
		return nil, err
	}
	sizes := make([]fileSize, len(files))
	for i, f := range files {
		sizes[i] = fileSize{f.Name, int64(len(f.Data))}
	}
	if es := p.checkSizes(sizes); len(es) > 0 {
		return nil, es
	}
	for _, f := range files {
		p.add(f)
	}
	return p.finish()
}

// parser decodes files one at a time, so that only one file's data and
// YAML nodes are in memory at once, then validates them together.
type parser struct {
	prefix string
	opts   Options
	limits Limits
	d      decoded
}

func newParser(opts Options) (*parser, error) {
	prefix := cmp.Or(opts.Prefix, DefaultPrefix)
	if err := CheckPrefix(prefix); err != nil {
		return nil, Errors{{Pos: Pos{File: "role_prefix"}, Msg: err.Error()}}
	}
	p := &parser{prefix: prefix, opts: opts, limits: opts.Limits.withDefaults()}
	p.d.maxDecls = p.limits.MaxRoles
	return p, nil
}

// fileSize is a file's name and size, known before it is read.
type fileSize struct {
	name string
	size int64
}

// checkSizes reports the files over MaxFileBytes, or the file at which the
// total crosses MaxTreeBytes (files over the per-file limit not counted).
func (p *parser) checkSizes(files []fileSize) Errors {
	var es Errors
	var total int64
	var crossed string
	for _, f := range files {
		if f.size > p.limits.MaxFileBytes {
			es = append(es, p.limits.fileTooLarge(f.name, f.size))
			continue
		}
		total += f.size
		if total > p.limits.MaxTreeBytes && crossed == "" {
			crossed = f.name
		}
	}
	if crossed != "" {
		es = append(es, p.limits.treeTooLarge(crossed, total))
	}
	sortErrors(es)
	return es
}

// add decodes one file.
func (p *parser) add(f File) { decodeFile(f, &p.d) }

// finish validates what was decoded into a Tree.
func (p *parser) finish() (*Tree, error) {
	if p.d.full {
		// Over a limit: what was left unread would make the validation of
		// the rest misleading ("unknown resource"); the limit is the news.
		sortErrors(p.d.errs)
		return nil, truncateErrors(p.d.errs, p.d.dropped)
	}
	v := &validator{prefix: p.prefix, policy: p.opts.Credentials, errs: p.d.errs}
	tree := v.tree(&p.d, p.opts.Resources, p.opts.Batch)
	if len(v.errs) > 0 {
		sortErrors(v.errs)
		return nil, truncateErrors(v.errs, p.d.dropped)
	}
	return tree, nil
}

// truncateErrors keeps the first maxReported problems and says how many
// more there are (dropped of them never kept), so a hostile file cannot
// make a report of any size.
func truncateErrors(es Errors, dropped int) Errors {
	if len(es) <= maxReported && dropped == 0 {
		return es
	}
	more := len(es) + dropped - maxReported
	es = es[:min(len(es), maxReported):min(len(es), maxReported)]
	last := es[len(es)-1].Pos
	return append(es, Error{Pos: Pos{File: last.File}, Msg: fmt.Sprintf("and %d more problem(s) not shown", more)})
}

// decodeFile reads one file into d according to its extension.
func decodeFile(f File, d *decoded) {
	if d.full {
		return // over limits.max_roles: already reported
	}
	ext := strings.ToLower(path.Ext(f.Name))
	if ext != ".yaml" && ext != ".yml" && ext != ".csv" {
		d.errorf(Pos{File: f.Name}, "unsupported file type %s: want .yaml, .yml or .csv", quote(ext))
		return
	}
	data := bytes.TrimPrefix(f.Data, []byte(utf8BOM))
	if !utf8.Valid(data) {
		d.errorf(invalidUTF8(f.Name, data, ext != ".csv"), "not valid UTF-8: save the file as UTF-8")
		return
	}
	if ext == ".csv" {
		decodeCSV(f.Name, data, d)
	} else {
		decodeYAML(f.Name, data, d)
	}
}

// invalidUTF8 returns the position of the first byte of data that is not
// valid UTF-8 (with its column when withCol).
func invalidUTF8(name string, data []byte, withCol bool) Pos {
	pos := Pos{File: name, Line: 1}
	col := 1
	for len(data) > 0 {
		r, size := utf8.DecodeRune(data)
		if r == utf8.RuneError && size <= 1 {
			break
		}
		if r == '\n' {
			pos.Line++
			col = 0
		}
		col++
		data = data[size:]
	}
	if withCol {
		pos.Col = col
	}
	return pos
}

// tree validates the decoded declarations into a Tree.
func (v *validator) tree(d *decoded, known []Resource, batch bool) *Tree {
	type entry struct {
		res     Resource
		fromOpt bool
		used    bool
	}
	resources := map[string]*entry{}
	for _, r := range known {
		// Its roles are declared elsewhere: this tree is not all of them.
		r.Complete = false
		resources[r.Name] = &entry{res: r, fromOpt: true}
	}
	declared := map[string]bool{} // every name declared in a file, even invalid
	for _, raw := range d.resources {
		if raw.name.usable() {
			declared[raw.name.s] = true
		}
		r, ok := v.resource(raw)
		if !ok {
			continue
		}
		prev, dup := resources[r.Name]
		switch {
		case !dup:
			resources[r.Name] = &entry{res: r}
		case !sameResource(prev.res, r):
			v.errorf(r.Pos, "resource %q already declared differently at %s", r.Name, prev.res.Pos)
		case prev.fromOpt:
			prev.used = true
		}
	}
	isKnown := func(name string) bool { return declared[name] || resources[name] != nil }
	roles := map[[2]string]Role{}
	var out Tree
	for _, raw := range d.roles {
		if batch && raw.format == formatHoopBatch && raw.resource.usable() && !isKnown(raw.resource.s) {
			// Checked like any item, then failed on its own, as Hoop does.
			if r, ok := v.role(raw, func(string) bool { return true }); ok {
				out.Failed = append(out.Failed, ItemError{Resource: r.Resource, Label: r.Label, Pos: r.Pos,
					Msg: fmt.Sprintf("resource not found: %s", quote(r.Resource))})
			}
			continue
		}
		r, ok := v.role(raw, isKnown)
		if !ok {
			continue
		}
		if e := resources[r.Resource]; e != nil {
			v.checkSourceRole(raw, r, e.res)
		}
		key := [2]string{r.Resource, r.Label}
		prev, dup := roles[key]
		switch {
		case !dup:
			roles[key] = r
			out.Roles = append(out.Roles, r)
			if e := resources[r.Resource]; e != nil {
				e.used = true
			}
		case !sameRole(prev, r):
			v.errorf(r.Pos, "role %q of resource %q already declared differently at %s", r.Label, r.Resource, prev.Pos)
		}
	}
	for _, e := range resources {
		if !e.fromOpt || e.used {
			out.Resources = append(out.Resources, e.res)
		}
	}
	slices.SortFunc(out.Resources, func(a, b Resource) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(out.Roles, func(a, b Role) int {
		return cmp.Or(strings.Compare(a.Resource, b.Resource), strings.Compare(a.Label, b.Label))
	})
	return &out
}

// sortErrors orders errs by file, line, column, then message.
func sortErrors(errs Errors) {
	slices.SortStableFunc(errs, func(a, b Error) int {
		return cmp.Or(strings.Compare(a.Pos.File, b.Pos.File), cmp.Compare(a.Pos.Line, b.Pos.Line),
			cmp.Compare(a.Pos.Col, b.Pos.Col), strings.Compare(a.Msg, b.Msg))
	})
}
