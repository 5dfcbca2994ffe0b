package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/rolecd/rolecd/store"
)

// states returns version:state pairs of creds, in order.
func states(creds []store.Credential) [][2]any {
	out := [][2]any{}
	for _, c := range creds {
		out = append(out, [2]any{c.Version, c.State})
	}
	return out
}

func testCredentials(t *testing.T, s store.Store) {
	ctx := t.Context()
	const role = "rolecd_analytics_ro_6075a443"
	put := func(role string, ciphertext []byte) int {
		t.Helper()
		v, err := s.PutPendingCredential(ctx, store.Credential{
			RoleName: role, Resource: "analytics", Ciphertext: ciphertext, CreatedAt: at(time.Minute),
			State: store.CredentialActive, Version: 7, // ignored: a new version is pending
			Host: "db1.internal", Port: 5433, Database: fmt.Sprintf("db%d", len(ciphertext)), SSLMode: "verify-full",
		})
		if err != nil {
			t.Fatalf("PutPendingCredential(%q): %v", role, err)
		}
		return v
	}
	check := func(what string, want [][2]any) {
		t.Helper()
		creds, err := s.Credentials(ctx, role)
		if err != nil {
			t.Fatalf("%s: Credentials: %v", what, err)
		}
		equal(t, what, states(creds), want)
	}

	if v := put(role, []byte{0, 1, 2, 255}); v != 1 {
		t.Errorf("first version = %d, want 1", v)
	}
	if v := put(role, []byte("second")); v != 2 {
		t.Errorf("second version = %d, want 2", v)
	}
	creds, err := s.Credentials(ctx, role)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "credentials, newest first", creds, []store.Credential{
		{RoleName: role, Resource: "analytics", Version: 2, State: store.CredentialPending, Ciphertext: []byte("second"), CreatedAt: at(time.Minute),
			Host: "db1.internal", Port: 5433, Database: "db6", SSLMode: "verify-full"},
		{RoleName: role, Resource: "analytics", Version: 1, State: store.CredentialPending, Ciphertext: []byte{0, 1, 2, 255}, CreatedAt: at(time.Minute),
			Host: "db1.internal", Port: 5433, Database: "db4", SSLMode: "verify-full"},
	})

	if err := s.ActivateCredential(ctx, role, 2); err != nil {
		t.Fatal(err)
	}
	check("after activating 2", [][2]any{{2, store.CredentialActive}, {1, store.CredentialRetired}})
	if v := put(role, []byte("third")); v != 3 {
		t.Errorf("third version = %d, want 3", v)
	}
	check("after a new pending version", [][2]any{{3, store.CredentialPending}, {2, store.CredentialActive}, {1, store.CredentialRetired}})
	if err := s.ActivateCredential(ctx, role, 3); err != nil {
		t.Fatal(err)
	}
	check("after activating 3", [][2]any{{3, store.CredentialActive}, {2, store.CredentialRetired}, {1, store.CredentialRetired}})
	wantNotFound(t, "activating a missing version", s.ActivateCredential(ctx, role, 9))
	check("after the refused activation", [][2]any{{3, store.CredentialActive}, {2, store.CredentialRetired}, {1, store.CredentialRetired}})

	// Versions are per role.
	const other = "rolecd_billing_rw_0a1b2c3d"
	if v := put(other, []byte("o")); v != 1 {
		t.Errorf("first version of another role = %d, want 1", v)
	}
	if err := s.DeleteCredentials(ctx, role); err != nil {
		t.Fatal(err)
	}
	_, err = s.Credentials(ctx, role)
	wantNotFound(t, "Credentials after DeleteCredentials", err)
	if creds, err := s.Credentials(ctx, other); err != nil || len(creds) != 1 {
		t.Errorf("other role after deleting the first: %d credentials, error %v; want 1", len(creds), err)
	}
	if err := s.DeleteCredentials(ctx, role); err != nil {
		t.Errorf("deleting again: %v", err)
	}

	for _, bad := range []store.Credential{
		{RoleName: role, Resource: "analytics"},                       // no ciphertext
		{Resource: "analytics", Ciphertext: []byte("x")},              // no role
		{RoleName: role, Ciphertext: []byte("x")},                     // no resource
		{RoleName: role, Resource: "analytics", Ciphertext: []byte{}}, // empty ciphertext
	} {
		if _, err := s.PutPendingCredential(ctx, bad); err == nil {
			t.Errorf("PutPendingCredential(%+v) succeeded", bad)
		}
	}

	// Several roles in one call: versions in order, all or none.
	batch := []store.Credential{
		{RoleName: "batch_a", Resource: "analytics", Ciphertext: []byte("a1")},
		{RoleName: "batch_b", Resource: "analytics", Ciphertext: []byte("b1")},
		{RoleName: "batch_a", Resource: "analytics", Ciphertext: []byte("a2")},
	}
	versions, err := s.PutPendingCredentials(ctx, batch)
	if err != nil || !slices.Equal(versions, []int{1, 1, 2}) {
		t.Fatalf("PutPendingCredentials = %v, %v; want [1 1 2]", versions, err)
	}
	if _, err := s.PutPendingCredentials(ctx, []store.Credential{{RoleName: "batch_c", Resource: "analytics", Ciphertext: []byte("c")}, {RoleName: "batch_c"}}); err == nil {
		t.Error("PutPendingCredentials with an invalid credential succeeded")
	}
	_, err = s.Credentials(ctx, "batch_c")
	wantNotFound(t, "a credential of a refused batch", err)
	if err := s.ActivateCredentials(ctx, map[string]int{"batch_a": 2, "batch_b": 1}); err != nil {
		t.Fatal(err)
	}
	for role, active := range map[string]int{"batch_a": 2, "batch_b": 1} {
		cs, err := s.Credentials(ctx, role)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			if want := c.Version == active; (c.State == store.CredentialActive) != want {
				t.Errorf("%s version %d is %s", role, c.Version, c.State)
			}
		}
	}
	if err := s.ActivateCredentials(ctx, map[string]int{"batch_a": 1, "batch_b": 9}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ActivateCredentials with a missing version = %v, want ErrNotFound", err)
	}
	if cs, _ := s.Credentials(ctx, "batch_a"); len(cs) != 2 || cs[0].State != store.CredentialActive {
		t.Errorf("a refused ActivateCredentials changed batch_a: %+v", cs)
	}
}

