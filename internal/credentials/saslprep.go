package credentials

import (
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/bidi"
	"golang.org/x/text/unicode/norm"
)

// saslPrep prepares a password for SCRAM the way PostgreSQL's pg_saslprep
// does, so that a verifier computed here matches one the server (or libpq)
// computes from the same plaintext:
//
//   - A pure-ASCII password is used unchanged, byte for byte (every
//     password GeneratePassword makes is ASCII).
//   - A password that is not valid UTF-8 is used raw.
//   - Otherwise RFC 4013 SASLprep: non-ASCII spaces (RFC 3454 C.1.2) map to
//     U+0020, "commonly mapped to nothing" characters (B.1) are removed,
//     the result is NFKC-normalised.
//   - As in PostgreSQL, when the mapped string is empty, contains a
//     prohibited (C.1.2, C.2-C.9) or unassigned code point, or breaks the
//     bidirectional rule (RFC 3454 section 6), the raw password is used
//     instead of failing. PostgreSQL runs these checks on the mapped string
//     before normalisation; so do we.
//
// Where this differs from PostgreSQL: SASLprep's "unassigned" (table A.1)
// and bidi categories (D.1, D.2) are defined by Unicode 3.2, for which Go
// has no tables. Here "unassigned" means unassigned in Go's unicode tables
// and the bidi categories come from golang.org/x/text/unicode/bidi, both of
// a newer Unicode. So a non-ASCII password containing a character assigned
// after Unicode 3.2 is prepared here but used raw by PostgreSQL, which only
// matters if mapping or NFKC changes that password.
func saslPrep(password string) string {
	if isASCII(password) || !utf8.ValidString(password) {
		return password
	}
	mapped := make([]rune, 0, len(password))
	for _, r := range password {
		switch {
		case inRanges(r, nonASCIISpace):
			mapped = append(mapped, ' ')
		case inRanges(r, mappedToNothing):
		default:
			mapped = append(mapped, r)
		}
	}
	if len(mapped) == 0 || !allowed(mapped) {
		return password
	}
	return norm.NFKC.String(string(mapped))
}

// allowed applies SASLprep's prohibition and bidi checks.
func allowed(runes []rune) bool {
	hasRandAL, hasL := false, false
	for _, r := range runes {
		if prohibited(r) || !assigned(r) {
			return false
		}
		switch bidiClass(r) {
		case bidi.R, bidi.AL:
			hasRandAL = true
		case bidi.L:
			hasL = true
		}
	}
	if !hasRandAL {
		return true
	}
	first, last := bidiClass(runes[0]), bidiClass(runes[len(runes)-1])
	isRandAL := func(c bidi.Class) bool { return c == bidi.R || c == bidi.AL }
	return !hasL && isRandAL(first) && isRandAL(last)
}

func bidiClass(r rune) bidi.Class {
	p, _ := bidi.LookupRune(r)
	return p.Class()
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// assigned reports whether r has a general category other than Cn.
func assigned(r rune) bool {
	return !unicode.Is(unicode.Cn, r)
}

func prohibited(r rune) bool {
	for _, table := range prohibitedOutput {
		if inRanges(r, table) {
			return true
		}
	}
	// C.4: the last two code points of every plane are non-characters.
	return r&0xFFFE == 0xFFFE
}

// runeRange is an inclusive range of code points.
type runeRange struct{ lo, hi rune }

func inRanges(r rune, table []runeRange) bool {
	for _, rr := range table {
		if r >= rr.lo && r <= rr.hi {
			return true
		}
	}
	return false
}

// RFC 3454 tables used by SASLprep (RFC 4013).
var (
	// nonASCIISpace is table C.1.2.
	nonASCIISpace = []runeRange{
		{0x00A0, 0x00A0}, {0x1680, 0x1680}, {0x2000, 0x200B}, {0x202F, 0x202F},
		{0x205F, 0x205F}, {0x3000, 0x3000},
	}
	// mappedToNothing is table B.1.
	mappedToNothing = []runeRange{
		{0x00AD, 0x00AD}, {0x034F, 0x034F}, {0x1806, 0x1806}, {0x180B, 0x180D},
		{0x200B, 0x200D}, {0x2060, 0x2060}, {0xFE00, 0xFE0F}, {0xFEFF, 0xFEFF},
	}
	// prohibitedOutput lists tables C.1.2 and C.2.1 to C.9 (the per-plane
	// non-characters of C.4 are checked in prohibited).
	prohibitedOutput = [][]runeRange{
		nonASCIISpace,
		{{0x0000, 0x001F}, {0x007F, 0x007F}}, // C.2.1 ASCII control
		{ // C.2.2 non-ASCII control
			{0x0080, 0x009F}, {0x06DD, 0x06DD}, {0x070F, 0x070F}, {0x180E, 0x180E},
			{0x200C, 0x200D}, {0x2028, 0x2029}, {0x2060, 0x2063}, {0x206A, 0x206F},
			{0xFEFF, 0xFEFF}, {0xFFF9, 0xFFFC}, {0x1D173, 0x1D17A},
		},
		{{0xE000, 0xF8FF}, {0xF0000, 0xFFFFD}, {0x100000, 0x10FFFD}}, // C.3 private use
		{{0xFDD0, 0xFDEF}}, // C.4 non-characters
		{{0xD800, 0xDFFF}}, // C.5 surrogates
		{{0xFFF9, 0xFFFD}}, // C.6 inappropriate for plain text
		{{0x2FF0, 0x2FFB}}, // C.7 inappropriate for canonical representation
		{ // C.8 change display properties or deprecated
			{0x0340, 0x0341}, {0x200E, 0x200F}, {0x202A, 0x202E}, {0x206A, 0x206F},
		},
		{{0xE0001, 0xE0001}, {0xE0020, 0xE007F}}, // C.9 tagging
	}
)
