package cluster

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io/fs"
	"math/big"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rolecd/rolecd/planner/spec"
	"github.com/rolecd/rolecd/test/pgtest"
)

// script writes an executable shell script into dir.
func script(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o700); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPasswordCommand(t *testing.T) {
	c := pgtest.Start(t)
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte(c.Password), 0o600); err != nil {
		t.Fatal(err)
	}
	// token prints the password when called as the IAM tools are: with the
	// resource's host, port and user, and without rolecd's secrets in its
	// environment.
	token := script(t, dir, "token", `[ "$1" = --hostname ] && [ "$2" = "`+c.Host+`" ] && [ "$4" = "`+itoa(c.Port)+`" ] && [ "$6" = "`+c.User+`" ] || { echo "bad args: $*" >&2; exit 2; }
[ -z "$ROLECD_SECRET_KEY" ] && [ -z "$GH_PAT" ] || { echo leaked >&2; exit 3; }
[ "$KEEP_ME" = yes ] || exit 4
cat `+pwFile+`
echo
`)
	loud := script(t, dir, "loud", `cat `+pwFile+`; cat `+pwFile+` >&2; exit 1`+"\n")
	slow := script(t, dir, "slow", "exec sleep 30\n")
	silent := script(t, dir, "silent", "exit 0\n")
	commands := map[string]Command{
		"token":   {Argv: []string{token, "--hostname", "{host}", "--port", "{port}", "--username", "{user}"}},
		"loud":    {Argv: []string{loud}},
		"slow":    {Argv: []string{slow}, Timeout: 300 * time.Millisecond},
		"silent":  {Argv: []string{silent}},
		"missing": {Argv: []string{filepath.Join(dir, "nope")}},
	}
	policy := &spec.CredentialPolicy{Commands: []string{"token", "loud", "slow", "silent", "missing"}, Reserved: []string{"GH_PAT"}}
	environ := func() []string {
		return []string{"PATH=" + os.Getenv("PATH"), "ROLECD_SECRET_KEY=k", "GH_PAT=p", "KEEP_ME=yes"}
	}
	tests := []struct {
		command string
		wantErr string
	}{
		{"token", ""},
		{"loud", `resource app: admin password command "loud": exit status 1 (its output is not shown; run ` + loud + ` by hand to see it)`},
		{"slow", `resource app: admin password command "slow": did not finish within 300ms (its output is not shown)`},
		{"silent", `resource app: admin password command "silent": printed nothing`},
		{"missing", `resource app: admin password command "missing": running ` + filepath.Join(dir, "nope") + ` failed`},
		{"unlisted", `resource app: admin password_command: not allowed by the credential policy: "unlisted" is not in credentials.commands`},
	}
	for _, tt := range tests {
		t.Run(tt.command, func(t *testing.T) {
			d := Dialer{Policy: policy, Commands: commands, Environ: environ}
			version, err := d.Health(context.Background(), resource(c, spec.Admin{User: c.User, PasswordCommand: tt.command}))
			if tt.wantErr == "" {
				if err != nil || version == "" {
					t.Fatalf("Health = %q, %v", version, err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v\nwant %s", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), c.Password) {
				t.Fatalf("error leaks the command's output: %v", err)
			}
		})
	}
}

// One plan connects once per database: with a cache the command runs once
// for all of them, and again once the entry expired.
func TestPasswordCommandCache(t *testing.T) {
	c := pgtest.Start(t)
	dir := t.TempDir()
	runs := filepath.Join(dir, "runs")
	count := script(t, dir, "count", "echo run >> "+runs+"\necho '"+c.Password+"'\n")
	cache := NewCommandCache(time.Minute)
	now := time.Now()
	cache.now = func() time.Time { return now }
	d := Dialer{Policy: &spec.CredentialPolicy{Commands: []string{"count"}}, Commands: map[string]Command{"count": {Argv: []string{count, "{host}"}}}, CommandCache: cache}
	res := resource(c, spec.Admin{User: c.User, PasswordCommand: "count"})
	for range 3 {
		if _, err := d.Health(context.Background(), res); err != nil {
			t.Fatal(err)
		}
	}
	now = now.Add(time.Minute)
	if _, err := d.Health(context.Background(), res); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(runs)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "run"); n != 2 {
		t.Errorf("the command ran %d times, want 2 (once, then once more after the entry expired)", n)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestPolicyAtUse(t *testing.T) {
	c := pgtest.Start(t)
	secrets := t.TempDir()
	outside := t.TempDir()
	good := filepath.Join(secrets, "admin")
	stolen := filepath.Join(outside, "shadow")
	for _, p := range []string{good, stolen} {
		if err := os.WriteFile(p, []byte(c.Password+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	link := filepath.Join(secrets, "link")
	if err := os.Symlink(stolen, link); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(secrets, "rolecd", "secret.key")
	keyLink := filepath.Join(secrets, "key-link")
	if err := os.MkdirAll(filepath.Dir(keyFile), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, []byte(c.Password), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(keyFile, keyLink); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"PG_ADMIN_APP": c.Password, "ROLECD_SECRET_KEY": c.Password, "GH_PAT": c.Password}
	policy := &spec.CredentialPolicy{EnvAllow: []string{"PG_ADMIN_*", "GH_*"}, Reserved: []string{"GH_PAT"}, FileDirs: []string{secrets}, ReservedFiles: []string{keyFile}}
	tests := []struct {
		name    string
		admin   spec.Admin
		wantErr string
	}{
		{"allowed variable", spec.Admin{User: c.User, PasswordEnv: "PG_ADMIN_APP"}, ""},
		{"rolecd's key", spec.Admin{User: c.User, PasswordEnv: "ROLECD_SECRET_KEY"}, "resource app: admin password_env: not allowed by the credential policy: ROLECD_SECRET_KEY is one of rolecd's own secrets"},
		{"a reserved name inside an allowed prefix", spec.Admin{User: c.User, PasswordEnv: "GH_PAT"}, "resource app: admin password_env: not allowed by the credential policy: GH_PAT is one of rolecd's own secrets"},
		{"file inside", spec.Admin{User: c.User, PasswordFile: good}, ""},
		{"file outside", spec.Admin{User: c.User, PasswordFile: stolen}, "resource app: admin password_file: not allowed by the credential policy: " + `"` + stolen + `" is not inside credentials.file_dirs`},
		{"symbolic link out of the directory", spec.Admin{User: c.User, PasswordFile: link}, "resource app: admin password_file: not allowed by the credential policy: " + link + " resolves to "},
		{"a link to rolecd's key file", spec.Admin{User: c.User, PasswordFile: keyLink}, "resource app: admin password_file: not allowed by the credential policy: " + keyLink + " resolves to one of rolecd's own secret files"},
		{"dot-dot out of the directory", spec.Admin{User: c.User, PasswordFile: secrets + "/../" + filepath.Base(outside) + "/shadow"}, "is not inside credentials.file_dirs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Dialer{Getenv: func(k string) string { return env[k] }, Policy: policy}
			version, err := d.Health(context.Background(), resource(c, tt.admin))
			if tt.wantErr == "" {
				if err != nil || version == "" {
					t.Fatalf("Health = %q, %v", version, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v\nwant %s", err, tt.wantErr)
			}
		})
	}
}

// tlsFiles writes a CA and a server certificate for 127.0.0.1 signed by
// it; it returns the CA file, the server's certificate and key files.
func tlsFiles(t *testing.T, dir, prefix string) (ca, cert, key string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: prefix + " test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srvTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(srvKey)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, prefix+name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("server.pem", "CERTIFICATE", srvDER), write("server.key", "EC PRIVATE KEY", keyDER)
}

// serverReadable makes dir and its files readable by the OS user that
// runs the test clusters ("postgres" when the tests run as root, as
// test/pgtest does).
func serverReadable(t *testing.T, dir string) {
	t.Helper()
	if os.Geteuid() != 0 {
		return
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	err = filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Chown(p, uid, gid)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestSSLRootCertVerifyFull(t *testing.T) {
	// Not t.TempDir: its parent is private to the test's user.
	dir, err := os.MkdirTemp("", "rolecd-tls-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ca, cert, key := tlsFiles(t, dir, "good-")
	otherCA, _, _ := tlsFiles(t, dir, "other-")
	serverReadable(t, dir)
	c := pgtest.Start(t, pgtest.Config{Settings: map[string]string{"ssl": "on", "ssl_cert_file": cert, "ssl_key_file": key}})
	env := func(string) string { return c.Password }
	res := resource(c, spec.Admin{User: c.User, PasswordEnv: "PW"})
	res.SSLMode = "verify-full"

	res.SSLRootCert = ca
	conn, err := Dialer{Getenv: env}.Connect(context.Background(), res, "postgres")
	if err != nil {
		t.Fatalf("verify-full with the server's CA: %v", err)
	}
	var ssl bool
	if err := conn.QueryRow(context.Background(), "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&ssl); err != nil || !ssl {
		t.Errorf("connection uses TLS = %v, %v", ssl, err)
	}
	conn.Close(context.Background())

	res.SSLRootCert = otherCA
	if _, err := (Dialer{Getenv: env}).Health(context.Background(), res); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("verify-full with another CA: err = %v, want a certificate error", err)
	}
}
