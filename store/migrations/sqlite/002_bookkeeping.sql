-- 002_bookkeeping: the daemon's durable state: webhook deliveries, pull
-- request plan/apply state, the outbox of reports to the forge, leases,
-- drift per resource and named cursors. Times are microseconds since the
-- Unix epoch (UTC); JSON documents are TEXT.

CREATE TABLE webhook_deliveries (
    id           TEXT PRIMARY KEY,
    event        TEXT NOT NULL,
    payload      TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('pending', 'processed')),
    attempts     INTEGER NOT NULL,
    error        TEXT NOT NULL,
    received_at  INTEGER NOT NULL,
    processed_at INTEGER
) STRICT;

CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (state, received_at, id);

CREATE TABLE pull_requests (
    number         INTEGER PRIMARY KEY,
    state          TEXT NOT NULL,
    head_sha       TEXT NOT NULL,
    planned_sha    TEXT NOT NULL,
    plan_sid       TEXT NOT NULL,
    digest         TEXT NOT NULL,
    checksums      TEXT NOT NULL,
    merge_sha      TEXT NOT NULL,
    merge_plan_sid TEXT NOT NULL,
    merge_digest   TEXT NOT NULL,
    apply_sid      TEXT NOT NULL,
    updated_at     INTEGER NOT NULL
) STRICT;

CREATE INDEX pull_requests_state ON pull_requests (state, number);

CREATE TABLE report_outbox (
    key          TEXT PRIMARY KEY,
    seq          INTEGER NOT NULL,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    attempts     INTEGER NOT NULL,
    next_attempt INTEGER NOT NULL,
    last_error   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    done_at      INTEGER
) STRICT;

CREATE INDEX report_outbox_due ON report_outbox (next_attempt, seq) WHERE done_at IS NULL;

CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;

CREATE TABLE drift_state (
    resource   TEXT PRIMARY KEY,
    roles      TEXT NOT NULL,
    digest     TEXT NOT NULL,
    commit_sha TEXT NOT NULL,
    sid        TEXT NOT NULL,
    since      INTEGER,
    checked_at INTEGER NOT NULL
) STRICT;

CREATE TABLE cursors (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;
