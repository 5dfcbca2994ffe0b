package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rolecd/rolecd/gitsource/gittest"
	"github.com/rolecd/rolecd/planner/spec"
	"github.com/rolecd/rolecd/reconciler"
	"github.com/rolecd/rolecd/store"
	"github.com/rolecd/rolecd/test/pgstandin"
	"github.com/rolecd/rolecd/test/pgtest"
)

// unreviewedCase is one pull request of TestUnreviewedConnectionsReceiveNothing.
type unreviewedCase struct {
	name string
	// resources returns the PR's resources.yaml for the cluster's db1 and
	// the stand-in s.
	resources func(e *daemonEnv, s *pgstandin.Server) string
	comment   string // the inventory line: %[1]s the stand-in's host:port, %[2]d db1's port, %[3]d the stand-in's
	planned   bool   // db1's role is planned
	extra     string // another resource the PR declares a role for
	// refused is what the allow-list says about the credential ("" when
	// it allows it).
	refused string
}

// The trust boundary, end to end: pull requests that point rolecd at a
// PostgreSQL look-alike asking for a cleartext password, with every kind
// of secret as the credential. The look-alike must receive nothing (not
// even a connection) while the pull request is open. Each variant runs
// twice: with the operator's credential allow-list (rolecd's own secrets
// and unlisted sources are then validation errors, named with file:line)
// and without it, where the trust boundary alone must hold: the comment
// names the inventory change and the reviewed resource db1 (real
// PostgreSQL) is still planned.
func TestUnreviewedConnectionsReceiveNothing(t *testing.T) {
	const (
		secretKey = "c2VjcmV0LWtleS1vZi1yb2xlY2Qtd2hpY2gtZGVjcnlwdHM="
		shadow    = "root:$6$the-shadow-file:19000:0:99999:7:::"
	)
	secretFile := filepath.Join(t.TempDir(), "db-admin-password")
	if err := os.WriteFile(secretFile, []byte(shadow+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	standinRes := func(name string, s *pgstandin.Server, credential string) string {
		return fmt.Sprintf("  - name: %s\n    host: %s\n    port: %d\n    sslmode: prefer\n    admin:\n      user: postgres\n      %s\n", name, s.Host, s.Port, credential)
	}
	tests := []unreviewedCase{
		{"new resource, the real admin password", func(e *daemonEnv, s *pgstandin.Server) string {
			return resourceYAML(resourceName, e.cluster) + standinRes("evil", s, "password_env: PGTEST_PASSWORD_DB1")
		}, "resource `evil` would be added: host `%[1]s/postgres` as `postgres`, credential `env:PGTEST_PASSWORD_DB1`; not connected until merged", true, "evil", ""},
		{"moved port", func(e *daemonEnv, s *pgstandin.Server) string {
			return strings.Replace(resourceYAML(resourceName, e.cluster), fmt.Sprintf("port: %d", e.cluster.Port), fmt.Sprintf("port: %d", s.Port), 1)
		}, "connection of `db1` changes: port `" + "%[2]d" + "` -> `%[3]d`; not connected until merged", false, "", ""},
		{"ROLECD_SECRET_KEY", func(e *daemonEnv, s *pgstandin.Server) string {
			return resourceYAML(resourceName, e.cluster) + standinRes("evil", s, "password_env: ROLECD_SECRET_KEY")
		}, "resource `evil` would be added: host `%[1]s/postgres` as `postgres`, credential `env:ROLECD_SECRET_KEY`", true, "evil", "ROLECD_SECRET_KEY is one of rolecd's own secrets"},
		{"GITHUB_TOKEN", func(e *daemonEnv, s *pgstandin.Server) string {
			return resourceYAML(resourceName, e.cluster) + standinRes("evil", s, "password_env: GITHUB_TOKEN")
		}, "resource `evil` would be added: host `%[1]s/postgres` as `postgres`, credential `env:GITHUB_TOKEN`", true, "evil", "GITHUB_TOKEN is one of rolecd's own secrets"},
		{"/etc/shadow", func(e *daemonEnv, s *pgstandin.Server) string {
			return resourceYAML(resourceName, e.cluster) + standinRes("evil", s, "password_file: /etc/shadow")
		}, "resource `evil` would be added: host `%[1]s/postgres` as `postgres`, credential `file:/etc/shadow`", true, "evil", "admin.password_file: not allowed by the credential policy"},
		{"secret file", func(e *daemonEnv, s *pgstandin.Server) string {
			return resourceYAML(resourceName, e.cluster) + standinRes("evil", s, "password_file: "+secretFile)
		}, "resource `evil` would be added: host `%[1]s/postgres` as `postgres`, credential `file:" + secretFile + "`", true, "evil", ""},
		{"existing resource's credential and host", func(e *daemonEnv, s *pgstandin.Server) string {
			return strings.Replace(standinRes(resourceName, s, "password_env: ROLECD_SECRET_KEY"), "  - name", "resources:\n  - name", 1)
		}, "connection of `db1` changes: port `%[2]d` -> `%[3]d`, sslmode `disable` -> `prefer`, credential `env:PGTEST_PASSWORD_DB1` -> `env:ROLECD_SECRET_KEY`", false, "", "ROLECD_SECRET_KEY is one of rolecd's own secrets"},
	}
	// The operator allows the directory of the secret file: only the trust
	// boundary stands between it and the stand-in.
	allowList := &spec.CredentialPolicy{EnvAllow: credentialPolicy.EnvAllow, Reserved: []string{"GITHUB_TOKEN"}, FileDirs: []string{filepath.Dir(secretFile)}}
	for _, tt := range tests {
		for _, policy := range []*spec.CredentialPolicy{allowList, nil} {
			name := tt.name + ", allow-list"
			if policy == nil {
				name = tt.name + ", no allow-list"
			}
			t.Run(name, func(t *testing.T) {
				unreviewedConnection(t, tt, policy, secretKey, shadow)
			})
		}
	}
}

// unreviewedConnection runs one variant of TestUnreviewedConnectionsReceiveNothing.
func unreviewedConnection(t *testing.T, tc unreviewedCase, policy *spec.CredentialPolicy, secretKey, shadow string) {
	e := newDaemonEnv(t)
	standin := pgstandin.Start(t, pgstandin.AuthCleartext)
	secrets := map[string]string{"ROLECD_SECRET_KEY": secretKey, "GITHUB_TOKEN": ghToken}
	pgEnv := env(map[string]*pgtest.Cluster{resourceName: e.cluster})
	e.getenv = func(k string) string { // the daemon's own environment
		if v, ok := secrets[k]; ok {
			return v
		}
		return pgEnv(k)
	}
	d := e.newDaemon(func(o *reconciler.Options) { o.Credentials = policy })
	head := e.openPR(1, gittest.File(roleFilesDir+"/resources.yaml", tc.resources(e, standin)),
		rolesYAMLWith(map[string]string{"ro": "SELECT"}, tc.extra))
	d.mustDeliver("pull_request", "d-open", e.gh.PullRequestEvent("opened", 1))
	d.drain()

	standin.Close()
	if n := standin.Connections(); n != 0 {
		t.Fatalf("the stand-in received %d connection(s) from an unmerged pull request (passwords %q)", n, standin.Passwords())
	}
	comments := e.botComments(1)
	if len(comments) != 1 {
		t.Fatalf("%d bot comments, want 1", len(comments))
	}
	body := comments[0].Body
	for _, secret := range []string{secretKey, ghToken, shadow, e.cluster.Password} {
		if strings.Contains(body, secret) || strings.Contains(e.logs.String(), secret) {
			t.Errorf("a secret appears in the comment or the logs")
		}
	}
	st, ok := e.gh.LatestStatus(head, reconciler.StatusPlan)
	if policy != nil && tc.refused != "" {
		// Refused by the allow-list, at file:line; nothing planned.
		if !strings.Contains(body, tc.refused) || !strings.Contains(body, "roles/resources.yaml:") || !ok || st.State != "failure" {
			t.Errorf("want the allow-list refusal %q at file:line and a failure status (%+v):\n%s", tc.refused, st, body)
		}
		return
	}
	want := fmt.Sprintf(tc.comment, standin.Addr(), e.cluster.Port, standin.Port)
	for _, w := range []string{want, "#### Inventory changes: not connected until merged", "not connected until merged (see the inventory changes)"} {
		if !strings.Contains(body, w) {
			t.Errorf("comment lacks %q:\n%s", w, body)
		}
	}
	ro := roleName(t, "ro")
	if got := strings.Contains(body, "`"+ro+"` managed"); got != tc.planned {
		t.Errorf("db1's role %s planned: %v, want %v:\n%s", ro, got, tc.planned, body)
	}
	if !tc.planned && !strings.Contains(body, "Roles not planned: `"+ro+"`") {
		t.Errorf("comment does not list db1's role as not planned:\n%s", body)
	}
	if !ok || st.State != "success" || !strings.Contains(st.Description, "not connected until merged") {
		t.Errorf("rolecd/plan status = %+v", st)
	}
}

// Once merged, the inventory is reviewed state: the daemon connects to
// the new resource. The look-alike asks for a cleartext password, which
// rolecd refuses (no allow_cleartext): it still receives no password.
func TestMergedStandinGetsNoCleartextPassword(t *testing.T) {
	e := newDaemonEnv(t)
	standin := pgstandin.Start(t, pgstandin.AuthCleartext)
	d := e.newDaemon(nil)
	e.openPR(1, gittest.File(roleFilesDir+"/resources.yaml", resourceYAML(resourceName, e.cluster)+
		fmt.Sprintf("  - name: legacy\n    host: %s\n    port: %d\n    sslmode: disable\n    admin:\n      user: postgres\n      password_env: PGTEST_PASSWORD_DB1\n", standin.Host, standin.Port)),
		rolesYAMLWith(map[string]string{"ro": "SELECT"}, "legacy"))
	d.mustDeliver("pull_request", "d-open", e.gh.PullRequestEvent("opened", 1))
	d.drain()
	if n := standin.Connections(); n != 0 {
		t.Fatalf("the stand-in received %d connection(s) before the merge", n)
	}
	merge := e.mergePR(1)
	d.mustDeliver("pull_request", "d-closed", e.gh.PullRequestEvent("closed", 1))
	d.mustDeliver("push", "d-push", e.gh.PushEvent("refs/heads/main", e.base, merge))
	err := d.Drain(context.Background()) // legacy cannot be planned: a waiting error
	standin.Close()
	if err == nil || !strings.Contains(err.Error(), "asked for cleartext password authentication; rolecd refused and sent no password") {
		t.Errorf("Drain after merge = %v, want the cleartext refusal", err)
	}
	if standin.Connections() == 0 || len(standin.Attempts()) == 0 {
		t.Fatal("after the merge the daemon never contacted the merged resource: the test proves nothing")
	}
	if pws := standin.Passwords(); len(pws) != 0 {
		t.Errorf("the stand-in received %d password message(s)", len(pws))
	}
	if rec := d.pr(1); rec.State != store.PRMergedPending {
		t.Errorf("pull request state %s, want merged-pending (legacy not planned, retried)", rec.State)
	}
}

// rolesYAMLWith is rolesYAML plus, when extra is set, a role "loot" of
// resource extra.
func rolesYAMLWith(roles map[string]string, extra string) gittest.Change {
	c := rolesYAML(roles)
	if extra != "" {
		c.Content += fmt.Sprintf("  - resource: %s\n    role: loot\n    scopes: [postgres]\n    privileges: [SELECT]\n", extra)
	}
	return c
}

// Adding a real resource still works: not connected while the pull request
// is open, connected after the merge, and its roles (planned for the first
// time then) applied on an authorised `/rolecd apply <digest>`.
func TestAddedResourceIsOnboardedAfterMerge(t *testing.T) {
	e := newDaemonEnv(t)
	c2 := pgtest.Start(t)
	e.getenv = env(map[string]*pgtest.Cluster{resourceName: e.cluster, "db2": c2})
	d := e.newDaemon(nil)
	e.gh.SetPermission("bob", "write")
	roles := rolesYAMLWith(map[string]string{"ro": "SELECT"}, "db2")
	e.openPR(1, gittest.File(roleFilesDir+"/resources.yaml", resourceYAML(resourceName, e.cluster)+strings.TrimPrefix(resourceYAML("db2", c2), "resources:\n")), roles)
	d.mustDeliver("pull_request", "d-open", e.gh.PullRequestEvent("opened", 1))
	d.drain()
	loot, err := spec.RoleName(spec.DefaultPrefix, "db2", "loot")
	if err != nil {
		t.Fatal(err)
	}
	body := e.botComments(1)[0].Body
	for _, want := range []string{"resource `db2` would be added: host `" + fmt.Sprintf("%s:%d", c2.Host, c2.Port), "Roles not planned: `" + loot + "`", "`" + roleName(t, "ro") + "` managed"} {
		if !strings.Contains(body, want) {
			t.Errorf("plan comment lacks %q:\n%s", want, body)
		}
	}

	merge := e.mergePR(1)
	d.mustDeliver("pull_request", "d-closed", e.gh.PullRequestEvent("closed", 1))
	d.mustDeliver("push", "d-push", e.gh.PushEvent("refs/heads/main", e.base, merge))
	d.drain()
	rec := d.pr(1)
	if rec.State != store.PRWaitingApproval {
		t.Fatalf("after merge: state %s, want waiting for approval (db2's roles were never reviewed)", rec.State)
	}
	if queryBool(t, c2, "postgres", fmt.Sprintf("SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = '%s')", loot)) {
		t.Fatal("db2's role exists before approval")
	}
	d.mustDeliver("issue_comment", "d-bob", e.gh.IssueCommentEvent(1, "bob", "/rolecd apply "+rec.MergeDigest))
	d.drain()
	if got := d.pr(1).State; got != store.PRApplied {
		t.Fatalf("after approval: state %s, want applied", got)
	}
	if !queryBool(t, c2, "postgres", fmt.Sprintf("SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = '%s')", loot)) {
		t.Error("db2's role was not created on approval")
	}
}
