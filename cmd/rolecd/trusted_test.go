package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/rolecd/rolecd/gitsource/gittest"
	"github.com/rolecd/rolecd/planner"
	"github.com/rolecd/rolecd/test/pgstandin"
	"github.com/rolecd/rolecd/test/pgtest"
)

// `plan --trusted-inventory` on a pull request's checkout: the resource
// the PR adds (pointing at a PostgreSQL look-alike, with rolecd's own key
// as credential) is reported and never contacted; the unchanged resource
// is planned. The trusted inventory is a git revision (go-git) or a
// directory outside the checkout.
func TestPlanTrustedInventory(t *testing.T) {
	c := pgtest.Start(t)
	standin := pgstandin.Start(t, pgstandin.AuthCleartext)
	secretKey := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	env := map[string]string{"ADMIN_PW": c.Password, "ROLECD_SECRET_KEY": secretKey,
		"ROLECD_STORE": "sqlite://" + filepath.Join(t.TempDir(), "rolecd.db")}
	roles := "roles:\n  - {resource: app, role: ro, scopes: [postgres], privileges: [SELECT]}\n  - {resource: evil, role: loot, scopes: [postgres], privileges: [SELECT]}\n"
	// The real admin password (rolecd's own secrets are refused earlier,
	// by the credential policy).
	evil := fmt.Sprintf("  - name: evil\n    host: %s\n    port: %d\n    sslmode: disable\n    admin:\n      user: postgres\n      password_env: ADMIN_PW\n", standin.Host, standin.Port)

	remote := gittest.New(t)
	remote.Commit("main", "declare app", gittest.File("roles/resources.yaml", resourceYAML("app", c.Host, c.Port)),
		gittest.File("roles/roles.yaml", "roles:\n  - {resource: app, role: ro, scopes: [postgres], privileges: [SELECT]}\n"))
	remote.Branch("pr-1", remote.Head("main"))
	prHead := remote.Commit("pr-1", "add evil", gittest.File("roles/resources.yaml", resourceYAML("app", c.Host, c.Port)+evil),
		gittest.File("roles/roles.yaml", roles))

	// A CI checkout of the pull request: a clone at the PR head, the base
	// branch as origin/main.
	checkout := t.TempDir()
	repo, err := git.PlainClone(checkout, false, &git.CloneOptions{URL: remote.URL(), ReferenceName: plumbing.NewBranchReferenceName("main")})
	if err != nil {
		t.Fatal(err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	if err := wt.Checkout(&git.CheckoutOptions{Hash: plumbing.NewHash(prHead)}); err != nil {
		t.Fatal(err)
	}
	rolesDir := filepath.Join(checkout, "roles")
	trustedDir := writeFiles(t, map[string]string{"resources.yaml": resourceYAML("app", c.Host, c.Port)})

	for _, tt := range []struct{ name, trusted string }{
		{"git revision", "origin/main"},
		{"directory", trustedDir},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := rolecd(t, env, "--repo", rolesDir, "plan", "--trusted-inventory", tt.trusted)
			if r.code != 2 {
				t.Fatalf("exit %d, want 2 (changes): %+v", r.code, r)
			}
			for _, want := range []string{
				fmt.Sprintf("+ resource evil would be added: host %s/postgres as postgres, credential env:ADMIN_PW", standin.Addr()),
				"roles not planned: rolecd_evil_loot_",
				"resource app (PostgreSQL", "+ rolecd_app_ro_",
			} {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("plan output lacks %q:\n%s", want, r.stdout)
				}
			}
			if strings.Contains(r.stdout+r.stderr, secretKey) || strings.Contains(r.stdout+r.stderr, c.Password) {
				t.Error("a secret appears in the output")
			}
			if n := standin.Connections(); n != 0 {
				t.Fatalf("the stand-in got %d connection(s)", n)
			}
		})
	}

	t.Run("json", func(t *testing.T) {
		r := rolecd(t, env, "--repo", rolesDir, "--output", "json", "plan", "--trusted-inventory", "origin/main")
		var doc planner.Document
		if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || r.code != 2 {
			t.Fatalf("exit %d, stdout not a plan document (%v): %+v", r.code, err, r)
		}
		if len(doc.Resources) != 1 || doc.Resources[0].Resource != "app" || !strings.Contains(r.stderr, "+ resource evil would be added") {
			t.Errorf("resources %+v, stderr %q: want app planned and evil reported", doc.Resources, r.stderr)
		}
	})
	t.Run("a directory inside the checkout is not trusted", func(t *testing.T) {
		r := rolecd(t, env, "--repo", rolesDir, "plan", "--trusted-inventory", rolesDir)
		if r.code != 1 || !strings.Contains(r.stderr, "files in the checkout being planned are not trusted") {
			t.Fatalf("%+v", r)
		}
	})
	t.Run("an unknown revision", func(t *testing.T) {
		r := rolecd(t, env, "--repo", rolesDir, "plan", "--trusted-inventory", "origin/nope")
		if r.code != 1 || !strings.Contains(r.stderr, "not a git revision") {
			t.Fatalf("%+v", r)
		}
	})
	if n := standin.Connections(); n != 0 {
		t.Fatalf("the stand-in got %d connection(s)", n)
	}

	// Without the flag the checkout decides, and the stand-in is
	// contacted (the assertions above can fail); it still gets no
	// password, as it asks for cleartext.
	r := rolecd(t, env, "--repo", rolesDir, "plan")
	standin.Close()
	if r.code != 1 || standin.Connections() == 0 {
		t.Fatalf("plan without --trusted-inventory: exit %d, stand-in connections %d: %+v", r.code, standin.Connections(), r)
	}
	if pws := standin.Passwords(); len(pws) != 0 {
		t.Errorf("the stand-in received %q", pws)
	}
}

