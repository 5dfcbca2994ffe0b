package store_test

import (
	"testing"

	"github.com/rolecd/rolecd/store"
)

func TestRedactURL(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"no password", "postgres://rolecd@db.internal:5432/rolecd?sslmode=require", "postgres://rolecd@db.internal:5432/rolecd?sslmode=require"},
		{"user info password", "postgres://rolecd:s3cret@db.internal/rolecd", "postgres://rolecd:xxxxx@db.internal/rolecd"},
		{"encoded password", "postgresql://rolecd:p%40ss%2Fw@db/x", "postgresql://rolecd:xxxxx@db/x"},
		{"query password", "postgres://db/x?password=s3cret&sslmode=disable", "postgres://db/x?password=xxxxx&sslmode=disable"},
		{"query sslpassword", "postgres://db/x?SSLPassword=s3cret", "postgres://db/x?SSLPassword=xxxxx"},
		{"unparseable, slash in password", "postgres://u:pa/ss@h:5432/x", "postgres://u:xxxxx@h:5432/x"},
		{"unparseable, bad escape", "postgres://u:p%zz@h/x?password=s3cret", "postgres://u:xxxxx@h/x?password=xxxxx"},
		{"keyword form", "host=h password='s3 cret' user=u", "host=h password=xxxxx user=u"},
		{"sqlite", "sqlite:///var/lib/rolecd/rolecd.db", "sqlite:///var/lib/rolecd/rolecd.db"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := store.RedactURL(tc.in); got != tc.want {
				t.Errorf("RedactURL(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
