-- The Hanko face's records on PostgreSQL: the audit log, webhooks created
-- through the admin API and the webhook delivery queue. Ids use the C
-- collation, as in 00001.

-- +goose Up
CREATE TABLE audit_logs (
    id            TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    type          TEXT NOT NULL,
    error         TEXT NOT NULL DEFAULT '',
    request_id    TEXT NOT NULL DEFAULT '',
    source_ip     TEXT NOT NULL DEFAULT '',
    user_agent    TEXT NOT NULL DEFAULT '',
    actor_user_id TEXT COLLATE "C" NOT NULL DEFAULT '',
    actor_email   TEXT NOT NULL DEFAULT '',
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX audit_logs_created_at_idx ON audit_logs (created_at, id);
CREATE INDEX audit_logs_actor_user_id_idx ON audit_logs (actor_user_id, created_at);
CREATE INDEX audit_logs_actor_email_idx ON audit_logs (actor_email, created_at);
CREATE INDEX audit_logs_type_idx ON audit_logs (type, created_at);

CREATE TABLE webhooks (
    id         TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    callback   TEXT NOT NULL,
    events     TEXT NOT NULL,
    enabled    BOOLEAN NOT NULL DEFAULT TRUE,
    failures   INTEGER NOT NULL DEFAULT 0,
    expires_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX webhooks_created_at_idx ON webhooks (created_at, id);

CREATE TABLE webhook_deliveries (
    id           TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    webhook_id   TEXT COLLATE "C" REFERENCES webhooks (id) ON DELETE CASCADE,
    callback     TEXT NOT NULL,
    event        TEXT NOT NULL,
    data         TEXT,
    status       TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT NOT NULL DEFAULT '',
    next_attempt TIMESTAMPTZ,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX webhook_deliveries_claim_idx ON webhook_deliveries (status, next_attempt);
CREATE INDEX webhook_deliveries_lease_idx ON webhook_deliveries (status, updated_at);
CREATE INDEX webhook_deliveries_created_at_idx ON webhook_deliveries (created_at, id);
CREATE INDEX webhook_deliveries_webhook_id_idx ON webhook_deliveries (webhook_id);

-- +goose Down
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
DROP TABLE audit_logs;
