package spec

import (
	"slices"
	"testing"
	"testing/fstest"
)

func TestNotRoleFile(t *testing.T) {
	tests := []struct {
		name, data string
		foreign    bool
	}{
		{"a.yaml", "roles: []\n", false},
		{"a.yaml", "resources:\n  - name: x\n", false},
		{"a.yml", "items: []\n", false},
		{"a.yaml", "", false},
		{"a.yaml", "rolse: []\n", false},     // a typo: reported
		{"a.yaml", "Roles: []\n", false},     // a typo: reported
		{"a.yaml", "resource: x\n", false},   // a typo: reported
		{"a.yaml", "roles: [\n", false},      // broken: reported
		{"a.yaml", "- resource: x\n", false}, // roles without their key: reported
		{"a.yaml", "apiVersion: v1\nkind: Secret\nroles: x\n", true},
		{"a.yaml", "services:\n  db: {}\n", true},
		{"a.yaml", "git:\n  url: x\nstore: y\n", true},
		{"a.yaml", "rules:\n  - x\n", true},
		{"a.yaml", "- hosts: all\n", true},
		{"a.yaml", "just text\n", true},
		{"a.yaml", "---\n---\nservices: {}\n", true},
		{"a.yaml", "services: {}\n---\nroles: []\n", false},
		{"a.csv", "resource_name,type,role,scopes,permissions\n", false},
		{"a.csv", "\n Resource_Name ,role\n", false},
		{"a.csv", "role,scopes,permissions\n", false},
		{"a.csv", "", false},
		{"a.csv", "name,email\n", true},
		{"a.csv", "name,type\n", true},
		{"a.txt", "roles: []\n", true},
	}
	for _, tt := range tests {
		why := NotRoleFile(File{Name: tt.name, Data: []byte(tt.data)})
		if (why != "") != tt.foreign {
			t.Errorf("%s %q: NotRoleFile = %q, want foreign %v", tt.name, tt.data, why, tt.foreign)
		}
	}
}

func TestLoadDiscover(t *testing.T) {
	fsys := fstest.MapFS{
		"inventory.yaml":       {Data: []byte("resources:\n  - {name: app, host: h, admin: {user: postgres}}\n")},
		"roles/ro.yaml":        {Data: []byte("roles:\n  - {resource: app, role: ro, scopes: [app], privileges: [SELECT]}\n")},
		"k8s.yaml":             {Data: []byte("apiVersion: v1\nkind: ConfigMap\n")},
		"deploy/x.yaml":        {Data: []byte("roles: [\n")},
		"roles/testdata/x.csv": {Data: []byte("resource_name\nbroken,\"\n")},
		"vendor/m/y.yml":       {Data: []byte("roles: 1\n")},
	}
	var skipped []string
	tree, err := Load(fsys, Options{Discover: true, Skipped: func(name, _ string) { skipped = append(skipped, name) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(tree.Resources) != 1 || len(tree.Roles) != 1 {
		t.Errorf("tree = %+v", tree)
	}
	slices.Sort(skipped)
	if want := []string{"deploy/", "k8s.yaml", "roles/testdata/", "vendor/"}; !slices.Equal(skipped, want) {
		t.Errorf("skipped %q, want %q", skipped, want)
	}
	if _, err := Load(fsys, Options{}); err == nil {
		t.Error("without Discover, the same tree loads without complaint")
	}
}

func TestNearKey(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want bool
	}{
		{"roles", "roles", true}, {"role", "roles", true}, {"rolse", "roles", true}, {"rols", "roles", true},
		{"roels", "roles", true}, {"xroles", "roles", true}, {"rules", "roles", true}, {"ro", "roles", false},
		{"items", "roles", false}, {"resourcse", "resources", true}, {"reosurcse", "resources", false},
	} {
		if got := nearKey(tt.a, tt.b); got != tt.want {
			t.Errorf("nearKey(%q, %q) = %v", tt.a, tt.b, got)
		}
	}
}
