package hub_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/rolecd/rolecd/hub"
	"github.com/rolecd/rolecd/planner/spec"
	"github.com/rolecd/rolecd/store"
)

func TestSourceProbe(t *testing.T) {
	st := openStore(t)
	if err := st.PutAdmin(context.Background(), store.AdminCredential{Resource: "stored", User: "admin", Ciphertext: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(file, []byte("secret-value"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"SET": "secret-value", "HOME": t.TempDir()}
	probe := hub.SourceProbe(func(k string) string { return env[k] }, st, nil)
	for _, tc := range []struct {
		resource, cred string
		available      bool
	}{
		{"a", "env:SET", true},
		{"a", "env:UNSET", false},
		{"a", "file:" + file, true},
		{"a", "file:" + file + ".missing", false},
		{"a", "command:vault", true},
		{"stored", "store", true},
		{"other", "store", false},
	} {
		got := probe(context.Background(), tc.resource, spec.Connection{Credential: tc.cred})
		if got.Available != tc.available || (got.Problem == "") != tc.available {
			t.Errorf("%s %s: %+v, want available=%v with a problem when not", tc.resource, tc.cred, got, tc.available)
		}
		if got.Name == "secret-value" || got.Problem == "secret-value" {
			t.Errorf("%s: the value leaked into %+v", tc.cred, got)
		}
	}
}

func TestSourceProbePolicy(t *testing.T) {
	st := openStore(t)
	env := map[string]string{"PG_ADMIN_A": "x", "OTHER": "x"}
	probe := hub.SourceProbe(func(k string) string { return env[k] }, st, &spec.CredentialPolicy{EnvAllow: []string{"PG_ADMIN_*"}})
	if got := probe(context.Background(), "a", spec.Connection{Credential: "env:PG_ADMIN_A"}); !got.Available {
		t.Errorf("an allowed variable: %+v", got)
	}
	if got := probe(context.Background(), "a", spec.Connection{Credential: "env:OTHER"}); got.Available || got.Problem == "" {
		t.Errorf("a variable the policy refuses: %+v", got)
	}
}
