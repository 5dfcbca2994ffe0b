package hub

import (
	"encoding/json"
	"testing"

	"github.com/rolecd/rolecd/applier/report"
)

// applyOutcome reads what the applier stores: a report.Report's resources,
// role names and statuses.
func TestApplyOutcomeReadsReport(t *testing.T) {
	b, err := json.Marshal(&report.Report{SID: "s", Resources: []report.Resource{{Resource: "billing", Roles: []report.Role{
		{RoleName: "rolecd_billing_ro_12345678", Label: "ro", Status: report.RoleRefused, Reason: "drifted",
			Statements: []report.Statement{{Database: "billing", SQL: "GRANT ...", Outcome: "skipped"}}},
	}}}})
	if err != nil {
		t.Fatal(err)
	}
	var out applyOutcome
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Resources) != 1 || out.Resources[0].Resource != "billing" || len(out.Resources[0].Roles) != 1 {
		t.Fatalf("read %+v from %s", out, b)
	}
	if r := out.Resources[0].Roles[0]; r.RoleName != "rolecd_billing_ro_12345678" || r.Status != report.RoleRefused {
		t.Errorf("read role %+v from %s", r, b)
	}
}
