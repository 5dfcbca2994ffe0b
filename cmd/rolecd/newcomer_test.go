package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// allowAdminPW lets role files read their admin password from ADMIN_PW
// (credentials.env_allow), without giving it.
var allowAdminPW = map[string]string{"ROLECD_CREDENTIALS_ENV_ALLOW": "ADMIN_PW"}

const k8sManifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: rolecd\ndata:\n  rules: x\n"

// From the root of this source checkout, where a newcomer stands after
// `make demo`, plan and validate no longer flood: one line says where
// rolecd looked and where role files are.
func TestRepositoryRootDoesNotFlood(t *testing.T) {
	t.Chdir(filepath.Join("..", ".."))
	if _, err := os.Stat("roles.example"); err != nil {
		t.Fatalf("not the repository root: %v", err)
	}
	env := map[string]string{"ROLECD_STORE": "sqlite://" + filepath.Join(t.TempDir(), "rolecd.db")}
	for _, cmd := range []string{"validate", "plan"} {
		r := rolecd(t, env, cmd)
		if r.code != 1 || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%s: want exit 1 and one line on stderr: %+v", cmd, r)
		}
		for _, want := range []string{"no role files found", "roles/ (no such directory)", "--repo roles.example"} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("%s: stderr lacks %q: %s", cmd, want, r.stderr)
			}
		}
	}
}

func TestDefaultTreeLocation(t *testing.T) {
	res := resourceYAML("app", "127.0.0.1", 5432)
	role := "roles:\n  - {resource: app, role: ro, scopes: [app], privileges: [SELECT]}\n"
	tests := []struct {
		name     string
		files    map[string]string
		args     []string
		code     int
		stdout   string   // contained in stdout
		stderr   []string // each contained in stderr
		unwanted string   // in neither
	}{
		{"roles/ is the default",
			map[string]string{"roles/inventory.yaml": res, "roles/ro.yaml": role, "docker-compose.yml": "services:\n  db: {image: postgres}\n"},
			[]string{"validate"}, 0, "roles: ok: 1 resources, 1 roles", []string{`found_by="default: roles/"`}, ""},
		{". when it holds role files; what is not role files is skipped and said at debug level",
			map[string]string{"inventory.yaml": res, "ro.yaml": role, "k8s.yaml": k8sManifest, "docker-compose.yml": "services:\n  db: {image: postgres}\n",
				"people.csv": "name,email\nann,a@x\n", "deploy/values.yaml": "replicas: 2\n", "testdata/broken.yaml": "roles: [\n",
				"node_modules/pkg/x.yml": "roles: 1\n", ".github/workflows/ci.yml": "on: push\n"},
			[]string{"--log-level", "debug", "validate"}, 0, ".: ok: 1 resources, 1 roles",
			[]string{`file=k8s.yaml reason="a Kubernetes manifest"`, "file=docker-compose.yml", "file=people.csv", "file=deploy/", "file=testdata/", "file=node_modules/"},
			"broken"},
		{"a typo in a role file's key is still reported",
			map[string]string{"inventory.yaml": res, "ro.yaml": strings.Replace(role, "roles:", "rolse:", 1)},
			[]string{"validate"}, 1, `ro.yaml:1:1: unknown key "rolse"`, []string{"rolecd: . (default: . holds role files): 2 problem(s)"}, ""},
		{"the config's git.path comes first",
			map[string]string{"rolecd.yaml": "git:\n  path: inv\n", "inv/all.yaml": res + role, "roles/other.yaml": "roles: [\n"},
			[]string{"validate"}, 0, "inv: ok: 1 resources, 1 roles", []string{"git.path of rolecd.yaml"}, ""},
		{"problems name where the tree was found",
			map[string]string{"roles/all.yaml": res + strings.Replace(role, "SELECT", "FLY", 1)},
			[]string{"plan"}, 1, "", []string{`roles/all.yaml:10:`, `unknown privilege "FLY"`, "under roles (default: roles/)"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Chdir(writeFiles(t, tt.files))
			r := rolecd(t, allowAdminPW, tt.args...)
			if r.code != tt.code || !strings.Contains(r.stdout, tt.stdout) {
				t.Fatalf("exit %d, want %d, stdout lacking %q? %+v", r.code, tt.code, tt.stdout, r)
			}
			for _, want := range tt.stderr {
				if !strings.Contains(r.stderr, want) && !strings.Contains(r.stdout, want) {
					t.Errorf("output lacks %q: %+v", want, r)
				}
			}
			if tt.unwanted != "" && strings.Contains(r.stdout+r.stderr, tt.unwanted) {
				t.Errorf("output has %q: %+v", tt.unwanted, r)
			}
			if _, err := os.Stat(".rolecd"); err == nil {
				t.Errorf("a store was created in the working directory")
			}
		})
	}
}

