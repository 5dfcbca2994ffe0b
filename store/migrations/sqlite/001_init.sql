-- 001_init: audit sessions with their statements, generated role credentials
-- and admin credentials. Times are microseconds since the Unix epoch (UTC).

CREATE TABLE sessions (
    sid          TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    status       TEXT NOT NULL,
    actor        TEXT NOT NULL,
    commit_sha   TEXT NOT NULL,
    pull_request INTEGER NOT NULL,
    checksum     TEXT NOT NULL,
    plan_sid     TEXT NOT NULL,
    detail       TEXT,
    error        TEXT NOT NULL,
    started_at   INTEGER NOT NULL,
    finished_at  INTEGER
) STRICT;

CREATE INDEX sessions_started_at ON sessions (started_at DESC, sid DESC);
CREATE INDEX sessions_kind ON sessions (kind, started_at DESC, sid DESC);
CREATE INDEX sessions_status ON sessions (status, started_at DESC, sid DESC);

CREATE TABLE session_resources (
    sid      TEXT NOT NULL REFERENCES sessions (sid) ON DELETE CASCADE,
    resource TEXT NOT NULL,
    PRIMARY KEY (sid, resource)
) STRICT, WITHOUT ROWID;

CREATE INDEX session_resources_resource ON session_resources (resource, sid);

CREATE TABLE session_roles (
    sid  TEXT NOT NULL REFERENCES sessions (sid) ON DELETE CASCADE,
    role TEXT NOT NULL,
    PRIMARY KEY (sid, role)
) STRICT, WITHOUT ROWID;

CREATE INDEX session_roles_role ON session_roles (role, sid);

CREATE TABLE session_statements (
    sid           TEXT NOT NULL REFERENCES sessions (sid) ON DELETE CASCADE,
    seq           INTEGER NOT NULL CHECK (seq > 0),
    resource      TEXT NOT NULL,
    role          TEXT NOT NULL,
    database_name TEXT NOT NULL,
    sql           TEXT NOT NULL,
    outcome       TEXT NOT NULL,
    error         TEXT NOT NULL,
    duration_us   INTEGER NOT NULL,
    ran_at        INTEGER NOT NULL,
    PRIMARY KEY (sid, seq)
) STRICT, WITHOUT ROWID;

CREATE TABLE credentials (
    role_name  TEXT NOT NULL,
    version    INTEGER NOT NULL CHECK (version > 0),
    resource   TEXT NOT NULL,
    state      TEXT NOT NULL CHECK (state IN ('pending', 'active', 'retired')),
    ciphertext BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (role_name, version)
) STRICT, WITHOUT ROWID;

CREATE TABLE admin_credentials (
    resource   TEXT PRIMARY KEY,
    user_name  TEXT NOT NULL,
    ciphertext BLOB NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
