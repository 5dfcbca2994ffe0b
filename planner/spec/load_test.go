package spec

import (
	"errors"
	"io/fs"
	"slices"
	"testing"
	"testing/fstest"
)

func TestLoad(t *testing.T) {
	bad := &fstest.MapFile{Data: []byte("roles: [nope]\n")}
	fsys := fstest.MapFS{
		"z.yaml":          {Data: []byte("roles:\n  - {resource: a, role: ro, scopes: [x], privileges: [nope]}\n")},
		"a.YML":           {Data: []byte("resources:\n  - {name: a, host: h, admin: {user: u}}\n")},
		"a/b.csv":         {Data: []byte("resource_name,type,role,scopes,permissions,source_role\na,bogus,r,,,\n")},
		"a/c.yaml":        {Data: []byte("roles:\n  - {resource: missing, role: ro, scopes: [x], privileges: [SELECT]}\n")},
		".git/x.yaml":     bad,
		".github/ci.yml":  bad,
		".hidden.yaml":    bad,
		"dir/.hidden.csv": bad,
		"link.yaml":       {Data: []byte("z.yaml"), Mode: fs.ModeSymlink},
		"README.md":       bad,
		"notes.txt":       bad,
	}
	_, err := Load(fsys, Options{})
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("Load error = %v, want Errors", err)
	}
	var got []string
	for _, e := range es {
		got = append(got, e.Error())
	}
	want := []string{
		`a/b.csv:2: unknown type "bogus": want managed or external`,
		`a/c.yaml:2:16: unknown resource "missing"`,
		`z.yaml:2:55: unknown privilege "nope": want SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER, MAINTAIN or ALL`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("errors:\n%q\nwant:\n%q", got, want)
	}
}

func TestLoadValid(t *testing.T) {
	fsys := fstest.MapFS{
		"roles.yaml": {Data: []byte("resources:\n  - {name: a, host: h, admin: {user: u}}\nroles:\n  - {resource: a, role: ro, scopes: [x], privileges: [SELECT]}\n")},
	}
	tree, err := Load(fsys, Options{Prefix: "hoopdev"})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(tree.Roles) != 1 || tree.Roles[0].Name != "hoopdev_a_ro_"+Hash8("a", "ro") {
		t.Errorf("roles = %+v", tree.Roles)
	}
	if r, ok := tree.Resource("a"); !ok || r.Pos != (Pos{File: "roles.yaml", Line: 2, Col: 5}) {
		t.Errorf("Resource(a) = %+v, %v", r, ok)
	}
	if byName := tree.ResourcesByName(); len(byName) != 1 || byName["a"].Host != "h" {
		t.Errorf("ResourcesByName = %+v", byName)
	}
}

// failingFS lists a role file it cannot open.
type failingFS struct{ files fstest.MapFS }

func (f failingFS) Open(name string) (fs.File, error) {
	if name == "roles.yaml" {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrPermission}
	}
	return f.files.Open(name)
}

func TestLoadReadError(t *testing.T) {
	_, err := Load(failingFS{fstest.MapFS{"roles.yaml": {Data: []byte("roles: []\n")}}}, Options{})
	var es Errors
	if err == nil || errors.As(err, &es) || !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("Load error = %v, want a wrapped permission error", err)
	}
}
