-- 001_init: audit sessions with their statements, generated role credentials
-- and admin credentials. detail is json (not jsonb) so that a document reads
-- back byte for byte as it was written.

CREATE TABLE sessions (
    sid          text PRIMARY KEY,
    kind         text NOT NULL,
    status       text NOT NULL,
    actor        text NOT NULL,
    commit_sha   text NOT NULL,
    pull_request integer NOT NULL,
    checksum     text NOT NULL,
    plan_sid     text NOT NULL,
    detail       json,
    error        text NOT NULL,
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz
);

CREATE INDEX sessions_started_at ON sessions (started_at DESC, sid DESC);
CREATE INDEX sessions_kind ON sessions (kind, started_at DESC, sid DESC);
CREATE INDEX sessions_status ON sessions (status, started_at DESC, sid DESC);

CREATE TABLE session_resources (
    sid      text NOT NULL REFERENCES sessions (sid) ON DELETE CASCADE,
    resource text NOT NULL,
    PRIMARY KEY (sid, resource)
);

CREATE INDEX session_resources_resource ON session_resources (resource, sid);

CREATE TABLE session_roles (
    sid  text NOT NULL REFERENCES sessions (sid) ON DELETE CASCADE,
    role text NOT NULL,
    PRIMARY KEY (sid, role)
);

CREATE INDEX session_roles_role ON session_roles (role, sid);

CREATE TABLE session_statements (
    sid           text NOT NULL REFERENCES sessions (sid) ON DELETE CASCADE,
    seq           integer NOT NULL CHECK (seq > 0),
    resource      text NOT NULL,
    role          text NOT NULL,
    database_name text NOT NULL,
    sql           text NOT NULL,
    outcome       text NOT NULL,
    error         text NOT NULL,
    duration_us   bigint NOT NULL,
    ran_at        timestamptz NOT NULL,
    PRIMARY KEY (sid, seq)
);

CREATE TABLE credentials (
    role_name  text NOT NULL,
    version    integer NOT NULL CHECK (version > 0),
    resource   text NOT NULL,
    state      text NOT NULL CHECK (state IN ('pending', 'active', 'retired')),
    ciphertext bytea NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (role_name, version)
);

CREATE TABLE admin_credentials (
    resource   text PRIMARY KEY,
    user_name  text NOT NULL,
    ciphertext bytea NOT NULL,
    updated_at timestamptz NOT NULL
);
