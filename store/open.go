package store

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// redactedMask replaces a password in URLs and error texts.
const redactedMask = "xxxxx"

// Open opens the store at rawURL and brings its schema up to date:
//
//	sqlite://relative/path.db   relative to the working directory
//	sqlite:///abs/path.db
//	postgres://user:password@host:port/db?sslmode=...   (or postgresql://)
//
// A SQLite database is created when missing (file 0600, parent directories
// 0700). Several processes may open one database at once. Errors name the
// URL without its password. A database migrated by a newer rolecd is
// refused with an error wrapping ErrSchemaNewer.
func Open(ctx context.Context, rawURL string) (Store, error) {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return nil, fmt.Errorf("opening store: URL has no scheme: want sqlite://PATH or postgres://...")
	}
	switch strings.ToLower(scheme) {
	case "sqlite":
		s, err := openSQLite(ctx, rest)
		if err != nil {
			return nil, fmt.Errorf("opening store %s: %w", rawURL, err)
		}
		return s, nil
	case "postgres", "postgresql":
		s, err := openPostgres(ctx, rawURL)
		if err != nil {
			for _, secret := range urlSecrets(rawURL) {
				err = scrub(err, secret)
			}
			return nil, fmt.Errorf("opening store %s: %w", RedactURL(rawURL), err)
		}
		return s, nil
	default:
		return nil, fmt.Errorf("opening store: unsupported URL scheme %q: want sqlite://PATH or postgres://...", scheme)
	}
}

// passwordParam matches a password or sslpassword value in a query string
// or keyword/value connection string, quoted or not.
var passwordParam = regexp.MustCompile(`(?i)((?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'|[^&\s]*)`)

// RedactURL returns rawURL with any password (in the user info or a
// password/sslpassword parameter) replaced by xxxxx, for logs and errors.
// It masks too much rather than too little when rawURL does not parse.
func RedactURL(rawURL string) string {
	if u, err := url.Parse(rawURL); err == nil && u.Scheme != "" && u.Opaque == "" {
		if u.User != nil {
			if _, has := u.User.Password(); has {
				u.User = url.UserPassword(u.User.Username(), redactedMask)
			}
		}
		q := u.Query()
		changed := false
		for k := range q {
			if lk := strings.ToLower(k); lk == "password" || lk == "sslpassword" {
				q[k] = []string{redactedMask}
				changed = true
			}
		}
		if changed {
			u.RawQuery = q.Encode()
		}
		return u.String()
	}
	// Unparseable: a password lies between the first ':' of the user info
	// and an '@', so mask from the first ':' after the scheme to the last '@'.
	s := rawURL
	if scheme, rest, ok := strings.Cut(s, "://"); ok {
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if user, _, has := strings.Cut(rest[:at], ":"); has {
				rest = user + ":" + redactedMask + rest[at:]
			}
		}
		s = scheme + "://" + rest
	}
	return passwordParam.ReplaceAllString(s, "${1}"+redactedMask)
}

// urlSecrets returns the strings of rawURL that may be passwords, parsed
// or not, so that an error quoting (part of) the URL can be scrubbed.
func urlSecrets(rawURL string) []string {
	var out []string
	if u, err := url.Parse(rawURL); err == nil && u.User != nil {
		if p, has := u.User.Password(); has {
			out = append(out, p)
		}
	}
	if _, rest, ok := strings.Cut(rawURL, "://"); ok {
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if _, p, has := strings.Cut(rest[:at], ":"); has {
				out = append(out, p)
				if dec, err := url.PathUnescape(p); err == nil {
					out = append(out, dec)
				}
			}
		}
	}
	for _, m := range passwordParam.FindAllStringSubmatch(rawURL, -1) {
		v := strings.Trim(m[2], "'")
		out = append(out, v)
		if dec, err := url.QueryUnescape(v); err == nil {
			out = append(out, dec)
		}
	}
	return out
}

// redactedError is an error whose text had a secret masked; Unwrap keeps
// the original for errors.Is and errors.As.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// scrub masks every occurrence of secret in err's text.
func scrub(err error, secret string) error {
	if err == nil || secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	return &redactedError{msg: strings.ReplaceAll(err.Error(), secret, redactedMask), err: err}
}
