package spec

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

const limitsInventory = "resources:\n  - {name: a, host: h, admin: {user: u}}\n"

// yamlRoles declares n managed roles of resource a, one per line.
func yamlRoles(n int) string {
	var b strings.Builder
	b.WriteString("roles:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - {resource: a, role: r%d, scopes: [x], privileges: [SELECT]}\n", i)
	}
	return b.String()
}

func TestLoadLimits(t *testing.T) {
	small := Limits{MaxFileBytes: 1000, MaxTreeBytes: 1500, MaxRoles: 10}
	tests := []struct {
		name   string
		files  map[string]string
		limits Limits
		want   []string // nil: valid
	}{
		{
			name:   "within every limit",
			files:  map[string]string{"inv.yaml": limitsInventory, "roles.yaml": yamlRoles(10)},
			limits: small,
		},
		{
			name:   "one file over max_file_size",
			files:  map[string]string{"inv.yaml": limitsInventory, "roles.yaml": yamlRoles(10) + strings.Repeat("#", 1000)},
			limits: small,
			want:   []string{"roles.yaml: file is 1.6 KiB, over the limit of 1000 bytes per role file (limits.max_file_size in rolecd.yaml); not read"},
		},
		{
			name: "the tree over max_tree_size",
			files: map[string]string{"inv.yaml": limitsInventory, "a.yaml": strings.Repeat("#", 900),
				"b.yaml": strings.Repeat("#", 900)},
			limits: small,
			want:   []string{"b.yaml: the role files total at least 1.8 KiB, over the limit of 1.5 KiB per tree (limits.max_tree_size in rolecd.yaml); none was read"},
		},
		{
			name:   "more roles than max_roles",
			files:  map[string]string{"inv.yaml": limitsInventory, "roles.yaml": yamlRoles(11)},
			limits: Limits{MaxRoles: 10},
			want:   []string{"roles.yaml:12:5: more than 10 roles in the role files (limits.max_roles in rolecd.yaml): the rest is not read"},
		},
		{
			name: "max_roles counts CSV rows and every file",
			files: map[string]string{"inv.yaml": limitsInventory, "a.yaml": yamlRoles(8),
				"b.csv": "resource_name,type,role,scopes,permissions,source_role\na,managed,c1,x,SELECT,\na,managed,c2,x,SELECT,\na,managed,c3,x,SELECT,\n"},
			limits: Limits{MaxRoles: 10},
			want:   []string{"b.csv:4: more than 10 roles in the role files (limits.max_roles in rolecd.yaml): the rest is not read"},
		},
		{
			name:   "more resources than max_roles",
			files:  map[string]string{"inv.yaml": "resources:\n  - {name: a, host: h, admin: {user: u}}\n  - {name: b, host: h, admin: {user: u}}\n"},
			limits: Limits{MaxRoles: 1},
			want:   []string{"inv.yaml:3:5: more than 1 resources in the role files (limits.max_roles in rolecd.yaml): the rest is not read"},
		},
		{
			name: "a flow list of tiny values over the value budget",
			files: map[string]string{"inv.yaml": limitsInventory,
				"roles.yaml": "roles: [{resource: a, role: r, privileges: [SELECT], scopes: [" + strings.Repeat("x,", 300) + "x]}]\n"},
			limits: Limits{MaxRoles: 10},
			want:   []string{"roles.yaml: the role files hold about 327 values up to this one, over the limit of 250 (25 per role of limits.max_roles in rolecd.yaml); not read"},
		},
		{
			name: "a CSV cell of many entries over the value budget",
			files: map[string]string{"inv.yaml": limitsInventory,
				"roles.csv": "resource_name,type,role,scopes,permissions,source_role\na,managed,r," + strings.Repeat("x;", 300) + ",SELECT,\n"},
			limits: Limits{MaxRoles: 10},
			want:   []string{"roles.csv: the role files hold about 326 values up to this one, over the limit of 250 (25 per role of limits.max_roles in rolecd.yaml); not read"},
		},
		{
			name: "a list field of more than 1000 entries",
			files: map[string]string{"inv.yaml": limitsInventory,
				"roles.yaml": "roles: [{resource: a, role: r, privileges: [SELECT], scopes: [" + strings.Repeat("x, ", 1000) + "x]}]\n"},
			want: []string{"roles.yaml:1:62: scopes: more than 1000 entries"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for name, data := range tt.files {
				fsys[name] = &fstest.MapFile{Data: []byte(data)}
			}
			tree, err := Load(fsys, Options{Limits: tt.limits})
			got := errorStrings(t, tree, err)
			if !slices.Equal(got, tt.want) {
				t.Errorf("errors:\n%q\nwant:\n%q", got, tt.want)
			}
		})
	}
}

