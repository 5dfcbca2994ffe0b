package reconciler

import (
	"slices"
	"strings"
	"testing"

	"github.com/rolecd/rolecd/internal/forge"
	"github.com/rolecd/rolecd/store"
)

// A pull request that adds a resource or changes a connection: only the
// branch head's connections are used; the comment shows the change.
func TestPullRequestConnectionsComeFromTheBranch(t *testing.T) {
	const evil = "  - name: evil\n    host: evil.example\n    port: 5432\n    admin:\n      user: postgres\n      password_env: ROLECD_SECRET_KEY\n"
	const roles = "roles:\n  - resource: db1\n    role: ro\n    scopes: [app]\n    privileges: [SELECT]\n  - resource: evil\n    role: loot\n    scopes: [app]\n    privileges: [SELECT]\n"
	tests := []struct {
		name      string
		resources string
		connected []string
		comment   []string
		status    string
	}{
		{"added resource", resourcesYAML + evil, []string{"db1 127.0.0.1:5432 store"},
			[]string{"resource `evil` would be added: host `evil.example:5432/postgres` as `postgres`, credential `env:ROLECD_SECRET_KEY`; not connected until merged", "Roles not planned: `rolecd_evil_loot_"},
			"rolecd/plan success: 1 role to change, digest"},
		{"moved port and credential", strings.Replace(resourcesYAML, "port: 5432", "port: 6543", 1) + "      password_file: /etc/shadow\n" + evil, nil,
			[]string{"connection of `db1` changes: port `5432` -> `6543`, credential `store` -> `file:/etc/shadow`; not connected until merged", "Roles not planned: `rolecd_db1_ro_"},
			"rolecd/plan success: no changes; 2 resources not connected until merged"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.src.commit("h1", map[string]string{"resources.yaml": tt.resources, "roles.yaml": roles}, true)
			h.src.pulls[3] = "h1"
			h.forge.prs[3] = forge.PR{Number: 3, State: "open", BaseRef: "main", HeadSHA: "h1"}
			h.post("pull_request", "d1", prPayload("opened", 3))
			h.drain()
			if !slices.Equal(h.db.connected, tt.connected) {
				t.Errorf("planned connections %q, want %q", h.db.connected, tt.connected)
			}
			body := strings.Join(h.forge.comments["3/plan"], "")
			for _, want := range append(tt.comment, "not connected until merged (see the inventory changes)", "waits for `/rolecd apply <digest>`") {
				if !strings.Contains(body, want) {
					t.Errorf("comment lacks %q:\n%s", want, body)
				}
			}
			if len(h.forge.statuses) != 1 || !strings.HasPrefix(h.forge.statuses[0], "h1 "+tt.status) {
				t.Errorf("statuses = %q, want %q", h.forge.statuses, tt.status)
			}
			if rec := h.pr(3); rec.State != store.PROpen || rec.PlannedSHA != "h1" {
				t.Errorf("pull request = %+v, want planned at h1", rec)
			}

			// Merged, the new inventory is reviewed state: connected, and
			// the roles nobody saw planned wait for an approval.
			h.db.connected = nil
			h.merge(3, "m1")
			h.post("pull_request", "d2", prPayload("closed", 3))
			h.drain()
			if !slices.Contains(h.db.connected, "evil evil.example:5432 env:ROLECD_SECRET_KEY") {
				t.Errorf("after merge planned %q, want the merged inventory", h.db.connected)
			}
			if rec := h.pr(3); rec.State != store.PRWaitingApproval || h.db.applies != 0 {
				t.Errorf("after merge: state %s, %d applies; want waiting for approval, none", rec.State, h.db.applies)
			}
		})
	}
}

// A branch head whose role files are invalid trusts nothing.
func TestInvalidBranchTrustsNoConnection(t *testing.T) {
	h := newHarness(t, nil)
	h.src.commit("broken", map[string]string{"resources.yaml": "resources: [oops"}, false)
	h.src.branch = "broken"
	h.openPR(4, "h1", "SELECT")
	h.post("pull_request", "d1", prPayload("opened", 4))
	h.drain()
	if len(h.db.connected) != 0 {
		t.Errorf("planned %q with an invalid branch head", h.db.connected)
	}
	body := strings.Join(h.forge.comments["4/plan"], "")
	for _, want := range []string{"resource `db1` would be added", "The branch has no valid role files, so it trusts no connection yet"} {
		if !strings.Contains(body, want) {
			t.Errorf("comment lacks %q:\n%s", want, body)
		}
	}
}

// A merge commit the forge reports that is not on the branch is never
// planned or applied.
func TestMergeCommitOffTheBranchIsRefused(t *testing.T) {
	h := newHarness(t, nil)
	h.openPR(2, "h1", "SELECT")
	h.post("pull_request", "d1", prPayload("opened", 2))
	h.drain()
	h.merge(2, "m1")
	h.r = h.newReconciler(func(o *Options) { o.Source = ancestrySource{h.src, map[string]bool{}} })
	h.db.connected = nil
	h.post("pull_request", "d2", prPayload("closed", 2))
	if err := h.r.Drain(t.Context()); err != nil {
		t.Fatalf("a stalled task is not a waiting error: %v", err)
	}
	if len(h.db.connected) != 0 || h.db.applies != 0 {
		t.Errorf("planned %q, %d applies; want nothing", h.db.connected, h.db.applies)
	}
	if rec := h.pr(2); rec.State == store.PRApplied || rec.State == store.PRMergedPending {
		t.Errorf("state %s after an off-branch merge commit", rec.State)
	}

	// On the branch: planned and applied.
	h.r = h.newReconciler(func(o *Options) { o.Source = ancestrySource{h.src, map[string]bool{"m1..m1": true}} })
	h.post("pull_request", "d3", prPayload("closed", 2))
	h.drain()
	if rec := h.pr(2); rec.State != store.PRApplied || h.db.applies != 1 {
		t.Errorf("on the branch: state %s, %d applies; want applied once", rec.State, h.db.applies)
	}
}