func testAdmin(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.GetAdmin(ctx, "analytics")
	wantNotFound(t, "GetAdmin before PutAdmin", err)
	tests := []store.AdminCredential{
		{Resource: "analytics", User: "postgres", Ciphertext: []byte{0, 9, 8}, UpdatedAt: at(0)},
		{Resource: "billing", User: "admin", Ciphertext: []byte("b"), UpdatedAt: at(time.Second)},
		{Resource: "analytics", User: "rolecd_admin", Ciphertext: []byte("replaced"), UpdatedAt: at(time.Hour)},
	}
	for _, c := range tests {
		if err := s.PutAdmin(ctx, c); err != nil {
			t.Fatalf("PutAdmin(%q): %v", c.Resource, err)
		}
		got, err := s.GetAdmin(ctx, c.Resource)
		if err != nil {
			t.Fatal(err)
		}
		equal(t, "GetAdmin after PutAdmin", got, c)
	}
	got, err := s.GetAdmin(ctx, "billing")
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "billing, untouched by replacing analytics", got, tests[1])

	before := time.Now().Add(-time.Millisecond)
	if err := s.PutAdmin(ctx, store.AdminCredential{Resource: "now", User: "u", Ciphertext: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetAdmin(ctx, "now"); err != nil || got.UpdatedAt.Before(before) {
		t.Errorf("PutAdmin without UpdatedAt: got %v, %v; want now", got.UpdatedAt, err)
	}
	for _, bad := range []store.AdminCredential{
		{User: "u", Ciphertext: []byte("x")},
		{Resource: "r", Ciphertext: []byte("x")},
		{Resource: "r", User: "u"},
	} {
		if err := s.PutAdmin(ctx, bad); err == nil {
			t.Errorf("PutAdmin(%+v) succeeded", bad)
		}
	}
}
