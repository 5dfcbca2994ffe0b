package spec

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// csvColumns are the columns of Hoop's import header. All are required but
// source_role, which Hoop's importer also lets older (managed-only) CSVs
// omit. "privileges" is accepted as an alias of "permissions".
func csvColumns() []string {
	return []string{"resource_name", "type", "role", "scopes", "permissions", "source_role"}
}

// csvMayOmit is the column of Hoop's header a CSV may leave out.
const csvMayOmit = "source_role"

// csvOptional is the column rolecd adds to Hoop's header.
const csvOptional = "rotate_password"

// csvFile decodes one CSV file of roles.
type csvFile struct {
	name string
	out  *decoded
	r    *csv.Reader
	cols map[string]int // column name -> index
	n    int            // number of header fields
}

// decodeCSV appends the roles and problems of one CSV file to out. The
// header's columns may come in any order; blank rows are skipped; cells are
// trimmed. The file keeps the meaning Hoop's importer gives it (see
// formatHoopCSV): scopes are ";"-separated, permissions ","-, ";"- or
// space-separated, and the role label is lower-cased.
func decodeCSV(name string, data []byte, out *decoded) {
	if !out.budget(name, data, "\n,;") {
		return
	}
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	f := &csvFile{name: name, out: out, r: r}
	var header []string
	for header == nil || blankRow(header) {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			out.errorf(f.at(1), "empty CSV file: want the header %s (and rows below it)", strings.Join(csvColumns(), ","))
			return
		}
		if err != nil {
			f.readError(err)
			return
		}
		header = rec
	}
	line, _ := r.FieldPos(0)
	if !f.header(header, line) {
		return
	}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			f.readError(err)
			return
		}
		f.row(rec, line)
		if out.full {
			return // over limits.max_roles: already reported
		}
	}
}

func (f *csvFile) at(line int) Pos { return Pos{File: f.name, Line: line} }

// readError reports a CSV syntax error at the line its record starts on.
func (f *csvFile) readError(err error) {
	var pe *csv.ParseError
	if !errors.As(err, &pe) {
		f.out.errorf(f.at(1), "invalid CSV: %v", err)
		return
	}
	msg := fmt.Sprintf("invalid CSV: %v", pe.Err)
	if pe.Line != pe.StartLine {
		msg += fmt.Sprintf(" (detected at line %d, column %d)", pe.Line, pe.Column)
	} else {
		msg += fmt.Sprintf(" (column %d)", pe.Column)
	}
	f.out.errorf(f.at(max(pe.StartLine, 1)), "%s", msg)
}

// header maps the columns, reporting unknown, duplicate and missing ones.
func (f *csvFile) header(header []string, line int) bool {
	f.n = len(header)
	f.cols = map[string]int{}
	ok := true
	for i, h := range header {
		name := strings.ToLower(h)
		if name == "privileges" {
			name = "permissions"
		}
		switch {
		case !slices.Contains(csvColumns(), name) && name != csvOptional:
			f.out.errorf(f.at(line), "unknown column %s: want %s (and optionally %s)",
				quote(h), strings.Join(csvColumns(), ","), csvOptional)
			ok = false
		case f.has(name) && !strings.EqualFold(header[f.cols[name]], h):
			f.out.errorf(f.at(line), "both permissions and privileges columns (privileges is an alias of permissions)")
			ok = false
		case f.has(name):
			f.out.errorf(f.at(line), "duplicate column %s", quote(h))
			ok = false
		default:
			f.cols[name] = i
		}
	}
	for _, c := range csvColumns() {
		if !f.has(c) && c != csvMayOmit {
			f.out.errorf(f.at(line), "missing column %q (want header %s)", c, strings.Join(csvColumns(), ","))
			ok = false
		}
	}
	return ok
}

// blankRow trims every cell of rec and reports whether all are empty.
func blankRow(rec []string) bool {
	blank := true
	for i := range rec {
		rec[i] = strings.TrimSpace(rec[i])
		blank = blank && rec[i] == ""
	}
	return blank
}

func (f *csvFile) has(col string) bool {
	_, ok := f.cols[col]
	return ok
}

// row reads one record into a raw role; blank rows are skipped.
func (f *csvFile) row(rec []string, headerLine int) {
	line, _ := f.r.FieldPos(0)
	if blankRow(rec) {
		return
	}
	if len(rec) != f.n {
		f.out.errorf(f.at(line), "%d fields, want %d as in the header (line %d)", len(rec), f.n, headerLine)
		return
	}
	cell := func(col string) value {
		i, ok := f.cols[col]
		if !ok || rec[i] == "" {
			return value{}
		}
		l, _ := f.r.FieldPos(i)
		return value{s: rec[i], pos: f.at(l), set: true}
	}
	list := func(col string) listValue {
		v := cell(col)
		if !v.set {
			return listValue{}
		}
		return splitList(v.s, v.pos)
	}
	label := cell("role")
	label.s = strings.ToLower(label.s) // as Hoop's importer does before naming the role
	perms := cell("permissions")
	f.out.addRole(rawRole{
		pos:        f.at(line),
		format:     formatHoopCSV,
		resource:   cell("resource_name"),
		typ:        cell("type"),
		label:      label,
		sourceRole: cell("source_role"),
		rotate:     cell("rotate_password"),
		scopes:     list("scopes"),
		privileges: splitPrivileges(perms.s, perms.pos),
	})
}
