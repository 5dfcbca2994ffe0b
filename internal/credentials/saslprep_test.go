package credentials

import "testing"

func TestSASLPrep(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"ascii unchanged", "Pass word!~", "Pass word!~"},
		{"ascii controls unchanged", "a\tb\x7f", "a\tb\x7f"},
		{"generated password unchanged", "xK3_-9aZ", "xK3_-9aZ"},
		{"already normal", "p\u00e4ssw\u00f6rd", "p\u00e4ssw\u00f6rd"},
		{"non-ascii space to space", "a\u00a0b\u3000c", "a b c"},
		{"mapped to nothing", "so\u00adft\u200dhy\ufe0fphen\u00e9", "softhyphen\u00e9"},
		{"nfkc ligature", "\ufb01x", "fix"},
		{"nfkc composes", "A\u030a", "\u00c5"},
		{"nfkc full width", "\uff21\uff22", "AB"},
		{"RTL only", "\u05d0\u05d1", "\u05d0\u05d1"},
		{"RTL mixed with LTR is used raw", "\u05d0a\u05d1", "\u05d0a\u05d1"},
		{"RTL not last is used raw", "\u05d0\u05d11", "\u05d0\u05d11"},
		{"control character is used raw", "\ufb01\u0085", "\ufb01\u0085"},
		{"private use is used raw", "\ufb01\ue000", "\ufb01\ue000"},
		{"non-character is used raw", "\ufb01\U0001fffe", "\ufb01\U0001fffe"},
		{"tagging is used raw", "\ufb01\U000e0041", "\ufb01\U000e0041"},
		{"unassigned is used raw", "\ufb01\U000e0100\U0003fffd", "\ufb01\U000e0100\U0003fffd"},
		{"empty after mapping is used raw", "\u00ad\u200d", "\u00ad\u200d"},
		{"zero width space is a space", "a\u200bb", "a b"},
		{"invalid utf-8 is used raw", "\xff\ufb01", "\xff\ufb01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := saslPrep(tt.in); got != tt.want {
				t.Errorf("saslPrep(%+q) = %+q, want %+q", tt.in, got, tt.want)
			}
		})
	}
}
