package spec

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// checkParse asserts the contract of Parse on arbitrary input: no panic,
// either a tree or Errors, every error placed in the file, every role name
// within PostgreSQL's limit.
func checkParse(t *testing.T, f File) {
	tree, err := Parse([]File{f}, Options{Resources: knownResources})
	if err != nil {
		if tree != nil {
			t.Fatal("tree returned with an error")
		}
		var es Errors
		if !errors.As(err, &es) || len(es) == 0 {
			t.Fatalf("error is %T (%v), want non-empty Errors", err, err)
		}
		for _, e := range es {
			if e.Pos.File != f.Name || e.Pos.Line <= 0 || e.Msg == "" {
				t.Fatalf("error without a position or message: %#v", e)
			}
		}
		return
	}
	for _, r := range tree.Roles {
		if r.Name == "" || len(r.Name) > MaxNameLen {
			t.Fatalf("role %+v: bad name %q", r, r.Name)
		}
		if r.Type == Managed && (len(r.Scopes) == 0 || len(r.Privileges) == 0) {
			t.Fatalf("managed role %+v without scopes or privileges", r)
		}
	}
}

// addSeeds adds the files of the golden tree with the given extensions.
func addSeeds(f *testing.F, exts ...string) {
	for _, ext := range exts {
		matches, err := filepath.Glob(filepath.Join("testdata", "tree", "*", "*"+ext))
		if err != nil {
			f.Fatal(err)
		}
		top, _ := filepath.Glob(filepath.Join("testdata", "tree", "*"+ext))
		for _, m := range append(matches, top...) {
			data, err := os.ReadFile(m)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
}

func FuzzParseYAML(f *testing.F) {
	addSeeds(f, ".yaml", ".yml")
	for _, s := range []string{
		"",
		"roles:\n  - {resource: analytics, role: ro, scopes: [a], privileges: [SELECT]}\n",
		"items:\n  - {resource_name: analytics, type: external, role: bi, source_role: x}\n",
		"a: &a [x, x]\nb: &b [*a, *a]\nroles: *b\n",
		"roles:\n  - resource: analytics\n   role: [ro\n",
		"---\nresources: []\n---\n- x\n",
		"resources:\n  - {name: a, host: h, port: 99999, admin: {user: u, password_env: '1'}}\n",
		"roles: [{resource: analytics, role: \"\\0\", scopes: \"a.b.c;\", privileges: \"all;connect\"}]\n",
		"x: &x [a]\nroles:\n  - {resource: analytics, type: external, role: bi, source_role: r, scopes: *x, privileges: *x}\n",
		"resources:\n  - {name: *n, host: *h, admin: *a}\n",
		"\xff\xfe",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkParse(t, File{Name: "fuzz.yaml", Data: data})
	})
}

func FuzzParseCSV(f *testing.F) {
	addSeeds(f, ".csv")
	for _, s := range []string{
		"",
		"resource_name,type,role,scopes,permissions,source_role\nanalytics,,ro,a.b,SELECT,\n",
		"\uFEFFrole,type,resource_name,source_role,privileges,scopes,rotate_password\nro,external,analytics,pg_monitor,,,true\n",
		"resource_name,type,role,scopes,permissions,source_role\n\"analytics,,ro\n",
		"resource_name,type,role,scopes,permissions,source_role\nanalytics,,r\"o,a,SELECT,\n",
		"resource_name,resource_name\n",
		"a,b\n\n\n1,2,3\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkParse(t, File{Name: "fuzz.csv", Data: data})
	})
}