// `rolecd health` on a reviewed resource whose server asks for a
// cleartext password: without allow_cleartext it fails with a clear
// error and the server receives no password; with it, it answers.
func TestHealthRefusesCleartext(t *testing.T) {
	const secret = "admin-password-for-legacy"
	env := map[string]string{"ADMIN_PW": secret, "ROLECD_STORE": "sqlite://" + filepath.Join(t.TempDir(), "rolecd.db")}
	for _, auth := range []int{pgstandin.AuthCleartext, pgstandin.AuthMD5} {
		standin := pgstandin.Start(t, auth)
		repo := writeFiles(t, map[string]string{"resources.yaml": resourceYAML("legacy", standin.Host, standin.Port)})
		r := rolecd(t, env, "--repo", repo, "health", "--resource", "legacy")
		standin.Close()
		method := map[int]string{pgstandin.AuthCleartext: "cleartext", pgstandin.AuthMD5: "md5"}[auth]
		if r.code != 1 || !strings.Contains(r.stdout, "status: failed") ||
			!strings.Contains(r.stdout, standin.Addr()+" asked for "+method+" password authentication; rolecd refused and sent no password") ||
			!strings.Contains(r.stdout, "admin.allow_cleartext: true") {
			t.Errorf("%s: %+v", method, r)
		}
		if len(standin.Attempts()) == 0 {
			t.Fatalf("%s: the stand-in saw no startup message", method)
		}
		if pws := standin.Passwords(); len(pws) != 0 || strings.Contains(r.stdout+r.stderr, secret) {
			t.Errorf("%s: the stand-in received %q", method, pws)
		}
	}

	standin := pgstandin.Start(t, pgstandin.AuthCleartext)
	repo := writeFiles(t, map[string]string{"resources.yaml": strings.Replace(resourceYAML("legacy", standin.Host, standin.Port),
		"password_env: ADMIN_PW", "password_env: ADMIN_PW\n      allow_cleartext: true", 1)})
	r := rolecd(t, env, "--repo", repo, "health", "--resource", "legacy")
	standin.Close()
	if pws := standin.Passwords(); r.code != 1 || len(pws) != 1 || string(pws[0]) != secret {
		t.Errorf("allow_cleartext: true: exit %d, stand-in received %q; want the password sent", r.code, pws)
	}
}
