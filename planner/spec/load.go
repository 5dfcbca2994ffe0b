package spec

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// Load reads every *.yaml, *.yml and *.csv file of fsys, walking from ".",
// in sorted path order, and parses them with Parse. Hidden files and
// directories (".git", ".github", ".pre-commit-config.yaml") and symbolic
// links are skipped; with opts.Discover, so is what obviously is not role
// content. Content problems are returned as Errors; a failure to read fsys
// is returned as a wrapped error.
func Load(fsys fs.FS, opts Options) (*Tree, error) {
	skipped := func(name, reason string) {
		if opts.Skipped != nil {
			opts.Skipped(name, reason)
		}
	}
	var names []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "." {
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if opts.Discover && d.IsDir() && ForeignDir(d.Name()) {
			skipped(p+"/", "a "+d.Name()+"/ directory never holds role files")
			return fs.SkipDir
		}
		if d.Type().IsRegular() && isRoleFile(p) {
			names = append(names, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walking role files: %w", err)
	}
	slices.Sort(names)
	files := make([]File, 0, len(names))
	for _, name := range names {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("reading role file %s: %w", name, err)
		}
		f := File{Name: name, Data: data}
		if opts.Discover {
			if why := NotRoleFile(f); why != "" {
				skipped(name, why)
				continue
			}
		}
		files = append(files, f)
	}
	return Parse(files, opts)
}

// isRoleFile reports whether name has a role-file extension.
func isRoleFile(name string) bool {
	switch strings.ToLower(path.Ext(name)) {
	case ".yaml", ".yml", ".csv":
		return true
	}
	return false
}
