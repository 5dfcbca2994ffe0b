package spec

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// RoleOptions is the allow-list of settings a role file may set per role
// (ALTER ROLE ... SET), sorted. Each is harmless to a server's other users
// and validated before it reaches SQL.
func RoleOptions() []string {
	return []string{
		"application_name",
		"idle_in_transaction_session_timeout",
		"lock_timeout",
		"search_path",
		"statement_timeout",
		"work_mem",
	}
}

// Length caps of option values, in bytes.
const (
	maxNumberOption     = 32
	maxSearchPathOption = 1024
)

// ValidUntilLayout is how ValidUntil is written: RFC 3339, UTC, whole seconds.
const ValidUntilLayout = "2006-01-02T15:04:05Z"

// checkOption validates the value of allow-listed setting name.
func checkOption(name, val string) error {
	if val == "" {
		return errors.New("empty value")
	}
	for _, r := range val {
		if r < ' ' || r == 0x7f {
			return errors.New("control character in value")
		}
	}
	switch name {
	case "statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout":
		if !numberWithUnit(val, []string{"us", "ms", "s", "min", "h", "d"}) {
			return errors.New("want a whole number of milliseconds, or with a unit (us, ms, s, min, h, d), e.g. 30s")
		}
	case "work_mem":
		if !numberWithUnit(val, []string{"B", "kB", "MB", "GB", "TB"}) {
			return errors.New("want a whole number of kilobytes, or with a unit (B, kB, MB, GB, TB), e.g. 64MB")
		}
	case "application_name":
		if len(val) > MaxNameLen {
			return fmt.Errorf("longer than %d bytes", MaxNameLen)
		}
		for i := 0; i < len(val); i++ {
			if val[i] > '~' {
				return errors.New("want printable ASCII only")
			}
		}
	case "search_path":
		if len(val) > maxSearchPathOption {
			return fmt.Errorf("longer than %d bytes", maxSearchPathOption)
		}
		if _, err := ParseSearchPath(val); err != nil {
			return err
		}
	default:
		return fmt.Errorf("not in the allow-list (%s)", strings.Join(RoleOptions(), ", "))
	}
	return nil
}

// numberWithUnit reports whether s is 1-10 digits, optionally followed by
// one of units (case-sensitive, as PostgreSQL reads them).
func numberWithUnit(s string, units []string) bool {
	if len(s) > maxNumberOption {
		return false
	}
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 || i > 10 {
		return false
	}
	if i == len(s) {
		return true
	}
	for _, u := range units {
		if s[i:] == u {
			return true
		}
	}
	return false
}

// ParseSearchPath splits a search_path value the way PostgreSQL does
// (SplitIdentifierString): comma-separated names, each either
// double-quoted ("" stands for a quote) or bare (trimmed and lower-cased).
// It returns the schema names, at least one.
func ParseSearchPath(s string) ([]string, error) {
	var out []string
	rest := s
	for {
		rest = strings.TrimLeft(rest, " \t\n\r\f\v")
		var name string
		if strings.HasPrefix(rest, `"`) {
			var b strings.Builder
			i := 1
			for {
				j := strings.IndexByte(rest[i:], '"')
				if j < 0 {
					return nil, errors.New("unterminated quoted schema name")
				}
				b.WriteString(rest[i : i+j])
				i += j + 1
				if strings.HasPrefix(rest[i:], `"`) {
					b.WriteByte('"')
					i++
					continue
				}
				break
			}
			name, rest = b.String(), rest[i:]
			if name == "" {
				return nil, errors.New("empty quoted schema name")
			}
		} else {
			end := strings.IndexAny(rest, ", \t\n\r\f\v")
			if end < 0 {
				end = len(rest)
			}
			name, rest = rest[:end], rest[end:]
			if name == "" {
				return nil, errors.New("empty schema name")
			}
			name = asciiLower(name)
		}
		if len(name) > MaxNameLen {
			return nil, fmt.Errorf("schema name %s longer than %d bytes", quote(name), MaxNameLen)
		}
		if strings.IndexByte(name, 0) >= 0 || !utf8.ValidString(name) {
			return nil, fmt.Errorf("invalid schema name %s", quote(name))
		}
		out = append(out, name)
		rest = strings.TrimLeft(rest, " \t\n\r\f\v")
		if rest == "" {
			return out, nil
		}
		if rest[0] != ',' {
			return nil, fmt.Errorf("want a comma after schema name %s", quote(name))
		}
		rest = rest[1:]
	}
}

// asciiLower lower-cases A-Z only, as PostgreSQL folds unquoted names.
func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return r
	}, s)
}

// parseValidUntil reads a valid_until value: "infinity" (never expires,
// returned as ""), a date (midnight UTC) or an RFC 3339 time (cut to whole
// seconds), returned in ValidUntilLayout.
func parseValidUntil(s string) (string, error) {
	if strings.EqualFold(s, "infinity") {
		return "", nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		t, err = time.Parse(time.RFC3339, s)
	}
	if err != nil {
		return "", errors.New("want a date (2027-01-31), an RFC 3339 time (2027-01-31T18:00:00Z) or infinity")
	}
	t = t.UTC().Truncate(time.Second)
	if t.Year() < 1970 || t.Year() > 9999 {
		return "", errors.New("want a year from 1970 to 9999")
	}
	return t.Format(ValidUntilLayout), nil
}

// ParsePasswordMaxAge reads a password_max_age: a whole number of days
// ("90d"), weeks ("2w") or hours ("12h"), from one hour to ten years.
func ParsePasswordMaxAge(s string) (time.Duration, error) {
	bad := errors.New("want a whole number of days (90d), weeks (2w) or hours (12h), from 1h to 3650d")
	if len(s) < 2 {
		return 0, bad
	}
	n, err := strconv.ParseInt(s[:len(s)-1], 10, 64)
	if err != nil || n < 1 {
		return 0, bad
	}
	var unit time.Duration
	switch s[len(s)-1] {
	case 'h':
		unit = time.Hour
	case 'd':
		unit = 24 * time.Hour
	case 'w':
		unit = 7 * 24 * time.Hour
	default:
		return 0, bad
	}
	if n > int64(3650*24*time.Hour/unit) {
		return 0, bad
	}
	return time.Duration(n) * unit, nil
}

// FormatPasswordMaxAge writes a password_max_age in days when whole, else
// in hours; "" for 0 (none).
func FormatPasswordMaxAge(d time.Duration) string {
	switch {
	case d <= 0:
		return ""
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return fmt.Sprintf("%dh", d/time.Hour)
}

// parseConnectionLimit reads a connection_limit: -1 (none) or more.
func parseConnectionLimit(s string) (int, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < -1 || n > math.MaxInt32 {
		return 0, fmt.Errorf("want -1 (no limit) or a number of connections up to %d", math.MaxInt32)
	}
	return int(n), nil
}
