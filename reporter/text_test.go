package reporter

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/rolecd/rolecd/internal/golden"
	"github.com/rolecd/rolecd/planner"
)

func sampleDocument() *planner.Document {
	create := map[string][]string{
		"postgres":  {`CREATE ROLE "rolecd_analytics_ro_6075a443" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT CONNECTION LIMIT -1 PASSWORD '<redacted>'`, `COMMENT ON ROLE "rolecd_analytics_ro_6075a443" IS 'rolecd: {"resource":"analytics","label":"ro","type":"managed"}'`},
		"analytics": {`GRANT CONNECT ON DATABASE "analytics" TO "rolecd_analytics_ro_6075a443"`, `GRANT USAGE ON SCHEMA "public", "reporting" TO "rolecd_analytics_ro_6075a443"`, `GRANT SELECT ON ALL TABLES IN SCHEMA "public", "reporting" TO "rolecd_analytics_ro_6075a443"`},
	}
	adopt := map[string][]string{
		"postgres": {`ALTER ROLE "hoopdev_analytics_bi_0c1e5d43" WITH NOCREATEDB`, `COMMENT ON ROLE "hoopdev_analytics_bi_0c1e5d43" IS 'rolecd: {"resource":"analytics","label":"bi","type":"external"}'`, `GRANT "pg_read_all_data" TO "hoopdev_analytics_bi_0c1e5d43"`},
	}
	return &planner.Document{
		Version:   planner.DocumentVersion,
		SID:       "6f1c2d3e-0000-4000-8000-000000000001",
		CreatedAt: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC),
		Source:    planner.Source{Commit: "3f2a9c1"},
		Resources: []planner.ResourcePlan{
			{
				Resource: "analytics", MaintenanceDatabase: "postgres", ServerVersion: "15.18",
				Roles: []planner.RolePlan{
					{
						Config:       planner.Config{Type: "external", Label: "bi", RoleName: "hoopdev_analytics_bi_0c1e5d43", SourceRole: "pg_read_all_data"},
						CurrentState: planner.State{Exists: true, Adopt: true, RequiresMigration: true, Changes: []string{"adopt existing role without rolecd marker", "revert CREATEDB", `grant membership in "pg_read_all_data"`}},
						SQLPlan:      adopt, Checksum: planner.Checksum("analytics", "hoopdev_analytics_bi_0c1e5d43", adopt),
					},
					{
						Config: planner.Config{Type: "managed", Label: "ro", RoleName: "rolecd_analytics_ro_6075a443", Scopes: []string{"analytics"}, Privileges: []string{"SELECT"}},
						CurrentState: planner.State{RequiresMigration: true,
							Scopes:  []planner.ScopeState{{Scope: "analytics", Tables: 12, Status: planner.StatusUnprovisioned}},
							Changes: []string{"create role", "grant CONNECT on database analytics"}},
						SQLPlan: create, Checksum: planner.Checksum("analytics", "rolecd_analytics_ro_6075a443", create),
					},
					{
						Config:       planner.Config{Type: "managed", Label: "rw", RoleName: "rolecd_analytics_rw_5bd4b1a6", Scopes: []string{"analytics.reporting"}, Privileges: []string{"SELECT", "INSERT"}},
						CurrentState: planner.State{Exists: true, Scopes: []planner.ScopeState{{Scope: "analytics.reporting", Tables: 1, Status: planner.StatusInSync}}},
						SQLPlan:      map[string][]string{}, Checksum: planner.Checksum("analytics", "rolecd_analytics_rw_5bd4b1a6", nil),
					},
				},
			},
			{Resource: "billing", MaintenanceDatabase: "postgres", Roles: []planner.RolePlan{},
				Error: "inspecting: resource billing: connecting to 127.0.0.1:54330 database \"postgres\" as \"postgres\": dial error: connection refused"},
			{Resource: "empty", MaintenanceDatabase: "postgres", ServerVersion: "17.2", Roles: []planner.RolePlan{}},
		},
	}
}

func TestWritePlanText(t *testing.T) {
	var b bytes.Buffer
	if err := WritePlanText(&b, sampleDocument()); err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, "plan.txt.golden", b.Bytes())
}

// What a plan could not check is shown under its resource, in the text
// and in the pull-request comment.
func TestPlanNotes(t *testing.T) {
	doc := sampleDocument()
	const note = `password drift is not checked: admin "rds_master" is not a superuser`
	doc.Resources[0].Notes = []string{note}
	var b bytes.Buffer
	if err := WritePlanText(&b, doc); err != nil {
		t.Fatal(err)
	}
	header := "resource " + doc.Resources[0].Resource + " "
	if text := b.String(); !strings.Contains(text, "\n  note: "+note+"\n") || strings.Index(text, header) > strings.Index(text, "note: ") {
		t.Errorf("plan text lacks the note under its resource:\n%s", text)
	}
	comment := strings.Join(PlanComment(doc, CommentInfo{Commit: headSHA, PR: 12}), "")
	if !strings.Contains(comment, "#### Not checked\n\n- **"+doc.Resources[0].Resource+"**: password drift is not checked") {
		t.Errorf("plan comment lacks the note:\n%s", comment)
	}
}
