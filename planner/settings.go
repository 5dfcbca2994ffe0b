package planner

import (
	"fmt"
	"maps"
	"slices"

	"github.com/rolecd/rolecd/planner/spec"
)

// settings makes the role's own settings (ALTER ROLE ... SET, in every
// database) exactly the declared options: a missing or different value is
// set, a setting that is not declared is reset.
func (d *roleDiff) settings() {
	want := d.role.Options
	live := d.live.Settings
	if !d.exists {
		live = nil
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		value := want[name]
		have, ok := live[name]
		if ok && sameSetting(name, have, value) {
			continue
		}
		d.add(d.maint, phaseCluster, plainStatement(d.role.Name, d.w.setRole(d.role.Name, name, value)))
		if ok {
			d.changes = append(d.changes, fmt.Sprintf("set %s to %q (was %q)", name, value, have))
		} else {
			d.changes = append(d.changes, fmt.Sprintf("set %s to %q", name, value))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(live)) {
		if _, declared := want[name]; declared {
			continue
		}
		d.add(d.maint, phaseCluster, plainStatement(d.role.Name, d.w.resetRole(d.role.Name, name)))
		d.changes = append(d.changes, fmt.Sprintf("reset %s (was %q): not declared", name, live[name]))
	}
}

// sameSetting reports whether the live value of a setting (as PostgreSQL
// stores it) is the declared one. PostgreSQL stores a search_path as the
// list it parsed, quoting names as needed ("$user", public): the lists
// are compared, not the text.
func sameSetting(name, live, want string) bool {
	if name != "search_path" {
		return live == want
	}
	l, err := spec.ParseSearchPath(live)
	if err != nil {
		return false
	}
	w, err := spec.ParseSearchPath(want)
	return err == nil && slices.Equal(l, w)
}
