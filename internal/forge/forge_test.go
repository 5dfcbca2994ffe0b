package forge

import (
	"errors"
	"fmt"
	"io"
	"testing"
)

func TestPermissionRank(t *testing.T) {
	tests := []struct {
		perm string
		rank int
	}{
		{"none", 0}, {"read", 1}, {"triage", 2}, {"write", 3}, {"maintain", 4}, {"admin", 5},
		{"", 0}, {"superuser", 0}, {"Write", 0}, {"push", 0}, {"pull", 0},
	}
	for _, tc := range tests {
		if got := PermissionRank(tc.perm); got != tc.rank {
			t.Errorf("PermissionRank(%q) = %d, want %d", tc.perm, got, tc.rank)
		}
	}
}

func TestCanonicalPermission(t *testing.T) {
	tests := []struct{ in, want string }{
		{"read", "read"}, {"pull", "read"}, {"PULL", "read"}, {"push", "write"}, {"Write", "write"},
		{"ADMIN", "admin"}, {"maintain", "maintain"}, {"none", "none"}, {"superuser", "superuser"}, {"", ""},
	}
	for _, tc := range tests {
		if got := CanonicalPermission(tc.in); got != tc.want {
			t.Errorf("CanonicalPermission(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRefused(t *testing.T) {
	cause := errors.New("missing or wrong signature")
	tests := []struct {
		name string
		err  error
		want Reason
	}{
		{"unauthorized", &DeliveryError{Reason: Unauthorized, Err: cause}, Unauthorized},
		{"too large", &DeliveryError{Reason: TooLarge, Err: cause}, TooLarge},
		{"wrapped", fmt.Errorf("intake: %w", &DeliveryError{Reason: Unauthorized, Err: cause}), Unauthorized},
		{"any other error", io.ErrUnexpectedEOF, Invalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Refused(tc.err); got != tc.want {
				t.Errorf("Refused = %q, want %q", got, tc.want)
			}
		})
	}
	err := &DeliveryError{Reason: Invalid, Err: cause}
	if err.Error() != cause.Error() || !errors.Is(err, cause) {
		t.Errorf("DeliveryError reads %q and unwraps to %v; want its cause's message and the cause", err, errors.Unwrap(err))
	}
}

func TestRepositoryPermission(t *testing.T) {
	tests := []struct{ roleName, permission, want string }{
		{"maintain", "write", "maintain"},
		{"triage", "read", "triage"},
		{"security-reviewer", "read", "read"}, // a custom role: its base permission
		{"", "admin", "admin"},
		{"", "", "none"},
		{"custom", "", "none"},
	}
	for _, tc := range tests {
		if got := RepositoryPermission(tc.roleName, tc.permission); got != tc.want {
			t.Errorf("RepositoryPermission(%q, %q) = %q, want %q", tc.roleName, tc.permission, got, tc.want)
		}
	}
}

func TestAtLeast(t *testing.T) {
	tests := []struct {
		have, want string
		ok         bool
	}{
		{"admin", "write", true}, {"write", "write", true}, {"triage", "write", false},
		{"read", "read", true}, {"none", "read", false}, {"", "read", false}, {"Write", "read", false},
		{"custom-role", "read", false},
	}
	for _, tc := range tests {
		if got := AtLeast(tc.have, tc.want); got != tc.ok {
			t.Errorf("AtLeast(%q, %q) = %v, want %v", tc.have, tc.want, got, tc.ok)
		}
	}
}

func TestShort(t *testing.T) {
	for in, want := range map[string]string{
		"0123456789abcdef0123": "0123456789ab", "0123456789ab": "0123456789ab", "abc": "abc", "": "",
	} {
		if got := Short(in); got != want {
			t.Errorf("Short(%q) = %q, want %q", in, got, want)
		}
	}
}
