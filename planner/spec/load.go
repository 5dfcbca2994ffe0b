package spec

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// Load reads every *.yaml, *.yml and *.csv file of fsys, walking from ".",
// in sorted path order, and parses them with Parse. Hidden files and
// directories (".git", ".github", ".pre-commit-config.yaml") and symbolic
// links are skipped; with opts.Discover, so is what obviously is not role
// content. Sizes are checked against Options.Limits before any file is
// read, and files are read and decoded one at a time. Content problems are
// returned as Errors; a failure to read fsys is returned as a wrapped
// error.
func Load(fsys fs.FS, opts Options) (*Tree, error) {
	p, err := newParser(opts)
	if err != nil {
		return nil, err
	}
	skipped := func(name, reason string) {
		if opts.Skipped != nil {
			opts.Skipped(name, reason)
		}
	}
	var files []fileSize
	err = fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if name == "." {
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if opts.Discover && d.IsDir() && ForeignDir(d.Name()) {
			skipped(name+"/", "a "+d.Name()+"/ directory never holds role files")
			return fs.SkipDir
		}
		if !d.Type().IsRegular() || !isRoleFile(name) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		files = append(files, fileSize{name, info.Size()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walking role files: %w", err)
	}
	slices.SortFunc(files, func(a, b fileSize) int { return strings.Compare(a.name, b.name) })
	if es := p.checkSizes(files); len(es) > 0 {
		return nil, es
	}
	for _, f := range files {
		data, err := readLimited(fsys, f.name, p.limits.MaxFileBytes)
		if errors.Is(err, errGrown) {
			return nil, Errors{p.limits.fileTooLarge(f.name, int64(len(data)))}
		}
		if err != nil {
			return nil, fmt.Errorf("reading role file %s: %w", f.name, err)
		}
		file := File{Name: f.name, Data: data}
		if opts.Discover {
			if why := NotRoleFile(file); why != "" {
				skipped(f.name, why)
				continue
			}
		}
		p.add(file)
	}
	return p.finish()
}

// errGrown is a file that grew past the limit after it was listed.
var errGrown = errors.New("file grew past the size limit")

// readLimited reads at most limit bytes of name; a longer file gives
// errGrown with the data read so far.
func readLimited(fsys fs.FS, name string, limit int64) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return data, errGrown
	}
	return data, nil
}

// isRoleFile reports whether name has a role-file extension.
func isRoleFile(name string) bool {
	switch strings.ToLower(path.Ext(name)) {
	case ".yaml", ".yml", ".csv":
		return true
	}
	return false
}
