package hub

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rolecd/rolecd/internal/forge"
	"github.com/rolecd/rolecd/planner"
	"github.com/rolecd/rolecd/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// pageNames are the templates under templates/, each rendered inside
// layout.html.
var pageNames = []string{"inventory", "resource", "pulls", "sessions", "session", "login", "error"}

// page is what layout.html renders.
type page struct {
	Title string
	Nav   string
	User  *identity
	CSRF  string
	Now   time.Time
	Data  any
}

var funcs = template.FuncMap{
	"time":      renderTime,
	"short":     forge.Short,
	"join":      joinOr,
	"dur":       renderDuration,
	"status":    statusClass,
	"path":      url.PathEscape,
	"sqlOf":     func(r planner.RolePlan, db string) []dbSQL { return sqlOf(r.SQLPlan, db) },
	"pretty":    prettyJSON,
	"contains":  strings.Contains,
	"hasPrefix": strings.HasPrefix,
	"sessionsOf": func(key, value string) string {
		return Prefix + "sessions?" + url.Values{key: {value}}.Encode()
	},
	"pct": func(n, total int) int {
		if total == 0 {
			return 0
		}
		return n * 100 / total
	},
}

func parseTemplates() (map[string]*template.Template, error) {
	out := map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/parts.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parsing the %s page: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}

// titles and navigation entries of the pages.
var titles = map[string][2]string{
	"inventory": {"Inventory", "inventory"},
	"resource":  {"Resource", "inventory"},
	"pulls":     {"Pull requests", "pulls"},
	"sessions":  {"Sessions", "sessions"},
	"session":   {"Session", "sessions"},
	"login":     {"Sign in", ""},
	"error":     {"Error", ""},
}

// render executes a page into w with status code.
func (h *Hub) render(w http.ResponseWriter, r *http.Request, code int, name string, id *identity, data any) {
	p := page{Title: titles[name][0], Nav: titles[name][1], User: id, Now: h.opts.Now().UTC(), Data: data}
	if id != nil {
		p.CSRF = h.keys.csrfToken(id.ID)
	}
	var b bytes.Buffer
	if err := h.pages[name].Execute(&b, p); err != nil {
		h.log.Error().Err(err).Str("page", name).Msg("rendering a hub page")
		http.Error(w, "rendering the page failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write(b.Bytes())
}

// renderTime is a <time> element in UTC; static/time.js rewrites its
// text in the viewer's zone.
func renderTime(t time.Time) template.HTML {
	if t.IsZero() {
		return "—"
	}
	t = t.UTC()
	return template.HTML(fmt.Sprintf(`<time datetime="%s">%s</time>`,
		t.Format(time.RFC3339), template.HTMLEscapeString(t.Format("2006-01-02 15:04:05 UTC"))))
}

func renderDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "—"
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000)
	}
	return d.Round(10 * time.Millisecond).String()
}

// statusClass is the CSS class of a status or outcome: failures and
// interrupted or still-running applies stand out.
func statusClass(s any) string {
	switch fmt.Sprint(s) {
	case string(store.StatusFailed), string(store.StatusInterrupted), "rolled-back":
		return "bad"
	case string(store.StatusRefused), string(store.StatusRunning), string(store.StatusChanges), RoleDrifted, "skipped":
		return "warn"
	case string(store.StatusOK), string(store.StatusApplied), string(store.StatusNoChanges), RoleInSync:
		return "ok"
	case RolePending:
		return "info"
	}
	return "muted"
}

func prettyJSON(v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return ""
	}
	return string(b)
}

// staticHandler serves the embedded CSS and script.
func staticHandler() http.Handler {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err)
	}
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "" || strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	})
}
