package e2e

import (
	"errors"
	"strings"
	"testing"

	"github.com/rolecd/rolecd/applier"
	"github.com/rolecd/rolecd/planner/spec"
	"github.com/rolecd/rolecd/test/pgtest"
)

// Dangerous source roles are refused against a real cluster unless the
// resource opts in: the predefined server-file roles when the files are
// read, attributes and memberships (direct or not) when planning.
func TestDangerousSourceRolesNeedTheOptIn(t *testing.T) {
	c := pgtest.Start(t)
	c.CreateDatabase(t, "app")
	c.Exec(t, "postgres",
		"CREATE ROLE boss SUPERUSER", "CREATE ROLE team_lead", "GRANT boss TO team_lead",
		"CREATE ROLE ops", "GRANT team_lead TO ops", "CREATE ROLE auditor BYPASSRLS",
		"CREATE ROLE streamer REPLICATION")
	clusters := map[string]*pgtest.Cluster{"app": c}
	roles := "roles:\n" +
		"  - {resource: app, type: external, role: o, source_role: ops}\n" +
		"  - {resource: app, type: external, role: a, source_role: auditor}\n" +
		"  - {resource: app, type: external, role: s, source_role: streamer}\n" +
		"  - {resource: app, type: external, role: x, source_role: pg_execute_server_program}\n"

	// Without the opt-in: the predefined role is a validation error.
	_, err := parseTree(t, map[string]string{"resources.yaml": resourceYAML("app", c), "roles.yaml": roles})
	var es spec.Errors
	if !errors.As(err, &es) || len(es) != 1 || !strings.HasPrefix(es[0].Error(),
		`roles.yaml:5:59: source_role "pg_execute_server_program" lets its members run programs on the database host`) {
		t.Fatalf("parse error = %v, want the predefined role refused at roles.yaml:5", err)
	}

	// Opting in to the predefined role only: the catalog finds the rest.
	inventory := resourceYAML("app", c) + "    allow_source_roles: [pg_execute_server_program]\n"
	tree, err := parseTree(t, map[string]string{"resources.yaml": inventory, "roles.yaml": roles})
	if err != nil {
		t.Fatal(err)
	}
	doc := plan(t, tree, clusters)
	want := []string{
		`role "a": source role "auditor" has BYPASSRLS; to grant it anyway, list "auditor" in allow_source_roles of resource "app"`,
		`role "o": source role "ops" is a member of "boss" (through "team_lead"), which has SUPERUSER: its members can SET ROLE to it; to grant it anyway, list "ops" in allow_source_roles of resource "app"`,
		`role "s": source role "streamer" has REPLICATION; to grant it anyway, list "streamer" in allow_source_roles of resource "app"`,
	}
	if got := doc.Resources[0].Error; got != strings.Join(want, "\n") {
		t.Fatalf("plan error:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}

	// Opting in to all: planned, and applied by the checksum-gated applier
	// (whose re-plan checks the allow-list again) the memberships are real.
	inventory = resourceYAML("app", c) + "    allow_source_roles: [pg_execute_server_program, ops, auditor, streamer]\n"
	tree, err = parseTree(t, map[string]string{"resources.yaml": inventory, "roles.yaml": roles})
	if err != nil {
		t.Fatal(err)
	}
	doc = plan(t, tree, clusters)
	// From the plan document alone, as `rolecd apply` does: the opt-in
	// travels in the document's resource settings.
	opts := newApplyHarness(t, clusters).options(tree)
	if opts.Resources, err = doc.ResourceSpecs(); err != nil {
		t.Fatal(err)
	}
	rep, err := applier.Apply(t.Context(), doc, opts)
	if err != nil {
		t.Fatal(err)
	}
	if applied, _, refused, failed := rep.Counts(); applied != 4 || refused+failed != 0 {
		t.Fatalf("apply: %d applied, %d refused, %d failed; want 4 applied: %+v", applied, refused, failed, rep)
	}
	for _, r := range tree.Roles {
		if !queryBool(t, c, "postgres", "SELECT pg_has_role('"+r.Name+"', '"+r.SourceRole+"', 'MEMBER')") {
			t.Errorf("%s is not a member of %s after apply", r.Name, r.SourceRole)
		}
	}
	requireEmpty(t, plan(t, tree, clusters))
}
