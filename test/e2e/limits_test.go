package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/rolecd/rolecd/gitsource/gittest"
	"github.com/rolecd/rolecd/reconciler"
	"github.com/rolecd/rolecd/store"
)

// A pull request whose role files are over the limits gets a comment naming
// the limit, a failed plan and nothing else: the daemon neither reads the
// oversized file into memory nor plans the roles.
func TestDaemonRefusesRoleFilesOverTheLimits(t *testing.T) {
	e := newDaemonEnv(t)
	d := e.newDaemon(func(o *reconciler.Options) { o.Limits.MaxRoles = 5 })

	// PR 1: a 5 MiB role file, over the default 4 MiB per file.
	var big strings.Builder
	big.WriteString("roles:\n")
	for i := 0; big.Len() < 5<<20; i++ {
		fmt.Fprintf(&big, "  - {resource: %s, role: r%d, scopes: [app.public], privileges: [SELECT]}\n", resourceName, i)
	}
	e.openPR(1, gittest.File(roleFilesDir+"/roles.yaml", big.String()))
	// PR 2: six roles, over max_roles 5.
	six := map[string]string{}
	for i := range 6 {
		six[fmt.Sprintf("r%d", i)] = "SELECT"
	}
	e.openPR(2, rolesYAML(six))
	d.mustDeliver("pull_request", "d-big", e.gh.PullRequestEvent("opened", 1))
	d.mustDeliver("pull_request", "d-many", e.gh.PullRequestEvent("opened", 2))
	d.drain()

	for _, tc := range []struct {
		pr   int
		want string
	}{
		{1, "roles/roles.yaml: file is 5.0 MiB, over the limit of 4 MiB per role file (limits.max_file_size in rolecd.yaml); not read"},
		{2, "roles/roles.yaml:22:5: more than 5 roles in the role files (limits.max_roles in rolecd.yaml): the rest is not read"},
	} {
		comments := e.botComments(tc.pr)
		if len(comments) != 1 || !strings.Contains(comments[0].Body, tc.want) {
			t.Errorf("PR %d comments = %v, want one naming the limit: %q", tc.pr, comments, tc.want)
		}
		plans := d.planSessions(tc.pr)
		if len(plans) != 1 || plans[0].Status != store.StatusFailed || !strings.Contains(plans[0].Error, tc.want) {
			t.Errorf("PR %d plan sessions = %+v, want one failed naming the limit", tc.pr, plans)
		}
	}
	var n int
	conn := e.cluster.Connect(t, "postgres")
	if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'rolecd\\_%'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d rolecd roles in the cluster, want none", n)
	}
}
