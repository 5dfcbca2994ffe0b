package store

import (
	"strings"
	"testing"
)

// TestMigrationsMatchAcrossBackends: each backend has the same numbered
// migrations, so that a schema version means the same thing on both.
func TestMigrationsMatchAcrossBackends(t *testing.T) {
	names := func(dir string) string {
		t.Helper()
		ms, err := loadMigrations(dir)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range ms {
			if strings.TrimSpace(m.sql) == "" {
				t.Errorf("%s/%s is empty", dir, m.name)
			}
			out = append(out, m.name)
		}
		return strings.Join(out, ",")
	}
	sqlite, postgres := names(sqliteDialect().migrations), names(postgresDialect().migrations)
	if sqlite != postgres {
		t.Errorf("sqlite migrations %s, postgres migrations %s", sqlite, postgres)
	}
}
