package spec

import (
	"fmt"
	"slices"
)

// DangerousPredefinedRoles are PostgreSQL's predefined roles that reach
// beyond the database, to the server's host, with what each lets its
// members do. An external role gets one of them only when its resource
// lists it in allow_source_roles.
func DangerousPredefinedRoles() map[string]string {
	return map[string]string{
		"pg_execute_server_program": "run programs on the database host as the server's operating-system user (COPY ... PROGRAM): shell access",
		"pg_read_server_files":      "read any file the server's operating-system user can read (COPY ... FROM, pg_read_file)",
		"pg_write_server_files":     "write any file the server's operating-system user can write (COPY ... TO)",
	}
}

// AllowsSourceRole reports whether the resource opted in to granting the
// dangerous source role name (allow_source_roles).
func (r Resource) AllowsSourceRole(name string) bool {
	_, found := slices.BinarySearch(r.AllowSourceRoles, name)
	return found
}

// checkSourceRole refuses an external role whose source role is a
// dangerous predefined role its resource did not allow.
func (v *validator) checkSourceRole(raw rawRole, r Role, res Resource) {
	what, dangerous := DangerousPredefinedRoles()[r.SourceRole]
	if r.Type != External || !dangerous || res.AllowsSourceRole(r.SourceRole) {
		return
	}
	pos := raw.sourceRole.pos
	v.errorf(pos, "source_role %s lets its members %s; to grant it anyway, list it in allow_source_roles of resource %q%s",
		quote(r.SourceRole), what, res.Name, declaredAt(res, pos))
}

// declaredAt says where res is declared when that is not beside pos.
func declaredAt(res Resource, pos Pos) string {
	if res.Pos.File == "" || res.Pos.File == pos.File {
		return ""
	}
	return fmt.Sprintf(" (%s)", res.Pos)
}
