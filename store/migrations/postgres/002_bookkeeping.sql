-- 002_bookkeeping: the daemon's durable state: webhook deliveries, pull
-- request plan/apply state, the outbox of reports to the forge, leases,
-- drift per resource and named cursors. JSON documents are json (not
-- jsonb), so they read back byte for byte.

CREATE TABLE webhook_deliveries (
    id           text PRIMARY KEY,
    event        text NOT NULL,
    payload      json NOT NULL,
    state        text NOT NULL CHECK (state IN ('pending', 'processed')),
    attempts     integer NOT NULL,
    error        text NOT NULL,
    received_at  timestamptz NOT NULL,
    processed_at timestamptz
);

CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (state, received_at, id);

CREATE TABLE pull_requests (
    number         integer PRIMARY KEY,
    state          text NOT NULL,
    head_sha       text NOT NULL,
    planned_sha    text NOT NULL,
    plan_sid       text NOT NULL,
    digest         text NOT NULL,
    checksums      json NOT NULL,
    merge_sha      text NOT NULL,
    merge_plan_sid text NOT NULL,
    merge_digest   text NOT NULL,
    apply_sid      text NOT NULL,
    updated_at     timestamptz NOT NULL
);

CREATE INDEX pull_requests_state ON pull_requests (state, number);

-- report_outbox_seq numbers every enqueue: a report's seq is its
-- generation, and the outbox is sent in seq order.
CREATE SEQUENCE report_outbox_seq;

CREATE TABLE report_outbox (
    key          text PRIMARY KEY,
    seq          bigint NOT NULL,
    kind         text NOT NULL,
    payload      json NOT NULL,
    attempts     integer NOT NULL,
    next_attempt timestamptz NOT NULL,
    last_error   text NOT NULL,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    done_at      timestamptz
);

CREATE INDEX report_outbox_due ON report_outbox (next_attempt, seq) WHERE done_at IS NULL;

CREATE TABLE leases (
    name       text PRIMARY KEY,
    holder     text NOT NULL,
    expires_at timestamptz NOT NULL
);

CREATE TABLE drift_state (
    resource   text PRIMARY KEY,
    roles      json NOT NULL,
    digest     text NOT NULL,
    commit_sha text NOT NULL,
    sid        text NOT NULL,
    since      timestamptz,
    checked_at timestamptz NOT NULL
);

CREATE TABLE cursors (
    name       text PRIMARY KEY,
    value      text NOT NULL,
    updated_at timestamptz NOT NULL
);
