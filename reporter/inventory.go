package reporter

import (
	"fmt"
	"io"

	"github.com/rolecd/rolecd/internal/inventory"
)

// maxInventoryRoles is how many role names an inventory change lists.
const maxInventoryRoles = 20

// inventoryView is one inventory change as the templates print it.
type inventoryView struct {
	Kind                     string
	Resource, Endpoint, User string
	Credential               string
	Cleartext                bool
	Fields, Roles            []string
	MoreRoles                int
}

// inventoryViews renders the changes of d, through esc (markdown code
// spans, or as is for text).
func inventoryViews(d *inventory.Diff, esc func(string) string) []inventoryView {
	if d == nil {
		return nil
	}
	var out []inventoryView
	for _, c := range d.Changes {
		v := inventoryView{Kind: string(c.Kind), Resource: esc(c.Resource)}
		conn := c.Proposed
		if conn == nil {
			conn = c.Trusted
		}
		v.Endpoint, v.User, v.Credential, v.Cleartext = esc(conn.Endpoint()), esc(conn.AdminUser), esc(conn.Credential), conn.AllowCleartext
		for _, f := range c.Fields {
			v.Fields = append(v.Fields, fmt.Sprintf("%s %s -> %s", f.Name, esc(orNone(f.Trusted)), esc(orNone(f.Proposed))))
		}
		for i, r := range c.Roles {
			if i == maxInventoryRoles {
				v.MoreRoles = len(c.Roles) - i
				break
			}
			v.Roles = append(v.Roles, esc(r))
		}
		out = append(out, v)
	}
	return out
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// inventoryBlocks renders the inventory changes of a plan comment.
func inventoryBlocks(d *inventory.Diff) []block {
	group := renderMD("md-inventory-group", nil)
	var out []block
	if d != nil && d.NoTrusted {
		out = append(out, block{group: group, text: renderMD("md-inventory-none-trusted", nil)})
	}
	for _, v := range inventoryViews(d, func(s string) string { return codeSpan(clip(s, 300)) }) {
		out = append(out, block{group: group, text: renderMD("md-inventory-change", v)})
	}
	return out
}

// WriteInventoryText renders the inventory changes of d for a terminal;
// nothing when there are none.
func WriteInventoryText(w io.Writer, d inventory.Diff) error {
	if d.Empty() {
		return nil
	}
	if err := templates.ExecuteTemplate(w, "inventory", inventoryViews(&d, func(s string) string { return s })); err != nil {
		return fmt.Errorf("rendering inventory changes: %w", err)
	}
	return nil
}
