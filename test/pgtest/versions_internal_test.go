package pgtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// envBinDirs lists bin directories (separated by os.PathListSeparator) of
// several PostgreSQL versions for TestVersionsCoexist; scripts/pgmatrix
// sets it to every version of the matrix.
const envBinDirs = "ROLECD_TEST_PGBINS"

func TestParseServerVersion(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		out, want, wantErr string
	}{
		{out: "postgres (PostgreSQL) 17.10\n", want: "17.10"},
		{out: "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n", want: "15.18"},
		{out: "postgres (PostgreSQL) 18beta1\n", want: "18beta1"},
		{out: "postgres (PostgreSQL) 14.23", want: "14.23"},
		{out: "", wantErr: "unexpected version output"},
		{out: "postgres 17.10\n", wantErr: "unexpected version output"},
		{out: "postgres (PostgreSQL) ../../x\n", wantErr: "unexpected version output"},
		{out: "postgres (PostgreSQL) 17/10\n", wantErr: "unexpected version output"},
	} {
		got, err := parseServerVersion(tc.out)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("parseServerVersion(%q) = %q, %v; want error %q", tc.out, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("parseServerVersion(%q) = %q, %v; want %q", tc.out, got, err, tc.want)
		}
	}
}

// coexistBinDirs returns the bin directories of $ROLECD_TEST_PGBINS, or
// else the default one and a linked copy of it (the same version under
// another path, so another template).
func coexistBinDirs(t *testing.T) []string {
	t.Helper()
	if env := os.Getenv(envBinDirs); env != "" {
		return filepath.SplitList(env)
	}
	dir, err := BinDir()
	if err != nil {
		t.Fatal(err)
	}
	return []string{dir, linkedBinDir(t)}
}

// TestVersionsCoexist starts one cluster of each bin directory at once, as
// a test of a mixed-version fleet would, and checks that each runs its own
// version from its own template with a C locale and UTF8.
func TestVersionsCoexist(t *testing.T) {
	t.Parallel()
	bins := coexistBinDirs(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	clusters := make([]*Cluster, len(bins))
	errs := make([]error, len(bins))
	var wg sync.WaitGroup
	for i, bin := range bins {
		wg.Go(func() { clusters[i], errs[i] = StartCluster(ctx, Config{BinDir: bin}) })
	}
	wg.Wait()
	for i, c := range clusters {
		if c != nil {
			t.Cleanup(func() {
				if err := c.Stop(); err != nil {
					t.Error(err)
				}
			})
		}
		if errs[i] != nil {
			t.Errorf("%s: %v", bins[i], errs[i])
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	roots := map[string]string{}
	ports := map[int]string{}
	for i, c := range clusters {
		bin, err := filepath.Abs(bins[i])
		if err != nil {
			t.Fatal(err)
		}
		version, err := ServerVersion(ctx, bin)
		if err != nil {
			t.Fatal(err)
		}
		tmpl, err := getTemplate(ctx, bin)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { forgetLinkedTemplate(t, bin, tmpl) })
		if c.BinDir != bin {
			t.Errorf("cluster %d: BinDir %q, want %q", i, c.BinDir, bin)
		}
		if got := fmt.Sprintf("%d.%d", c.VersionNum/10000, c.VersionNum%10000); got != version {
			t.Errorf("%s: server_version_num %d, but postgres --version says %s", bin, c.VersionNum, version)
		}
		if !strings.HasPrefix(filepath.Base(tmpl.root), "template-"+version+"-") {
			t.Errorf("%s: template %s is not keyed by version %s", bin, tmpl.root, version)
		}
		if other, ok := roots[tmpl.root]; ok {
			t.Errorf("%s and %s share template %s", bin, other, tmpl.root)
		}
		roots[tmpl.root] = bin
		if other, ok := ports[c.Port]; ok {
			t.Errorf("%s and %s both on port %d", bin, other, c.Port)
		}
		ports[c.Port] = bin

		var encoding, collate, ctype string
		err = c.Connect(t, "postgres").QueryRow(ctx,
			`SELECT pg_encoding_to_char(encoding), datcollate, datctype
			   FROM pg_database WHERE datname = current_database()`).Scan(&encoding, &collate, &ctype)
		if err != nil {
			t.Fatalf("%s: %v", bin, err)
		}
		if encoding != "UTF8" || collate != "C" || ctype != "C" {
			t.Errorf("%s: encoding %s, collate %s, ctype %s; want UTF8, C, C", bin, encoding, collate, ctype)
		}
	}
}

// forgetLinkedTemplate removes the template of a bin directory that a test
// linked for itself (under the temp dir): nobody will use it again.
func forgetLinkedTemplate(t *testing.T, bin string, tmpl *template) {
	t.Helper()
	if !strings.HasPrefix(filepath.Base(bin), "pgtest-bin-") {
		return
	}
	templates.Lock()
	delete(templates.byBinDir, bin)
	templates.Unlock()
	if err := os.RemoveAll(tmpl.root); err != nil {
		t.Error(err)
	}
}

// fakeBinDir returns a bin directory, reachable by the server's OS user,
// of shell scripts: name -> script body.
func fakeBinDir(t *testing.T, scripts map[string]string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pgtest-fake-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range scripts {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestServerVersionChecksEveryProgram(t *testing.T) {
	t.Parallel()
	say := func(program, version string) string {
		return "echo '" + program + " (PostgreSQL) " + version + "'"
	}
	for _, tc := range []struct {
		name    string
		scripts map[string]string
		want    string
		wantErr []string
	}{
		{
			name:    "one version",
			scripts: map[string]string{"initdb": say("initdb", "17.10"), "pg_ctl": say("pg_ctl", "17.10"), "postgres": say("postgres", "17.10")},
			want:    "17.10",
		},
		{
			name:    "initdb of another version",
			scripts: map[string]string{"initdb": say("initdb", "16.14"), "pg_ctl": say("pg_ctl", "17.10"), "postgres": say("postgres", "17.10")},
			wantErr: []string{"initdb is version 16.14 but postgres is 17.10"},
		},
		{
			name: "a library is missing",
			scripts: map[string]string{"initdb": say("initdb", "17.10"), "pg_ctl": say("pg_ctl", "17.10"),
				"postgres": "echo 'error while loading shared libraries: libicuuc.so.60' >&2; exit 127"},
			wantErr: []string{"postgres: exit status 127", "libicuuc.so.60"},
		},
		{
			name:    "no pg_ctl",
			scripts: map[string]string{"initdb": say("initdb", "17.10"), "postgres": say("postgres", "17.10")},
			wantErr: []string{"missing pg_ctl"},
		},
		{
			name:    "not PostgreSQL",
			scripts: map[string]string{"initdb": "echo 1.0", "pg_ctl": "echo 1.0", "postgres": "echo 1.0"},
			wantErr: []string{"unexpected version output"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ServerVersion(context.Background(), fakeBinDir(t, tc.scripts))
			if tc.wantErr != nil {
				if err == nil {
					t.Fatalf("ServerVersion = %q, want an error", got)
				}
				for _, want := range tc.wantErr {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q lacks %q", err, want)
					}
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ServerVersion = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
