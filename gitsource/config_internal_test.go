package gitsource

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
)

func TestNewRemote(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name                string
		cfg                 Config
		transport, display  string
		protocol            string
		basicUser, basicPwd string
		wantErr             string
	}{
		{name: "https with token field",
			cfg:       Config{URL: "https://github.com/acme/roles.git", Token: "ghs_tokenvalue"},
			transport: "https://github.com/acme/roles.git", display: "https://github.com/acme/roles.git",
			protocol: "https", basicUser: "x-access-token", basicPwd: "ghs_tokenvalue"},
		{name: "https with user and token in the URL",
			cfg:       Config{URL: "https://x-access-token:ghs_inurl@github.com/acme/roles.git"},
			transport: "https://github.com/acme/roles.git", display: "https://github.com/acme/roles.git",
			protocol: "https", basicUser: "x-access-token", basicPwd: "ghs_inurl"},
		{name: "https with the token as user name",
			cfg:       Config{URL: "https://ghp_asuser@ghe.example.com/acme/roles.git"},
			transport: "https://ghe.example.com/acme/roles.git", display: "https://ghe.example.com/acme/roles.git",
			protocol: "https", basicUser: "x-access-token", basicPwd: "ghp_asuser"},
		{name: "the token field wins over URL credentials",
			cfg:       Config{URL: "https://bob:old@github.com/acme/roles.git", Token: "ghs_new"},
			transport: "https://github.com/acme/roles.git", display: "https://github.com/acme/roles.git",
			protocol: "https", basicUser: "x-access-token", basicPwd: "ghs_new"},
		{name: "https with a token in the query",
			cfg:       Config{URL: "https://git.example.com/roles.git?private_token=qtoken"},
			transport: "https://git.example.com/roles.git?private_token=qtoken", display: "https://git.example.com/roles.git?<redacted>",
			protocol: "https"},
		{name: "scp-like ssh",
			cfg:       Config{URL: "git@github.com:acme/roles.git"},
			transport: "git@github.com:acme/roles.git", display: "git@github.com:acme/roles.git", protocol: "ssh"},
		{name: "ssh URL with a password",
			cfg:       Config{URL: "ssh://deploy:sshpass@git.example.com:2222/acme/roles.git"},
			transport: "ssh://deploy@git.example.com:2222/acme/roles.git", display: "ssh://deploy@git.example.com:2222/acme/roles.git",
			protocol: "ssh"},
		{name: "file URL",
			cfg:       Config{URL: "file:///srv/git/roles.git"},
			transport: "file:///srv/git/roles.git", display: "file:///srv/git/roles.git", protocol: "file"},
		{name: "relative local path",
			cfg:       Config{URL: "repos/roles.git"},
			transport: filepath.Join(wd, "repos/roles.git"), display: filepath.Join(wd, "repos/roles.git"), protocol: "file"},
		{name: "ssh key file missing",
			cfg:     Config{URL: "git@github.com:acme/roles.git", SSHKeyFile: filepath.Join(t.TempDir(), "missing")},
			wantErr: "reading ssh key"},
		{name: "unsupported scheme",
			cfg:     Config{URL: "ftp://user:ftppass@example.com/roles.git"},
			wantErr: `unsupported git url scheme "ftp"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := newRemote(tt.cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "ftppass") {
					t.Fatalf("error shows the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.transportURL != tt.transport || r.display != tt.display || r.protocol != tt.protocol {
				t.Errorf("got transport %q display %q protocol %q, want %q %q %q",
					r.transportURL, r.display, r.protocol, tt.transport, tt.display, tt.protocol)
			}
			basic, _ := r.auth.(*githttp.BasicAuth)
			switch {
			case tt.basicUser == "" && basic != nil:
				t.Errorf("unexpected basic auth for %s", basic.Username)
			case tt.basicUser != "" && (basic == nil || basic.Username != tt.basicUser || basic.Password != tt.basicPwd):
				t.Errorf("basic auth = %+v, want %s:%s", basic, tt.basicUser, tt.basicPwd)
			}
			for _, s := range r.secrets {
				if strings.Contains(r.display, s) {
					t.Errorf("display URL %q shows secret", r.display)
				}
			}
		})
	}
}

func TestScrub(t *testing.T) {
	r, err := newRemote(Config{URL: "https://x-access-token:a%2Fb+c%25d@github.com/acme/roles.git", Token: "ghs_field"})
	if err != nil {
		t.Fatal(err)
	}
	basic := base64.StdEncoding.EncodeToString([]byte("x-access-token:ghs_field"))
	cause := errors.New(`Get "https://x-access-token:a%2Fb+c%25d@github.com/x?t=a%2Fb%2Bc%25d": auth ghs_field ` +
		`Basic ` + basic + ` raw a/b+c%d and https://other:pw2@example.com/`)
	sentinel := errors.New("sentinel")
	err = r.wrap("fetching", cause, sentinel)
	msg := err.Error()
	for _, leak := range []string{"ghs_field", "a/b+c%d", "a%2Fb+c%25d", "a%2Fb%2Bc%25d", basic, "pw2"} {
		if strings.Contains(msg, leak) {
			t.Errorf("scrubbed message %q still contains %q", msg, leak)
		}
	}
	if !strings.HasPrefix(msg, "fetching: Get ") || !strings.Contains(msg, "github.com") {
		t.Errorf("scrubbed message lost its context: %q", msg)
	}
	if !errors.Is(err, cause) || !errors.Is(err, sentinel) {
		t.Error("scrubbed error does not match its causes")
	}
	if errors.Unwrap(err) != nil {
		t.Error("scrubbed error unwraps to the raw cause")
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		if got := fmt.Sprintf(verb, err); strings.Contains(got, "ghs_field") {
			t.Errorf("%s shows the token: %s", verb, got)
		}
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		name     string
		cfg      Config
		wantPath string
		wantErr  string
	}{
		{name: "defaults", cfg: Config{URL: "/srv/r.git", CacheDir: "/c"}, wantPath: ""},
		{name: "path cleaned", cfg: Config{URL: "/srv/r.git", CacheDir: "/c", Path: "/roles//prod/./"}, wantPath: "roles/prod"},
		{name: "dot path is the root", cfg: Config{URL: "/srv/r.git", CacheDir: "/c", Path: "."}, wantPath: ""},
		{name: "no url", cfg: Config{CacheDir: "/c"}, wantErr: "git url is empty"},
		{name: "no cache", cfg: Config{URL: "/srv/r.git"}, wantErr: "cache directory is empty"},
		{name: "escaping path", cfg: Config{URL: "/srv/r.git", CacheDir: "/c", Path: "roles/../../etc"}, wantErr: "must stay inside"},
		{name: "bad branch", cfg: Config{URL: "/srv/r.git", CacheDir: "/c", Branch: "a..b"}, wantErr: `invalid git branch "a..b"`},
		{name: "wildcard branch", cfg: Config{URL: "/srv/r.git", CacheDir: "/c", Branch: "*"}, wantErr: "invalid git branch"},
		{name: "negative timeout", cfg: Config{URL: "/srv/r.git", CacheDir: "/c", Timeout: -time.Second}, wantErr: "invalid git timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := normalize(tt.cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Path != tt.wantPath {
				t.Errorf("Path = %q, want %q", got.Path, tt.wantPath)
			}
			if tt.cfg.Branch == "" && got.Branch != DefaultBranch {
				t.Errorf("Branch = %q, want %q", got.Branch, DefaultBranch)
			}
			if tt.cfg.Timeout == 0 && got.Timeout != DefaultTimeout {
				t.Errorf("Timeout = %s, want %s", got.Timeout, DefaultTimeout)
			}
		})
	}
}
