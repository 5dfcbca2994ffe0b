package main

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/rolecd/rolecd/internal/config"
	"github.com/rolecd/rolecd/planner/spec"
)

// loadConfig reads --config; the default ./rolecd.yaml may be absent.
// --store replaces the configured store (so the credential policy knows
// the key file beside it).
func (g *globals) loadConfig() (config.Config, error) {
	cfg, err := config.Load(g.configPath, !g.configExplicit, g.getenv)
	if err == nil && g.store != "" {
		cfg.Store = g.store
	}
	return cfg, err
}

// treeLocation is where the role files are, and why there.
type treeLocation struct {
	dir string
	// how says how dir was chosen, for messages: "--repo", "git.path of
	// rolecd.yaml", "default".
	how string
}

// defaultRolesDir is the conventional role-files directory.
const defaultRolesDir = "roles"

// locateTree finds the role-files tree: --repo, else the config's git.path
// (a local path, or the path inside the watched repository when the working
// directory is a checkout of it), else roles/, else "." when it holds a
// role file at its top level. When none fits, the error says where it
// looked and which directories do hold role files.
func (g *globals) locateTree(cfg config.Config) (treeLocation, error) {
	if g.repo != "" {
		return treeLocation{g.repo, "--repo"}, nil
	}
	var looked []string
	cfgName := g.configPath
	if p := cfg.Git.Path; p != "" {
		switch {
		case cfg.Git.URL == "":
			return treeLocation{p, "git.path of " + cfgName}, nil
		case isDir(p):
			return treeLocation{p, "git.path of " + cfgName + ", found here"}, nil
		}
		looked = append(looked, fmt.Sprintf("git.path %s of %s (not a directory here)", p, cfgName))
	} else {
		looked = append(looked, "git.path (not set)")
	}
	if isDir(defaultRolesDir) {
		return treeLocation{defaultRolesDir, "default: roles/"}, nil
	}
	looked = append(looked, "roles/ (no such directory)")
	if holdsRoleFiles(os.DirFS("."), ".") {
		return treeLocation{".", "default: . holds role files"}, nil
	}
	looked = append(looked, ". (no role file at its top level)")
	msg := "no role files found: no --repo given; looked at " + strings.Join(looked, ", ")
	if found := roleDirs(os.DirFS(".")); len(found) > 0 {
		msg += "; role files are in " + strings.Join(found, ", ") + ": pass --repo DIR, e.g. --repo " + strings.TrimSuffix(found[0], "/")
	} else {
		msg += "; pass --repo DIR"
	}
	return treeLocation{}, errors.New(msg)
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// holdsRoleFiles reports whether directory dir of fsys holds, at its top
// level, a file that is a role file (or may be one).
func holdsRoleFiles(fsys fs.FS, dir string) bool {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		name := path.Join(dir, e.Name())
		if spec.NotRoleFile(spec.File{Name: name}) == "not a .yaml, .yml or .csv file" {
			continue
		}
		data, err := fs.ReadFile(fsys, name)
		if err == nil && spec.NotRoleFile(spec.File{Name: name, Data: data}) == "" {
			return true
		}
	}
	return false
}

// Bounds of the search for directories that hold role files.
const (
	roleDirsDepth = 3
	roleDirsMax   = 5
	roleDirsVisit = 2000
)

// roleDirs lists (at most roleDirsMax, at most roleDirsDepth deep) the
// directories under "." that hold role files, for a hint.
func roleDirs(fsys fs.FS) []string {
	var out []string
	visited := 0
	_ = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		visited++
		if err != nil || !d.IsDir() || p == "." {
			return nil
		}
		if skipHintDir(p, d.Name()) || visited > roleDirsVisit || len(out) >= roleDirsMax {
			return fs.SkipDir
		}
		if holdsRoleFiles(fsys, p) {
			out = append(out, p+"/")
		}
		return nil
	})
	// Shallow first: the likelier tree.
	slices.SortFunc(out, func(a, b string) int {
		return cmp.Or(cmp.Compare(strings.Count(a, "/"), strings.Count(b, "/")), strings.Compare(a, b))
	})
	return out
}

// skipHintDir reports whether the hint search skips directory p.
func skipHintDir(p, name string) bool {
	return spec.ForeignDir(name) || strings.Count(p, "/") >= roleDirsDepth
}

// loadTree locates, loads and validates the role-files tree. What is
// obviously not a role file is skipped (listed at debug level). On
// validation errors it returns a *treeErrors naming where it looked.
func (g *globals) loadTree() (*spec.Tree, config.Config, string, error) {
	cfg, err := g.loadConfig()
	if err != nil {
		return nil, cfg, "", err
	}
	loc, err := g.locateTree(cfg)
	if err != nil {
		return nil, cfg, "", err
	}
	dir := loc.dir
	st, err := os.Stat(dir)
	if err != nil {
		return nil, cfg, dir, fmt.Errorf("role files (%s): %w", loc.how, err)
	}
	if !st.IsDir() {
		return nil, cfg, dir, fmt.Errorf("role files (%s): %s is not a directory (to check one file: rolecd validate FILE)", loc.how, dir)
	}
	log := g.logger()
	if loc.how == "--repo" {
		log.Debug().Str("dir", dir).Msg("reading role files (--repo)")
	} else {
		log.Info().Str("dir", dir).Str("found_by", loc.how).Msg("reading role files (--repo to choose)")
	}
	skipped := 0
	tree, err := spec.Load(os.DirFS(dir), spec.Options{Prefix: cfg.RolePrefix, Credentials: cfg.CredentialPolicy(), Discover: true, Limits: specLimits(cfg), Skipped: func(name, reason string) {
		skipped++
		if filepath.Clean(dir) != "." {
			name = filepath.ToSlash(dir) + "/" + name
		}
		log.Debug().Str("file", name).Str("reason", reason).Msg("skipped: not a role file")
	}})
	if skipped > 0 {
		log.Info().Int("skipped", skipped).Str("dir", dir).Msg("skipped what is not role files (--log-level debug lists them)")
	}
	var es spec.Errors
	if err != nil && errors.As(err, &es) {
		es, _ = prefixErrors(es, dir).(spec.Errors)
		return nil, cfg, dir, &treeErrors{loc: loc, errs: es}
	}
	return tree, cfg, dir, err
}

// treeErrors is the validation problems of a role-files tree and where the
// tree was found.
type treeErrors struct {
	loc  treeLocation
	errs spec.Errors
}

func (e *treeErrors) Error() string { return e.errs.Error() }
func (e *treeErrors) Unwrap() error { return e.errs }

// where names the tree for the closing line of an error report.
func (e *treeErrors) where() string {
	if e.loc.how == "--repo" {
		return e.loc.dir
	}
	return fmt.Sprintf("%s (%s)", e.loc.dir, e.loc.how)
}

// prefixErrors makes validation positions relative to the working directory.
func prefixErrors(err error, dir string) error {
	var es spec.Errors
	if err == nil || !errors.As(err, &es) || filepath.Clean(dir) == "." {
		return err
	}
	out := make(spec.Errors, len(es))
	for i, e := range es {
		e.Pos.File = path.Join(filepath.ToSlash(dir), e.Pos.File)
		out[i] = e
	}
	return out
}

// specLimits are the configured limits on role files (config limits:).
func specLimits(cfg config.Config) spec.Limits {
	return spec.Limits{MaxFileBytes: int64(cfg.Limits.MaxFileSize), MaxTreeBytes: int64(cfg.Limits.MaxTreeSize),
		MaxRoles: cfg.Limits.MaxRoles}
}
