package spec

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"path"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// foreignDirs are directories that never hold role files: with
// Options.Discover, Load does not look inside them.
func foreignDirs() []string { return []string{"deploy", "testdata", "node_modules", "vendor"} }

// ForeignDir reports whether a directory of this name is skipped when
// discovering role files (hidden directories are always skipped).
func ForeignDir(name string) bool {
	return strings.HasPrefix(name, ".") || slices.Contains(foreignDirs(), name)
}

// NotRoleFile returns why f obviously is not a role file, or "" when it is
// or may be one (then parsing it reports its problems). Obviously not:
// another extension; YAML whose documents have none of the resources:,
// roles: or items: keys nor a key one typo away from them (a Kubernetes
// manifest, a docker-compose file, rolecd.yaml itself); a CSV whose header
// has neither resource_name nor two other columns of Hoop's header. A file
// that does not parse may be a broken role file, so it is not foreign.
func NotRoleFile(f File) string {
	switch strings.ToLower(path.Ext(f.Name)) {
	case ".yaml", ".yml":
		return notRoleYAML(bytes.TrimPrefix(f.Data, []byte(utf8BOM)))
	case ".csv":
		return notRoleCSV(bytes.TrimPrefix(f.Data, []byte(utf8BOM)))
	}
	return "not a .yaml, .yml or .csv file"
}

func notRoleYAML(data []byte) string {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	reason := ""
	for {
		var doc yaml.Node
		err := decodeNode(dec, &doc)
		if errors.Is(err, io.EOF) {
			return reason
		}
		if err != nil || doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
			return "" // unreadable: reported by the parser
		}
		switch why := foreignDocument(doc.Content[0]); why {
		case "":
			return ""
		case "-":
			// empty document: says nothing
		default:
			reason = why
		}
	}
}

// foreignDocument returns why one YAML document is not role content, "" if
// it is (or may be), "-" if it is empty.
func foreignDocument(root *yaml.Node) string {
	switch {
	case isNull(root):
		return "-"
	case root.Kind == yaml.SequenceNode:
		if len(root.Content) > 0 && root.Content[0].Kind == yaml.MappingNode {
			for i := 0; i+1 < len(root.Content[0].Content); i += 2 {
				if k := root.Content[0].Content[i].Value; k == "resource" || k == "resource_name" || k == "role" {
					return "" // a list of roles without its key: reported by the parser
				}
			}
		}
		return "YAML list without a resources:, roles: or items: key"
	case root.Kind != yaml.MappingNode:
		return "YAML without a resources:, roles: or items: key"
	}
	var keys []string
	for i := 0; i+1 < len(root.Content); i += 2 {
		keys = append(keys, root.Content[i].Value)
	}
	if slices.Contains(keys, "apiVersion") && slices.Contains(keys, "kind") {
		return "a Kubernetes manifest"
	}
	for _, k := range keys {
		for _, top := range topKeys() {
			if k != "rules" && nearKey(strings.ToLower(k), top) {
				return "" // a role file, perhaps with a typo: reported by the parser
			}
		}
	}
	return "YAML without a resources:, roles: or items: key"
}

// nearKey reports whether a is b or one edit (insertion, deletion,
// substitution, transposition) away from it.
func nearKey(a, b string) bool {
	if a == b {
		return true
	}
	if d := len(a) - len(b); d > 1 || d < -1 {
		return false
	}
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	j, k := len(a), len(b)
	for j > i && k > i && a[j-1] == b[k-1] {
		j--
		k--
	}
	switch {
	case j-i <= 1 && k-i <= 1:
		return true // one insertion, deletion or substitution
	case j-i == 2 && k-i == 2:
		return a[i] == b[i+1] && a[i+1] == b[i] // one transposition
	}
	return false
}

func notRoleCSV(data []byte) string {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return "" // empty: nothing to report either way
		}
		if err != nil {
			return "" // unreadable: reported by the parser
		}
		if blankRow(rec) {
			continue
		}
		known := 0
		for _, h := range rec {
			h = strings.ToLower(h)
			if h == "resource_name" {
				return ""
			}
			if h == "privileges" || h == csvOptional || h != "type" && slices.Contains(csvColumns(), h) {
				known++
			}
		}
		if known >= 2 {
			return ""
		}
		return "CSV without Hoop's header (resource_name,type,role,scopes,permissions,source_role)"
	}
}
