package spec

import (
	"fmt"
	"strings"
)

// Connection is everything that decides where rolecd connects for a
// resource and which credential source it uses (DESIGN §5, §8): the part of
// a resource that must come from reviewed state (the protected branch or
// the operator's configuration), never from an unmerged commit. It carries
// no secret: Credential names where the admin password comes from.
//
// It is also the "connections" entry of a plan document, so a saved plan
// is self-contained.
type Connection struct {
	Host     string `json:"host"`
	Port     int    `json:"port"`
	Database string `json:"database"` // maintenance database
	SSLMode  string `json:"sslmode"`
	// SSLRootCert is the CA bundle for sslmode verify-ca/verify-full; "" is
	// libpq's default.
	SSLRootCert string `json:"sslrootcert,omitempty"`
	AdminUser   string `json:"admin_user"`
	// Credential is the admin password's source: "env:NAME", "file:PATH",
	// "command:NAME" (an operator-configured command) or "store" (the
	// store, else libpq's usual sources).
	Credential string `json:"credential"`
	// AllowCleartext lets rolecd answer a server that asks for a cleartext
	// password; off by default.
	AllowCleartext bool `json:"allow_cleartext,omitempty"`
}

// Credential source kinds, the part of Connection.Credential before ':'.
const (
	CredentialEnv     = "env"
	CredentialFile    = "file"
	CredentialCommand = "command"
	CredentialStore   = "store"
)

// CredentialSource splits Credential into its kind and argument
// ("env:PGPW" -> "env", "PGPW"; "store" -> "store", "").
func (c Connection) CredentialSource() (kind, arg string) {
	kind, arg, _ = strings.Cut(c.Credential, ":")
	if kind == "" {
		kind = CredentialStore
	}
	return kind, arg
}

// Endpoint renders host:port/database for messages.
func (c Connection) Endpoint() string {
	return fmt.Sprintf("%s:%d/%s", c.Host, c.Port, c.Database)
}

// Connection returns the connection part of the resource.
func (r Resource) Connection() Connection {
	cred := CredentialStore
	switch {
	case r.Admin.PasswordEnv != "":
		cred = CredentialEnv + ":" + r.Admin.PasswordEnv
	case r.Admin.PasswordFile != "":
		cred = CredentialFile + ":" + r.Admin.PasswordFile
	case r.Admin.PasswordCommand != "":
		cred = CredentialCommand + ":" + r.Admin.PasswordCommand
	}
	return Connection{
		Host: r.Host, Port: r.Port, Database: r.Database, SSLMode: r.SSLMode, SSLRootCert: r.SSLRootCert,
		AdminUser: r.Admin.User, Credential: cred, AllowCleartext: r.Admin.AllowCleartext,
	}
}

// Resource is the inverse of Resource.Connection: the resource named name
// that connects as c says (a saved plan's connection, applied without the
// role files). Settings that are not part of the connection stay zero.
func (c Connection) Resource(name string) (Resource, error) {
	r := Resource{
		Name: name, Host: c.Host, Port: c.Port, Database: c.Database, SSLMode: c.SSLMode, SSLRootCert: c.SSLRootCert,
		Admin: Admin{User: c.AdminUser, AllowCleartext: c.AllowCleartext},
	}
	kind, arg := c.CredentialSource()
	switch kind {
	case CredentialStore:
	case CredentialEnv:
		r.Admin.PasswordEnv = arg
	case CredentialFile:
		r.Admin.PasswordFile = arg
	case CredentialCommand:
		r.Admin.PasswordCommand = arg
	default:
		return r, fmt.Errorf("resource %q: unknown credential source %s", name, quote(kind))
	}
	if kind != CredentialStore && arg == "" {
		return r, fmt.Errorf("resource %q: credential source %s names nothing", name, quote(kind))
	}
	if r.Host == "" || r.Port == 0 || r.Database == "" || r.Admin.User == "" {
		return r, fmt.Errorf("resource %q: incomplete connection (host, port, database and admin_user are required)", name)
	}
	return r, nil
}