func TestValidateOneFile(t *testing.T) {
	repo := writeFiles(t, map[string]string{"resources.yaml": resourceYAML("app", "127.0.0.1", 5432)})
	work := t.TempDir()
	t.Chdir(work)
	writeFile(t, "hoop.csv", "resource_name,type,role,scopes,permissions\napp,managed,RO,app,\"SELECT, INSERT\"\n")
	writeFile(t, "own.yaml", resourceYAML("solo", "127.0.0.1", 5432)+"roles:\n  - {resource: solo, role: ro, scopes: [solo], privileges: [SELECT]}\n")
	writeFile(t, "bad.yaml", "roles:\n  - {resource: app, role: ro, scopes: [app], privileges: [FLY]}\n")

	if r := rolecd(t, allowAdminPW, "--repo", repo, "validate", "hoop.csv"); r.code != 0 || !strings.Contains(r.stdout, "hoop.csv: ok: 1 resources, 1 roles") {
		t.Errorf("a Hoop CSV using the tree's resources: %+v", r)
	}
	if r := rolecd(t, allowAdminPW, "validate", "own.yaml"); r.code != 0 || !strings.Contains(r.stdout, "own.yaml: ok: 1 resources, 1 roles") {
		t.Errorf("a file declaring its own resources, no tree around: %+v", r)
	}
	r := rolecd(t, allowAdminPW, "--repo", repo, "validate", "bad.yaml")
	if r.code != 1 || !strings.Contains(r.stdout, `bad.yaml:2:`) || !strings.Contains(r.stdout, `"FLY"`) {
		t.Errorf("a bad file: %+v", r)
	}
	if r := rolecd(t, allowAdminPW, "validate", "hoop.csv"); r.code != 1 || !strings.Contains(r.stdout, `unknown resource "app"`) || !strings.Contains(r.stderr, "on its own") {
		t.Errorf("a file whose resources are nowhere: %+v", r)
	}
}

func TestCLIHabits(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, args := range [][]string{{"version"}, {"--version"}} {
		if r := rolecd(t, nil, args...); r.code != 0 || !strings.HasPrefix(r.stdout, "rolecd ") || !strings.Contains(r.stdout, "(commit ") {
			t.Errorf("%v: %+v", args, r)
		}
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"plan", "-o", "json"}, "-o takes a file path to write the plan document to (e.g. -o plan.json), not a format: for json on stdout use --output json"},
		{[]string{"--log-level", "verbose", "validate"}, `--log-level "verbose": want one of debug, info, warn, error`},
		{[]string{"sessions", "list", "--kind", "plans"}, `--kind "plans": want one of plan, apply, health, credential, drift, audit`},
		{[]string{"sessions", "list", "--status", "done"}, `--status "done": want one of no-changes, changes, applied, refused, failed, ok, running`},
		{[]string{"paln"}, `unknown command "paln" for "rolecd"; did you mean plan?`},
		{[]string{"sessions", "lst"}, `unknown command "lst" for "rolecd sessions"; did you mean list?`},
		{[]string{"health"}, "no role files found"},
		{[]string{"plan", "--resorce", "x"}, "unknown flag: --resorce; did you mean --resource?"},
	}
	for _, tt := range tests {
		r := rolecd(t, nil, tt.args...)
		if r.code != 1 || !strings.Contains(r.stderr, tt.want) || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%v: want exit 1 and one line with %q: %+v", tt.args, tt.want, r)
		}
	}
	writeFile(t, "inventory.yaml", "resources: []\n")
	if r := rolecd(t, nil, "health"); r.code != 1 || !strings.Contains(r.stderr, "no resources in the role files under .: nothing to check") {
		t.Errorf("health with no resources: %+v", r)
	}
	entries, _ := os.ReadDir(".")
	if len(entries) != 1 {
		t.Errorf("files created in the working directory: %v", entries)
	}
}

// Every command's --help shows an example and its exit statuses.
func TestEveryCommandHelp(t *testing.T) {
	root := newRootCmd(&globals{})
	var paths [][]string
	for _, c := range root.Commands() {
		paths = append(paths, []string{c.Name()})
		for _, sub := range c.Commands() {
			paths = append(paths, []string{c.Name(), sub.Name()})
		}
	}
	paths = append(paths, nil)
	if len(paths) < 15 {
		t.Fatalf("only %d commands found", len(paths))
	}
	for _, p := range paths {
		r := rolecd(t, nil, append(p, "--help")...)
		if r.code != 0 || !strings.Contains(r.stdout, "Examples:\n  ") || !strings.Contains(r.stdout, "Exit status: 0 ") {
			t.Errorf("rolecd %s --help lacks an example or the exit statuses:\n%s", strings.Join(p, " "), r.stdout)
		}
	}
}
