package reporter

import (
	"fmt"
	"io"
	"time"

	"github.com/rolecd/rolecd/applier/report"
)

// ApplyCounts summarises an apply report for its closing line.
type ApplyCounts struct{ Roles, Applied, Skipped, Refused, Failed int }

// WriteApplyText renders an apply report for a terminal: per role its
// outcome and every statement with its result and duration.
func WriteApplyText(w io.Writer, rep *report.Report) error {
	var c ApplyCounts
	c.Applied, c.Skipped, c.Refused, c.Failed = rep.Counts()
	for _, rr := range rep.Resources {
		c.Roles += len(rr.Roles)
	}
	data := struct {
		Rep    *report.Report
		Counts ApplyCounts
	}{rep, c}
	if err := templates.ExecuteTemplate(w, "apply", data); err != nil {
		return fmt.Errorf("rendering apply report: %w", err)
	}
	return nil
}

// ms renders a duration in milliseconds with one decimal.
func ms(d time.Duration) string {
	return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000)
}
