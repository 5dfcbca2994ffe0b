package spec

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Resource defaults (DESIGN §2).
const (
	DefaultPort     = 5432
	DefaultDatabase = "postgres"
	DefaultSSLMode  = "prefer"
)

// sslModes are libpq's sslmode values.
func sslModes() []string {
	return []string{"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}
}

// validator turns raw declarations into the validated model, collecting
// every problem.
type validator struct {
	prefix string
	// policy, when set, allow-lists the admin password sources.
	policy *CredentialPolicy
	errs   Errors
}

func (v *validator) errorf(pos Pos, format string, args ...any) {
	v.errs = append(v.errs, Error{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

// nameChars reports whether s is 1-max bytes of [A-Za-z0-9_.-].
func nameChars(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// envName reports whether s is a portable environment variable name.
func envName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// identifier checks a PostgreSQL name given in a file: 1-63 bytes, no NUL.
func identifier(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("empty")
	case len(s) > MaxNameLen:
		return fmt.Errorf("longer than %d bytes", MaxNameLen)
	case strings.IndexByte(s, 0) >= 0:
		return fmt.Errorf("contains a NUL byte")
	}
	return nil
}

// hostname checks a host: non-empty, no space or control character.
func hostname(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f {
			return false
		}
	}
	return true
}

// resource validates one resource declaration and applies the defaults.
func (v *validator) resource(raw rawResource) (Resource, bool) {
	n := len(v.errs)
	r := Resource{Port: DefaultPort, Database: DefaultDatabase, SSLMode: DefaultSSLMode, Pos: raw.pos}
	what := "resource"
	switch {
	case !raw.name.set:
		v.errorf(raw.pos, "resource needs a name")
	case raw.name.bad:
	case !nameChars(raw.name.s, MaxNameLen):
		v.errorf(raw.name.pos, "invalid resource name %s: want 1-%d characters from letters, digits, \"_\", \"-\" and \".\"", quote(raw.name.s), MaxNameLen)
	default:
		r.Name = raw.name.s
		what = fmt.Sprintf("resource %q", r.Name)
	}
	switch {
	case !raw.host.set:
		v.errorf(raw.pos, "%s needs a host", what)
	case raw.host.bad:
	case !hostname(raw.host.s):
		v.errorf(raw.host.pos, "invalid host %s: want a host name, address or socket directory without spaces", quote(raw.host.s))
	default:
		r.Host = raw.host.s
	}
	if raw.port.usable() {
		p, err := strconv.Atoi(raw.port.s)
		if err != nil || p < 1 || p > 65535 {
			v.errorf(raw.port.pos, "invalid port %s: want a number from 1 to 65535", quote(raw.port.s))
		}
		r.Port = p
	}
	if raw.database.usable() {
		if err := identifier(raw.database.s); err != nil {
			v.errorf(raw.database.pos, "invalid database %s: %v", quote(raw.database.s), err)
		}
		r.Database = raw.database.s
	}
	if raw.sslmode.usable() {
		if !slices.Contains(sslModes(), raw.sslmode.s) {
			v.errorf(raw.sslmode.pos, "invalid sslmode %s: want one of %s", quote(raw.sslmode.s), strings.Join(sslModes(), ", "))
		}
		r.SSLMode = raw.sslmode.s
	}
	if raw.sslrootcert.usable() && raw.sslrootcert.s != "" {
		c := raw.sslrootcert
		switch {
		case strings.IndexByte(c.s, 0) >= 0:
			v.errorf(c.pos, "invalid sslrootcert %s: contains a NUL byte", quote(c.s))
		case !strings.HasPrefix(c.s, "/"):
			v.errorf(c.pos, "invalid sslrootcert %s: want an absolute path (a saved plan is applied from any directory)", quote(c.s))
		case !slices.Contains([]string{"require", "verify-ca", "verify-full"}, r.SSLMode):
			v.errorf(c.pos, "sslrootcert needs sslmode verify-full (or verify-ca, require); sslmode is %s", quote(r.SSLMode))
		}
		r.SSLRootCert = c.s
	}
	r.Admin = v.admin(raw, what)
	v.listLimit("object_creators", raw.creators)
	seen := map[string]bool{}
	for _, item := range raw.creators.items {
		if err := identifier(item.s); err != nil {
			v.errorf(item.pos, "invalid object_creators entry %s: %v", quote(item.s), err)
			continue
		}
		if !seen[item.s] {
			seen[item.s] = true
			r.ObjectCreators = append(r.ObjectCreators, item.s)
		}
	}
	slices.Sort(r.ObjectCreators)
	v.listLimit("allow_source_roles", raw.allowSources)
	for _, item := range raw.allowSources.items {
		if err := identifier(item.s); err != nil {
			v.errorf(item.pos, "invalid allow_source_roles entry %s: %v", quote(item.s), err)
			continue
		}
		if !slices.Contains(r.AllowSourceRoles, item.s) {
			r.AllowSourceRoles = append(r.AllowSourceRoles, item.s)
		}
	}
	slices.Sort(r.AllowSourceRoles)
	if raw.reassign.usable() && raw.reassign.s != "" {
		if err := identifier(raw.reassign.s); err != nil {
			v.errorf(raw.reassign.pos, "invalid drop_reassign_to %s: %v", quote(raw.reassign.s), err)
		}
		r.DropReassignTo = raw.reassign.s
	}
	if raw.prune.usable() {
		switch strings.ToLower(raw.prune.s) {
		case "true":
		case "false":
			r.KeepRemoved = true
		default:
			v.errorf(raw.prune.pos, "invalid prune %s: want true (drop rolecd roles no longer declared) or false (keep them, NOLOGIN)", quote(raw.prune.s))
		}
	}
	r.Complete = true
	return r, len(v.errs) == n
}

func (v *validator) admin(raw rawResource, what string) Admin {
	a := raw.admin
	var out Admin
	switch {
	case !a.set:
		v.errorf(raw.pos, "%s needs admin.user", what)
	case !a.user.set:
		v.errorf(a.pos, "%s needs admin.user", what)
	case a.user.bad:
	default:
		if err := identifier(a.user.s); err != nil {
			v.errorf(a.user.pos, "invalid admin.user %s: %v", quote(a.user.s), err)
		}
		out.User = a.user.s
	}
	env, file, command := a.passwordEnv, a.passwordFile, a.passwordCommand
	var sources []Pos
	if env.usable() && env.s != "" {
		// The value is not echoed: a password pasted here must not reach a log.
		if !envName(env.s) {
			v.errorf(env.pos, "invalid admin.password_env: want an environment variable name such as ANALYTICS_ADMIN_PASSWORD (value not shown: it may be a secret)")
		} else if v.policy != nil {
			if err := v.policy.CheckEnv(env.s); err != nil {
				v.errorf(env.pos, "admin.password_env: %v", err)
			}
		}
		out.PasswordEnv = env.s
		sources = append(sources, env.pos)
	}
	if file.usable() && file.s != "" {
		if strings.IndexByte(file.s, 0) >= 0 {
			v.errorf(file.pos, "invalid admin.password_file %s: contains a NUL byte", quote(file.s))
		} else if v.policy != nil {
			if err := v.policy.CheckFile(file.s); err != nil {
				v.errorf(file.pos, "admin.password_file: %v", err)
			}
		}
		out.PasswordFile = file.s
		sources = append(sources, file.pos)
	}
	if command.usable() && command.s != "" {
		if !nameChars(command.s, MaxNameLen) {
			v.errorf(command.pos, "invalid admin.password_command %s: want the name of a command configured in credentials.commands of rolecd.yaml (the command line itself never lives in role files)", quote(command.s))
		} else if v.policy != nil {
			if err := v.policy.CheckCommand(command.s); err != nil {
				v.errorf(command.pos, "admin.password_command: %v", err)
			}
		}
		out.PasswordCommand = command.s
		sources = append(sources, command.pos)
	}
	if len(sources) > 1 {
		v.errorf(sources[1], "admin.password_env, admin.password_file and admin.password_command are mutually exclusive")
	}
	if a.allowCleartext.usable() {
		switch strings.ToLower(a.allowCleartext.s) {
		case "true":
			out.AllowCleartext = true
		case "false":
		default:
			v.errorf(a.allowCleartext.pos, "invalid admin.allow_cleartext %s: want true (answer a server that asks for a cleartext or MD5 password) or false", quote(a.allowCleartext.s))
		}
	}
	return out
}

// role validates one role declaration. known reports whether a resource
// name is declared (in the files or the options).
func (v *validator) role(raw rawRole, known func(string) bool) (Role, bool) {
	n := len(v.errs)
	r := Role{Type: Managed, Pos: raw.pos}
	switch {
	case !raw.resource.set:
		v.errorf(raw.pos, "role needs a resource")
	case raw.resource.bad:
	case !known(raw.resource.s):
		v.errorf(raw.resource.pos, "unknown resource %s", quote(raw.resource.s))
	default:
		r.Resource = raw.resource.s
	}
	typeOK := true
	if raw.typ.usable() {
		switch t := Type(strings.ToLower(strings.TrimSpace(raw.typ.s))); t {
		case Managed, External, "":
			if t != "" {
				r.Type = t
			}
		default:
			v.errorf(raw.typ.pos, "unknown type %s: want managed or external", quote(raw.typ.s))
			typeOK = false
		}
	}
	v.label(raw, &r)
	if raw.rotate.usable() {
		switch strings.ToLower(raw.rotate.s) {
		case "true":
			r.RotatePassword = true
		case "false":
		default:
			v.errorf(raw.rotate.pos, "invalid rotate_password %s: want true or false", quote(raw.rotate.s))
		}
	}
	v.listLimit("scopes", raw.scopes)
	v.listLimit("privileges", raw.privileges)
	v.listLimit("functions", raw.functions)
	switch {
	case !typeOK:
	case r.Type == Managed:
		v.managed(raw, &r)
	default:
		v.external(raw, &r)
	}
	v.roleOptions(raw, &r)
	return r, len(v.errs) == n
}

// listLimit reports a list field that had more than maxListItems entries.
func (v *validator) listLimit(key string, l listValue) {
	if l.over {
		v.errorf(l.pos, "%s: more than %d entries", key, maxListItems)
	}
}

// roleOptions validates what any role may declare: connection_limit,
// valid_until and options.
func (v *validator) roleOptions(raw rawRole, r *Role) {
	if c := raw.connLimit; c.usable() {
		n, err := parseConnectionLimit(c.s)
		if err != nil {
			v.errorf(c.pos, "invalid connection_limit %s: %v", quote(c.s), err)
		} else {
			r.ConnectionLimit = &n
		}
	}
	if u := raw.validUntil; u.usable() {
		t, err := parseValidUntil(u.s)
		if err != nil {
			v.errorf(u.pos, "invalid valid_until %s: %v", quote(u.s), err)
		}
		r.ValidUntil = t
	}
	if a := raw.maxAge; a.usable() {
		d, err := ParsePasswordMaxAge(a.s)
		if err != nil {
			v.errorf(a.pos, "invalid password_max_age %s: %v", quote(a.s), err)
		}
		r.PasswordMaxAge = d
	}
	for _, o := range raw.options.items {
		name := strings.ToLower(o.name.s)
		if !slices.Contains(RoleOptions(), name) {
			v.errorf(o.name.pos, "option %s is not allowed: want one of %s", quote(o.name.s), strings.Join(RoleOptions(), ", "))
			continue
		}
		if _, dup := r.Options[name]; dup {
			v.errorf(o.name.pos, "option %s given twice", quote(name))
			continue
		}
		if !o.value.set {
			v.errorf(o.value.pos, "option %s needs a value", name)
			continue
		}
		if err := checkOption(name, o.value.s); err != nil {
			v.errorf(o.value.pos, "invalid %s %s: %v", name, quote(o.value.s), err)
			continue
		}
		if r.Options == nil {
			r.Options = map[string]string{}
		}
		r.Options[name] = o.value.s
	}
}

// label checks the role label and computes the role name.
func (v *validator) label(raw rawRole, r *Role) {
	l := raw.label
	switch {
	case !l.set:
		v.errorf(raw.pos, "role needs a label (role: ...)")
		return
	case l.bad:
		return
	case !nameChars(l.s, MaxLabelLen) || Slug(l.s) == "":
		v.errorf(l.pos, "invalid role label %s: want 1-%d characters from letters, digits, \"_\", \"-\" and \".\", with at least one letter or digit", quote(l.s), MaxLabelLen)
		return
	}
	r.Label = l.s
	if r.Resource == "" {
		return
	}
	name, err := RoleName(v.prefix, r.Resource, r.Label)
	if err != nil {
		v.errorf(l.pos, "%v", err)
		return
	}
	r.Name = name
}

func (v *validator) managed(raw rawRole, r *Role) {
	if raw.sourceRole.usable() && raw.sourceRole.s != "" {
		v.errorf(raw.sourceRole.pos, "source_role %s is only for external roles", quote(raw.sourceRole.s))
	}
	if !raw.scopes.given() {
		v.errorf(raw.pos, "managed role needs scopes")
	}
	if !raw.privileges.given() {
		v.errorf(raw.pos, "managed role needs privileges")
	}
	seen := map[Scope]bool{}
	for _, item := range raw.scopes.items {
		s, err := ParseScope(item.s)
		if err != nil {
			v.errorf(item.pos, "%v", err)
			continue
		}
		if raw.format.hoop() {
			s = hoopScope(s)
		}
		if !seen[s] {
			seen[s] = true
			r.Scopes = append(r.Scopes, s)
		}
	}
	slices.SortFunc(r.Scopes, func(a, b Scope) int { return strings.Compare(a.String(), b.String()) })
	var privs []string
	privItems := raw.privileges
	if raw.format == formatHoopBatch {
		privItems = hoopPrivileges(privItems)
	}
	for _, item := range privItems.items {
		p, err := canonicalPrivilege(item.s)
		if err != nil {
			v.errorf(item.pos, "%v", err)
			continue
		}
		privs = append(privs, p)
	}
	r.Privileges = normalizePrivileges(privs)
	for _, item := range raw.functions.items {
		if strings.ToUpper(strings.TrimSpace(item.s)) != ExecutePrivilege {
			v.errorf(item.pos, "unknown function privilege %s: want EXECUTE (on the functions and procedures of the scopes)", quote(item.s))
			continue
		}
		r.Functions = []string{ExecutePrivilege}
	}
}

func (v *validator) external(raw rawRole, r *Role) {
	if len(raw.scopes.items) > 0 {
		v.errorf(raw.scopes.pos, "scopes are only for managed roles (an external role gets its access from source_role)")
	}
	if len(raw.privileges.items) > 0 {
		v.errorf(raw.privileges.pos, "privileges are only for managed roles (an external role gets its access from source_role)")
	}
	if len(raw.functions.items) > 0 {
		v.errorf(raw.functions.pos, "functions are only for managed roles (an external role gets its access from source_role)")
	}
	s := raw.sourceRole
	switch {
	case !s.set || !s.bad && s.s == "":
		v.errorf(raw.pos, "external role needs a source_role")
	case s.bad:
	default:
		if err := identifier(s.s); err != nil {
			v.errorf(s.pos, "invalid source_role %s: %v", quote(s.s), err)
		}
		r.SourceRole = s.s
	}
}

// sameResource reports whether a and b declare the same resource (where
// and how completely it was read aside).
func sameResource(a, b Resource) bool {
	return a.Name == b.Name && a.Host == b.Host && a.Port == b.Port && a.Database == b.Database &&
		a.SSLMode == b.SSLMode && a.SSLRootCert == b.SSLRootCert && a.Admin == b.Admin && slices.Equal(a.ObjectCreators, b.ObjectCreators) &&
		a.DropReassignTo == b.DropReassignTo && a.KeepRemoved == b.KeepRemoved &&
		slices.Equal(a.AllowSourceRoles, b.AllowSourceRoles)
}

// sameRole reports whether a and b declare the same role.
func sameRole(a, b Role) bool {
	return a.Resource == b.Resource && a.Type == b.Type && a.Label == b.Label && a.Name == b.Name &&
		slices.Equal(a.Scopes, b.Scopes) && slices.Equal(a.Privileges, b.Privileges) &&
		a.SourceRole == b.SourceRole && a.RotatePassword == b.RotatePassword &&
		slices.Equal(a.Functions, b.Functions) && a.Limit() == b.Limit() && a.ValidUntil == b.ValidUntil &&
		maps.Equal(a.Options, b.Options)
}
