package bearer

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRequire(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("secret data")) })
	const token = "0123456789abcdef-token"
	tests := []struct {
		name   string
		guard  Guard
		header string
		code   int
	}{
		{"right token", New(token), "Bearer " + token, 200},
		{"scheme is case-insensitive", New(token), "bearer " + token, 200},
		{"no header", New(token), "", 401},
		{"wrong token", New(token), "Bearer 0123456789abcdef-tokeN", 401},
		{"prefix of the token", New(token), "Bearer " + token[:10], 401},
		{"token and more", New(token), "Bearer " + token + "x", 401},
		{"basic auth", New(token), "Basic " + token, 401},
		{"no scheme", New(token), token, 401},
		{"no token configured", Guard{}, "Bearer ", 401},
		{"no token configured, empty bearer", New(""), "Bearer", 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/api/v1/sessions", nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			w := httptest.NewRecorder()
			tc.guard.Require(ok).ServeHTTP(w, req)
			if w.Code != tc.code {
				t.Errorf("status %d, want %d", w.Code, tc.code)
			}
			if tc.code == 401 {
				if strings.Contains(w.Body.String(), "secret data") || w.Header().Get("WWW-Authenticate") == "" {
					t.Errorf("refusal leaks or lacks a challenge: %q %v", w.Body.String(), w.Header())
				}
				if strings.Contains(w.Body.String(), token) {
					t.Error("the refusal shows the token")
				}
			}
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	if err := os.WriteFile(file, []byte("from-the-file-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	short := filepath.Join(dir, "short")
	if err := os.WriteFile(short, []byte("abc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"TOK": "from-the-env-0123456789", "SHORT": "abc"}
	getenv := func(k string) string { return env[k] }
	tests := []struct {
		name, file, env string
		want            string // the token that passes; "" none
		err             string
	}{
		{"file wins", file, "TOK", "from-the-file-0123456789", ""},
		{"env", "", "TOK", "from-the-env-0123456789", ""},
		{"nothing configured", "", "", "", ""},
		{"empty variable", "", "UNSET", "", ""},
		{"missing file", filepath.Join(dir, "nope"), "TOK", "", "reading the API token"},
		{"short file", short, "", "", "shorter than 16"},
		{"short env", "", "SHORT", "", "shorter than 16"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, err := Load(tc.file, tc.env, getenv)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				if strings.Contains(err.Error(), "abc") {
					t.Errorf("the error shows the token: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if g.Configured() != (tc.want != "") {
				t.Fatalf("configured = %v", g.Configured())
			}
			req := httptest.NewRequest("GET", "/", nil)
			req.Header.Set("Authorization", "Bearer "+tc.want)
			if tc.want != "" && !g.Allows(req) {
				t.Error("the loaded token is refused")
			}
		})
	}
}
