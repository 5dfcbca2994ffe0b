package report

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/rolecd/rolecd/internal/golden"
	"github.com/rolecd/rolecd/internal/session"
)

// fullReport sets every field of a report, the omitted-when-empty ones
// both set and empty, as an apply stores it.
func fullReport() *Report {
	return &Report{
		SID: "sid-apply", PlanSID: "sid-plan", Interrupted: true,
		Resources: []Resource{
			{Resource: "analytics", Roles: []Role{
				{RoleName: "rolecd_analytics_ro_6075a443", Label: "ro", Status: RoleApplied, Statements: []Statement{
					{Database: "postgres", SQL: "CREATE ROLE ...", Outcome: "ok", Duration: 7 * time.Millisecond, Seq: 1},
					{Database: "analytics", SQL: "GRANT SELECT ...", Outcome: "ok", Duration: 1500 * time.Microsecond, Seq: 2, Roles: 2},
				}},
				{RoleName: "rolecd_analytics_rw_5bd4b1a6", Label: "rw", Status: RoleSkipped, Reason: "in sync at plan time"},
				{RoleName: "rolecd_analytics_etl_1b2c3d4e", Label: "etl", Status: RoleFailed, Reason: "boom", Statements: []Statement{
					{Database: "analytics", SQL: "GRANT INSERT ...", Outcome: "failed", Error: "permission denied", Duration: 2},
				}},
			}},
			{Resource: "billing", Error: "connecting: connection refused", Roles: []Role{}},
		},
	}
}

// The report is the apply session's stored detail: its JSON must not
// change, and a stored one must read back to the same bytes.
func TestReportJSON(t *testing.T) {
	got, err := json.Marshal(fullReport())
	if err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, "report.json", got)
	var back Report
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatal(err)
	}
	again, err := json.Marshal(&back)
	if err != nil {
		t.Fatal(err)
	}
	if string(again) != string(got) {
		t.Errorf("a stored report does not read back the same:\n%s\n%s", again, got)
	}
}

func TestReportStatus(t *testing.T) {
	for _, tt := range []struct {
		name string
		rep  Report
		want session.Status
		// applied, skipped, refused, failed
		counts [4]int
	}{
		{name: "empty", want: session.Applied},
		{name: "applied and skipped", rep: Report{Resources: []Resource{{Roles: []Role{{Status: RoleApplied}, {Status: RoleSkipped}}}}},
			want: session.Applied, counts: [4]int{1, 1, 0, 0}},
		{name: "refused", rep: Report{Resources: []Resource{{Roles: []Role{{Status: RoleApplied}, {Status: RoleRefused}}}}},
			want: session.Refused, counts: [4]int{1, 0, 1, 0}},
		{name: "a failed resource counts", rep: Report{Resources: []Resource{{Error: "x"}, {Roles: []Role{{Status: RoleRefused}}}}},
			want: session.Failed, counts: [4]int{0, 0, 1, 1}},
		{name: "unknown role status is failed", rep: Report{Resources: []Resource{{Roles: []Role{{Status: "?"}}}}},
			want: session.Failed, counts: [4]int{0, 0, 0, 1}},
		{name: "interrupted wins", rep: *fullReport(), want: session.Interrupted, counts: [4]int{1, 1, 0, 2}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var c [4]int
			c[0], c[1], c[2], c[3] = tt.rep.Counts()
			if c != tt.counts {
				t.Errorf("Counts() = %v, want %v", c, tt.counts)
			}
			if got := tt.rep.Status(); got != tt.want {
				t.Errorf("Status() = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestNotApplied(t *testing.T) {
	for status, want := range map[string]bool{
		RoleApplied: false, RoleSkipped: false, RoleRefused: true, RoleFailed: true, "": false,
	} {
		if got := NotApplied(status); got != want {
			t.Errorf("NotApplied(%q) = %v, want %v", status, got, want)
		}
	}
}
