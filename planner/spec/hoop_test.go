package spec

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

// The role names Hoop gives, for the same files, with role_prefix hoopdev.
// The expected names were computed by hand from Hoop's algorithm
// (gateway/api/resources/util.go generateSecurePostgresRoleName: SHA-256 of
// "<resource>:<label>" on the label Hoop receives, slugs, 63-byte budget),
// with the label its CSV importer sends (lower-cased, trimmed) or its batch
// CLI sends (unchanged). Not computed with RoleName.
func TestHoopRoleNames(t *testing.T) {
	long := "Orders_" + strings.Repeat("x", 35) + "--Warehouse.EU"
	tests := []struct {
		name, file, resource, label, want string
	}{
		{"csv upper-case label is Hoop's ro", "csv", "analytics", "RO", "hoopdev_analytics_ro_6075a443"},
		{"csv mixed-case label", "csv", "analytics", "Ro", "hoopdev_analytics_ro_6075a443"},
		{"csv lower-case label", "csv", "analytics", "ro", "hoopdev_analytics_ro_6075a443"},
		{"csv label with punctuation, resource hashed raw", "csv", "Billing-EU.prod", "Support.Read-Only", "hoopdev_billing_eu_prod_support_read_only_c34c9b1a"},
		{"csv long resource cut, trailing _ trimmed", "csv", long, "RW", "hoopdev_orders_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx_rw_b704bb98"},
		{"csv long resource, longer label", "csv", long, "ReadWrite", "hoopdev_orders_xxxxxxxxxxxxxxxxxxxxxxxxxxxxx_readwrite_20f630dc"},
		{"batch label sent unchanged", "batch", "analytics", "RO", "hoopdev_analytics_ro_95814552"},
		{"batch label, README example", "batch", "app", "RO", "hoopdev_app_ro_f0470662"},
		{"csv label, README example", "csv", "app", "RO", "hoopdev_app_ro_7249975c"},
		{"batch mixed-case label", "batch", "Billing-EU.prod", "Support.Read-Only", "hoopdev_billing_eu_prod_support_read_only_f808d7cc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := Resource{Name: tt.resource, Host: "h", Port: 5432, Database: "postgres", SSLMode: "prefer", Admin: Admin{User: "postgres"}}
			f := csvOf("resource_name,type,role,scopes,permissions\n" + tt.resource + ",managed, " + tt.label + " ,db,SELECT\n")
			if tt.file == "batch" {
				f = File{Name: "plan.yaml", Data: []byte("items:\n  - {resource_name: " + tt.resource + ", type: managed, role: " + tt.label + ", scopes: [db], privileges: [SELECT]}\n")}
			}
			tree := mustParse(t, Options{Prefix: "hoopdev", Resources: []Resource{res}}, f)
			if len(tree.Roles) != 1 || tree.Roles[0].Name != tt.want {
				t.Fatalf("roles = %+v, want one named %s", tree.Roles, tt.want)
			}
		})
	}
}

func TestHoopScopesAndPermissions(t *testing.T) {
	tests := []struct {
		name   string
		file   File
		scopes []Scope
		privs  []string
	}{
		{"csv bare scope is public, comma and space separated permissions",
			csvOf("resource_name,type,role,scopes,permissions\nanalytics,managed,ro,analytics;legacy.hr,\"SELECT, insert  UPDATE\"\n"),
			[]Scope{{"analytics", "public"}, {"legacy", "hr"}}, []string{"SELECT", "INSERT", "UPDATE"}},
		{"csv semicolons and ALL PRIVILEGES",
			csvOf("resource_name,type,role,scopes,permissions\nanalytics,managed,ro,analytics,ALL PRIVILEGES\n"),
			[]Scope{{"analytics", "public"}}, []string{"ALL"}},
		{"batch list", File{Name: "b.yaml", Data: []byte("items:\n  - {resource_name: analytics, type: managed, role: ro, scopes: [analytics, analytics.hr], privileges: [SELECT, INSERT]}\n")},
			[]Scope{{"analytics", "hr"}, {"analytics", "public"}}, []string{"SELECT", "INSERT"}},
		{"batch one string", File{Name: "b.yaml", Data: []byte("items:\n  - {resource_name: analytics, type: managed, role: ro, scopes: analytics, privileges: \"SELECT, DELETE\"}\n")},
			[]Scope{{"analytics", "public"}}, []string{"SELECT", "DELETE"}},
		{"rolecd YAML keeps every schema", yamlOf("roles:\n  - {resource: analytics, role: ro, scopes: [analytics], privileges: [SELECT]}\n"),
			[]Scope{{Database: "analytics"}}, []string{"SELECT"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tree := mustParse(t, Options{Resources: knownResources}, tt.file)
			if len(tree.Roles) != 1 {
				t.Fatalf("roles = %+v", tree.Roles)
			}
			r := tree.Roles[0]
			if !reflect.DeepEqual(r.Scopes, tt.scopes) || !slices.Equal(r.Privileges, tt.privs) {
				t.Errorf("scopes %v privileges %v, want %v %v", r.Scopes, r.Privileges, tt.scopes, tt.privs)
			}
		})
	}
}

func TestHoopBatchUnknownResource(t *testing.T) {
	batch := File{Name: "b.yaml", Data: []byte(`items:
  - {resource_name: analytics, type: managed, role: ro, scopes: [analytics], privileges: [SELECT]}
  - {resource_name: warehouse, type: managed, role: ro, scopes: [wh], privileges: [SELECT]}
`)}
	tree := mustParse(t, Options{Resources: knownResources, Batch: true}, batch)
	if len(tree.Roles) != 1 || tree.Roles[0].Resource != "analytics" {
		t.Errorf("roles = %+v, want the analytics item only", tree.Roles)
	}
	want := []ItemError{{Resource: "warehouse", Label: "ro", Pos: Pos{File: "b.yaml", Line: 3, Col: 5}, Msg: `resource not found: "warehouse"`}}
	if !reflect.DeepEqual(tree.Failed, want) {
		t.Errorf("failed = %+v, want %+v", tree.Failed, want)
	}

	// Other problems of such an item still fail the file, as in Hoop.
	bad := File{Name: "b.yaml", Data: []byte("items:\n  - {resource_name: warehouse, type: managed, role: ro, scopes: [wh], privileges: [FLY]}\n")}
	if got := parseErrs(t, Options{Resources: knownResources, Batch: true}, bad); len(got) != 1 || !strings.Contains(got[0], `unknown privilege "FLY"`) {
		t.Errorf("errors = %q", got)
	}
	// In a role-files tree (no Batch) every reference must resolve.
	if got := parseErrs(t, Options{Resources: knownResources}, batch); !slices.Equal(got, []string{`b.yaml:3:21: unknown resource "warehouse"`}) {
		t.Errorf("errors = %q", got)
	}
}

func TestHoopPlanResultFile(t *testing.T) {
	f := File{Name: "plan-result.yaml", Data: []byte("results:\n  - sid: 5701046a-7b7a-4a78-abb0-a24c95e6fe54\n    resource_name: app\n    status: out-of-sync\n")}
	want := []string{"plan-result.yaml:1:1: this is a Hoop plan-result file (hoop resources plan -o), not a role file: give rolecd the batch plan file (items:) it was planned from"}
	if got := parseErrs(t, Options{}, f); !slices.Equal(got, want) {
		t.Errorf("errors = %q", got)
	}
}
