package spec

import (
	"strings"

	"go.yaml.in/yaml/v3"
)

// format is the file format a role was declared in. Files in Hoop's formats
// keep the meaning Hoop gives them (DESIGN §2), so a team moving from Hoop
// can bring its files unchanged and get exactly the access Hoop granted.
type format int

const (
	// formatRolecd is a roles: entry of a rolecd YAML file: a bare "db"
	// scope is every user schema of db.
	formatRolecd format = iota
	// formatHoopCSV is a row of a CSV in Hoop's import format. As in Hoop's
	// importer (webapp provisioning bulk roles), the label is lower-cased
	// before the role is named, and permissions may be separated by ",",
	// ";" or spaces (scopes by ";" only).
	formatHoopCSV
	// formatHoopBatch is an items: entry of a Hoop batch plan file
	// (`hoop resources plan -f`). Hoop's CLI sends its label unchanged, so
	// it is not lower-cased.
	formatHoopBatch
)

// hoop reports whether f is one of Hoop's formats.
func (f format) hoop() bool { return f == formatHoopCSV || f == formatHoopBatch }

// HoopDefaultSchema is the schema a bare "db" scope means in Hoop's formats:
// Hoop's agent reads "db" as "db.public" and grants nothing elsewhere.
const HoopDefaultSchema = "public"

// hoopScope gives a scope of a Hoop file Hoop's meaning: "db" is
// "db.public".
func hoopScope(s Scope) Scope {
	if s.Schema == "" {
		s.Schema = HoopDefaultSchema
	}
	return s
}

// splitPrivileges splits a privileges cell as Hoop's importer does: on
// runs of ",", ";" and white space, so "SELECT, INSERT", "SELECT INSERT"
// and "SELECT;INSERT" are the same list. "ALL PRIVILEGES" stays one entry.
func splitPrivileges(s string, pos Pos) listValue {
	l := listValue{pos: pos}
	fields := strings.FieldsFunc(s, func(r rune) bool {
		return r == ',' || r == ';' || r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f'
	})
	for i := 0; i < len(fields); i++ {
		p := fields[i]
		if strings.EqualFold(p, AllPrivileges) && i+1 < len(fields) && strings.EqualFold(fields[i+1], "PRIVILEGES") {
			p += " " + fields[i+1]
			i++
		}
		l.items = append(l.items, value{s: p, pos: pos, set: true})
	}
	return l
}

// hoopPrivileges re-splits each entry of a Hoop batch item's privileges the
// way splitPrivileges does ("SELECT, INSERT" in one YAML string is two).
func hoopPrivileges(l listValue) listValue {
	out := listValue{pos: l.pos, bad: l.bad}
	for _, item := range l.items {
		out.items = append(out.items, splitPrivileges(item.s, item.pos).items...)
	}
	return out
}

// hoopResultsKey returns the results: key of a Hoop plan-result file
// (`hoop resources plan -o`: results: with sid and status per item), or nil.
func hoopResultsKey(root *yaml.Node) *yaml.Node {
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Value != "results" || v.Kind != yaml.SequenceNode || len(v.Content) == 0 || v.Content[0].Kind != yaml.MappingNode {
			continue
		}
		item := v.Content[0]
		for j := 0; j+1 < len(item.Content); j += 2 {
			if item.Content[j].Value == "sid" {
				return k
			}
		}
	}
	return nil
}
