package credentials

import "time"

// State is the life cycle of one stored password version.
type State string

// States of a stored password version.
const (
	// Pending is written before the role is created or altered,
	// so a password is never lost even if rolecd dies right after.
	Pending State = "pending"
	// Active is the version PostgreSQL has, once apply committed.
	Active State = "active"
	// Retired is an older version.
	Retired State = "retired"
)

// Stored is one version of a role's generated password as the store
// keeps it, sealed by Keeper.NewPassword.
type Stored struct {
	RoleName   string
	Resource   string
	Version    int // assigned by the store, increasing per role
	State      State
	Ciphertext []byte
	CreatedAt  time.Time
	// Host, Port, Database and SSLMode are where the role logs in (its
	// resource's server, its first scope's database), so the credential is
	// usable from the store alone; Host is "" for a credential stored
	// before rolecd recorded them.
	Host     string
	Port     int
	Database string
	SSLMode  string
}

// StoredAdmin is a resource's admin login as the store keeps it, the
// password sealed by Keeper.SealAdmin.
type StoredAdmin struct {
	Resource   string
	User       string
	Ciphertext []byte
	UpdatedAt  time.Time
}
