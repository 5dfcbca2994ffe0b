package credentials

import (
	"errors"
	"strings"
	"testing"
)

func testKeeper(t *testing.T, fill byte) *Keeper {
	t.Helper()
	c, err := NewCipher([]byte(strings.Repeat(string(fill), KeySize)))
	if err != nil {
		t.Fatal(err)
	}
	return NewKeeper(c)
}

// TestKeeperNewPassword: the sealed password opens for its role only, and
// is the one the verifier was made from.
func TestKeeperNewPassword(t *testing.T) {
	k := testKeeper(t, 'k')
	verifier, sealed, err := k.NewPassword("app_ro")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(verifier, "SCRAM-SHA-256$") {
		t.Fatalf("verifier %q is not SCRAM-SHA-256", verifier)
	}
	pw, err := k.OpenRole("app_ro", sealed)
	if err != nil {
		t.Fatal(err)
	}
	if len(pw) != 43 || strings.Contains(verifier, pw) {
		t.Fatalf("password of %d characters, or inside the verifier", len(pw))
	}
	if ok, err := k.MatchesStored("app_ro", sealed, verifier); err != nil || !ok {
		t.Fatalf("MatchesStored = %v, %v; want true", ok, err)
	}
	other, _, err := k.NewPassword("app_ro")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := k.MatchesStored("app_ro", sealed, other); err != nil || ok {
		t.Fatalf("MatchesStored against another password's verifier = %v, %v; want false", ok, err)
	}
}

// TestKeeperLabels: a ciphertext opens only as the record it was sealed
// for, and only under its key.
func TestKeeperLabels(t *testing.T) {
	k := testKeeper(t, 'k')
	role, err := k.SealRole("app_ro", "role-secret")
	if err != nil {
		t.Fatal(err)
	}
	admin, err := k.SealAdmin("app", "admin-secret")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		open func() (string, error)
		want string // "" means ErrDecrypt
	}{
		{"role", func() (string, error) { return k.OpenRole("app_ro", role) }, "role-secret"},
		{"admin", func() (string, error) { return k.OpenAdmin("app", admin) }, "admin-secret"},
		{"role of another role", func() (string, error) { return k.OpenRole("app_rw", role) }, ""},
		{"role as admin", func() (string, error) { return k.OpenAdmin("app_ro", role) }, ""},
		{"admin as role", func() (string, error) { return k.OpenRole("app", admin) }, ""},
		{"admin of another resource", func() (string, error) { return k.OpenAdmin("billing", admin) }, ""},
		{"another key", func() (string, error) { return testKeeper(t, 'x').OpenRole("app_ro", role) }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.open()
			if tt.want == "" {
				if !errors.Is(err, ErrDecrypt) || got != "" {
					t.Fatalf("got %q, %v; want ErrDecrypt", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	if RoleLabel("r") != "role:r" || AdminLabel("a") != "admin:a" {
		t.Fatalf("labels changed: %q %q (stored ciphertexts are bound to them)", RoleLabel("r"), AdminLabel("a"))
	}
}
