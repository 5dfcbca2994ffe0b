package hub_test

import (
	"net/http"
	"testing"
)

// BenchmarkPages renders the fixture's pages (three resources, a dozen
// sessions, SQLite), the audit record of each view included.
func BenchmarkPages(b *testing.B) {
	f := newFixture(b, nil)
	for _, u := range []string{"/hub/", "/hub/resources/billing", "/hub/pulls", "/hub/sessions", "/hub/sessions/apply-1"} {
		b.Run(u, func(b *testing.B) {
			for b.Loop() {
				if rec := serve(f.h, newRequest("GET", u, "alice")); rec.Code != http.StatusOK {
					b.Fatalf("%s: %d", u, rec.Code)
				}
			}
		})
	}
}