// errorStrings renders Load's Errors (nil when it returned a tree).
func errorStrings(t *testing.T, tree *Tree, err error) []string {
	t.Helper()
	if err == nil {
		if tree == nil {
			t.Fatal("neither a tree nor an error")
		}
		return nil
	}
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("error is %T, want Errors: %v", err, err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Error())
	}
	return out
}

func TestParseLimits(t *testing.T) {
	// plan -f gives Parse the data of one file: the same limits hold.
	big := File{Name: "plan.yaml", Data: []byte(yamlRoles(3) + strings.Repeat("#", 2000))}
	got := parseErrs(t, Options{Limits: Limits{MaxFileBytes: 1024}}, big)
	want := []string{"plan.yaml: file is 2.1 KiB, over the limit of 1 KiB per role file (limits.max_file_size in rolecd.yaml); not read"}
	if !slices.Equal(got, want) {
		t.Errorf("errors:\n%q\nwant:\n%q", got, want)
	}
}

// lyingFS reports every file as 1 byte long: a file that grows between
// the listing and the read.
type lyingFS struct{ fstest.MapFS }

type lyingEntry struct{ fs.DirEntry }
type lyingInfo struct{ fs.FileInfo }

func (l lyingInfo) Size() int64 { return 1 }
func (l lyingEntry) Info() (fs.FileInfo, error) {
	i, err := l.DirEntry.Info()
	return lyingInfo{i}, err
}
func (l lyingFS) ReadDir(name string) ([]fs.DirEntry, error) {
	es, err := l.MapFS.ReadDir(name)
	for i := range es {
		es[i] = lyingEntry{es[i]}
	}
	return es, err
}

func TestLoadFileGrownPastLimit(t *testing.T) {
	fsys := lyingFS{fstest.MapFS{"roles.yaml": {Data: []byte(strings.Repeat("#", 5000))}}}
	tree, err := Load(fsys, Options{Limits: Limits{MaxFileBytes: 1000}})
	got := errorStrings(t, tree, err)
	want := []string{"roles.yaml: file is 1001 bytes, over the limit of 1000 bytes per role file (limits.max_file_size in rolecd.yaml); not read"}
	if !slices.Equal(got, want) {
		t.Errorf("errors:\n%q\nwant:\n%q", got, want)
	}
}

func TestManyProblemsAreCut(t *testing.T) {
	// 3000 entries that are not mappings: 3000 problems, 500 shown.
	f := yamlOf("roles: [" + strings.Repeat("1, ", 2999) + "1]\n")
	got := parseErrs(t, Options{}, f)
	if len(got) != maxReported+1 {
		t.Fatalf("%d problems reported, want %d", len(got), maxReported+1)
	}
	if want := "roles.yaml: and 2500 more problem(s) not shown"; got[maxReported] != want {
		t.Errorf("last problem = %q, want %q", got[maxReported], want)
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 bytes", 1023: "1023 bytes", 1024: "1 KiB", 1536: "1.5 KiB",
		4 << 20: "4 MiB", 64 << 20: "64 MiB", 52428881: "50.0 MiB", 3 << 30: "3 GiB"} {
		if got := FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// BenchmarkLoadHostile measures what Load allocates on the inputs of the
// limits: a 50 MiB file (refused by its size, never read), a file of tiny
// values just over the value budget (refused before it is decoded) and
// 20,000 roles, the most the defaults allow. Run with -benchmem.
func BenchmarkLoadHostile(b *testing.B) {
	flow := "roles: [{resource: a, role: r, privileges: [SELECT], scopes: [" + strings.Repeat("x,", 500000) + "x]}]\n"
	cases := []struct {
		name  string
		fsys  fstest.MapFS
		valid bool
	}{
		{"50MiB file", fstest.MapFS{"roles.yaml": {Data: make([]byte, 50<<20)}}, false},
		{"value budget", fstest.MapFS{"roles.yaml": {Data: []byte(flow)}}, false},
		{"20000 roles", fstest.MapFS{"inv.yaml": {Data: []byte(limitsInventory)}, "roles.yaml": {Data: []byte(yamlRoles(DefaultMaxRoles))}}, true},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Load(c.fsys, Options{}); (err == nil) != c.valid {
					b.Fatalf("Load: %v", err)
				}
			}
		})
	}
}
