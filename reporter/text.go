// Package reporter renders plan and apply results for people: the console
// text a DBA reads at a glance, and the markdown of pull-request comments
// and drift issues (text/template files, split at the forge's comment
// limit). It is pure; reporter/github and reporter/audit post the results.
package reporter

import (
	"embed"
	"fmt"
	"io"
	"strings"
	"text/template"

	"github.com/rolecd/rolecd/planner"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

var templates = template.Must(template.New("").Funcs(template.FuncMap{
	"join":       strings.Join,
	"orderedDBs": planner.OrderedDatabases,
	"symbol":     func(r planner.RolePlan) string { return roleStatus(r).symbol },
	"word":       func(r planner.RolePlan) string { return roleStatus(r).word },
	"indent":     indent,
	"ms":         ms,
}).ParseFS(templateFS, "templates/*.tmpl"))

type status struct{ symbol, word string }

func roleStatus(r planner.RolePlan) status {
	switch {
	case !r.CurrentState.Exists:
		return status{"+", "create"}
	case r.CurrentState.Adopt:
		return status{"~", "adopt and update"}
	case r.CurrentState.RequiresMigration:
		return status{"~", "update"}
	default:
		return status{"=", "in sync"}
	}
}

func indent(n int, s string) string {
	return strings.ReplaceAll(s, "\n", "\n"+strings.Repeat(" ", n))
}

// WritePlanText renders doc for a terminal.
func WritePlanText(w io.Writer, doc *planner.Document) error {
	data := struct {
		Doc *planner.Document
		Sum planner.Summary
	}{doc, doc.Summary()}
	if err := templates.ExecuteTemplate(w, "plan", data); err != nil {
		return fmt.Errorf("rendering plan: %w", err)
	}
	return nil
}
