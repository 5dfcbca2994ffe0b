// Package e2e holds end-to-end tests: role files are planned against real
// throwaway PostgreSQL clusters, the planned SQL is executed, and the next
// plan must be empty.
package e2e

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/rolecd/rolecd/internal/cluster"
	"github.com/rolecd/rolecd/planner"
	"github.com/rolecd/rolecd/planner/spec"
	"github.com/rolecd/rolecd/test/pgtest"
)

// resourceYAML declares the cluster c as resource name.
func resourceYAML(name string, c *pgtest.Cluster) string {
	return fmt.Sprintf("resources:\n  - name: %s\n    host: %s\n    port: %d\n    sslmode: disable\n    admin:\n      user: %s\n      password_env: PGTEST_PASSWORD_%s\n",
		name, c.Host, c.Port, c.User, strings.ToUpper(name))
}

// env hands each resource's admin password to cluster.Dialer.
func env(clusters map[string]*pgtest.Cluster) func(string) string {
	return func(k string) string {
		for name, c := range clusters {
			if k == "PGTEST_PASSWORD_"+strings.ToUpper(name) {
				return c.Password
			}
		}
		return ""
	}
}

// parseTree parses role files given as name -> content.
// credentialPolicy allows the admin passwords of the test clusters, as an
// operator's credentials.env_allow does.
var credentialPolicy = &spec.CredentialPolicy{EnvAllow: []string{"PGTEST_PASSWORD_*"}}

func parseTree(t *testing.T, files map[string]string) (*spec.Tree, error) {
	t.Helper()
	var fs []spec.File
	for name, body := range files {
		fs = append(fs, spec.File{Name: name, Data: []byte(body)})
	}
	return spec.Parse(fs, spec.Options{Credentials: credentialPolicy})
}

// plan runs the whole live planning path (cluster: connect + catalog + planner).
func plan(t *testing.T, tree *spec.Tree, clusters map[string]*pgtest.Cluster) *planner.Document {
	t.Helper()
	dialer := cluster.Dialer{Getenv: env(clusters), Policy: credentialPolicy}
	doc, err := cluster.Plan(context.Background(), tree, cluster.Options{
		Inspect: dialer.Inspect,
		SID:     "test",
	})
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	return doc
}

// execute runs every planned statement the way apply will: per role, the
// steps of planner.ApplySteps (each database's statements in one
// transaction, the databases in the fixed order, a removal's DROP ROLE
// last). Passwords are set to NULL here: apply (not this test) owns
// credentials.
func execute(t *testing.T, doc *planner.Document, clusters map[string]*pgtest.Cluster) {
	t.Helper()
	ctx := context.Background()
	for _, rp := range doc.Resources {
		if rp.Error != "" {
			t.Fatalf("resource %s: %s", rp.Resource, rp.Error)
		}
		c := clusters[rp.Resource]
		for _, role := range rp.Roles {
			for _, step := range planner.ApplySteps(role.SQLPlan, rp.MaintenanceDatabase) {
				db := step.Database
				conn := c.Connect(t, db)
				tx, err := conn.Begin(ctx)
				if err != nil {
					t.Fatal(err)
				}
				for _, stmt := range step.Statements {
					// The planner's statement model says which one sets the
					// password: executed with PASSWORD NULL.
					for _, st := range role.Statements[db] {
						if st.SQL == stmt {
							stmt = st.Exec("")
						}
					}
					if _, err := tx.Exec(ctx, stmt); err != nil {
						t.Fatalf("resource %s database %s: %s: %v", rp.Resource, db, stmt, err)
					}
				}
				if err := tx.Commit(ctx); err != nil {
					t.Fatal(err)
				}
				conn.Close(ctx)
			}
		}
	}
}

// allSQL joins every statement of the document, one per line.
func allSQL(doc *planner.Document) string {
	var b strings.Builder
	for _, rp := range doc.Resources {
		for _, r := range rp.Roles {
			for _, db := range planner.OrderedDatabases(r.SQLPlan, rp.MaintenanceDatabase) {
				for _, s := range r.SQLPlan[db] {
					fmt.Fprintf(&b, "[%s] %s\n", db, s)
				}
			}
		}
	}
	return b.String()
}

// requireEmpty fails unless every role of doc is in sync.
func requireEmpty(t *testing.T, doc *planner.Document) {
	t.Helper()
	for _, rp := range doc.Resources {
		if rp.Error != "" {
			t.Fatalf("resource %s: %s", rp.Resource, rp.Error)
		}
		for _, r := range rp.Roles {
			if r.CurrentState.RequiresMigration || len(r.SQLPlan) != 0 {
				t.Errorf("role %s did not converge; still planned:\n%s", r.Config.RoleName, allSQL(doc))
				return
			}
			for _, s := range r.CurrentState.Scopes {
				if s.Status != planner.StatusInSync {
					t.Errorf("role %s scope %s is %s after convergence", r.Config.RoleName, s.Scope, s.Status)
				}
			}
		}
	}
}

var roleRef = regexp.MustCompile(`\{(\w+):([\w.-]+)\}`)

// expand replaces {resource:label} with the computed role name. Computed
// names are [a-z0-9_] only, so the bare name works both as an SQL identifier
// and inside string literals ('name'::regrole, has_*_privilege).
func expand(s string) string {
	return roleRef.ReplaceAllStringFunc(s, func(m string) string {
		p := roleRef.FindStringSubmatch(m)
		name, err := spec.RoleName(spec.DefaultPrefix, p[1], p[2])
		if err != nil {
			panic(err)
		}
		return name
	})
}

// queryBool runs a boolean SQL check in database db.
func queryBool(t *testing.T, c *pgtest.Cluster, db, query string) bool {
	t.Helper()
	conn := c.Connect(t, db)
	defer conn.Close(context.Background())
	var ok bool
	if err := conn.QueryRow(context.Background(), query).Scan(&ok); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return ok
}
