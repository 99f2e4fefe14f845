-- Initial Latchkey schema for SQLite. Times are TEXT in the fixed-width UTC
-- form "2006-01-02 15:04:05.000000", so they sort and compare as text.

-- +goose Up
CREATE TABLE identities (
    id               TEXT PRIMARY KEY NOT NULL,
    schema_id        TEXT NOT NULL,
    traits           TEXT,
    state            TEXT NOT NULL,
    state_changed_at TIMESTAMP,
    metadata_public  TEXT,
    metadata_admin   TEXT,
    metadata_unsafe  TEXT,
    external_id      TEXT UNIQUE,
    organization_id  TEXT,
    locale           TEXT NOT NULL DEFAULT '',
    created_at       TIMESTAMP,
    updated_at       TIMESTAMP
);
CREATE INDEX identities_organization_id_idx ON identities (organization_id);

CREATE TABLE identity_addresses (
    id          TEXT PRIMARY KEY NOT NULL,
    identity_id TEXT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    via         TEXT NOT NULL,
    value       TEXT NOT NULL,
    verified    INTEGER NOT NULL DEFAULT 0,
    verified_at TIMESTAMP,
    status      TEXT NOT NULL DEFAULT '',
    is_primary  INTEGER NOT NULL DEFAULT 0,
    verifiable  INTEGER NOT NULL DEFAULT 0,
    recovery    INTEGER NOT NULL DEFAULT 0,
    created_at  TIMESTAMP,
    updated_at  TIMESTAMP,
    UNIQUE (via, value)
);
CREATE INDEX identity_addresses_identity_id_idx ON identity_addresses (identity_id);

CREATE TABLE identity_credentials (
    id          TEXT PRIMARY KEY NOT NULL,
    identity_id TEXT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    type        TEXT NOT NULL,
    config      TEXT,
    version     INTEGER NOT NULL DEFAULT 0,
    created_at  TIMESTAMP,
    updated_at  TIMESTAMP,
    UNIQUE (identity_id, type)
);

CREATE TABLE identity_credential_identifiers (
    credential_type TEXT NOT NULL,
    identifier      TEXT NOT NULL,
    credential_id   TEXT NOT NULL REFERENCES identity_credentials (id) ON DELETE CASCADE,
    identity_id     TEXT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    PRIMARY KEY (credential_type, identifier)
);
CREATE INDEX identity_credential_identifiers_identifier_idx ON identity_credential_identifiers (identifier);
CREATE INDEX identity_credential_identifiers_credential_id_idx ON identity_credential_identifiers (credential_id);
CREATE INDEX identity_credential_identifiers_identity_id_idx ON identity_credential_identifiers (identity_id);

CREATE TABLE sessions (
    id                TEXT PRIMARY KEY NOT NULL,
    identity_id       TEXT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    token_hash        BLOB NOT NULL,
    logout_token_hash BLOB,
    active            INTEGER NOT NULL DEFAULT 0,
    aal               TEXT NOT NULL DEFAULT '',
    methods           TEXT NOT NULL DEFAULT '[]',
    devices           TEXT NOT NULL DEFAULT '[]',
    issued_at         TIMESTAMP,
    authenticated_at  TIMESTAMP,
    expires_at        TIMESTAMP,
    created_at        TIMESTAMP,
    updated_at        TIMESTAMP
);
CREATE UNIQUE INDEX sessions_token_hash_idx ON sessions (token_hash);
CREATE INDEX sessions_logout_token_hash_idx ON sessions (logout_token_hash);
CREATE INDEX sessions_identity_id_idx ON sessions (identity_id, created_at, id);
CREATE INDEX sessions_created_at_idx ON sessions (created_at, id);

CREATE TABLE flows (
    id          TEXT PRIMARY KEY NOT NULL,
    kind        TEXT NOT NULL,
    face        TEXT NOT NULL DEFAULT '',
    type        TEXT NOT NULL DEFAULT '',
    state       TEXT NOT NULL DEFAULT '',
    stash       TEXT,
    csrf_token  TEXT NOT NULL DEFAULT '',
    identity_id TEXT,
    version     INTEGER NOT NULL,
    expires_at  TIMESTAMP,
    created_at  TIMESTAMP,
    updated_at  TIMESTAMP
);
CREATE INDEX flows_expires_at_idx ON flows (expires_at);

CREATE TABLE courier_messages (
    id            TEXT PRIMARY KEY NOT NULL,
    channel       TEXT NOT NULL,
    recipient     TEXT NOT NULL,
    subject       TEXT NOT NULL DEFAULT '',
    body          TEXT NOT NULL DEFAULT '',
    html_body     TEXT NOT NULL DEFAULT '',
    template_type TEXT NOT NULL DEFAULT '',
    template_data TEXT,
    status        TEXT NOT NULL,
    send_count    INTEGER NOT NULL DEFAULT 0,
    next_attempt  TIMESTAMP,
    created_at    TIMESTAMP,
    updated_at    TIMESTAMP
);
CREATE INDEX courier_messages_claim_idx ON courier_messages (status, next_attempt);
CREATE INDEX courier_messages_lease_idx ON courier_messages (status, updated_at);
CREATE INDEX courier_messages_created_at_idx ON courier_messages (created_at, id);
CREATE INDEX courier_messages_recipient_idx ON courier_messages (recipient);

CREATE TABLE courier_message_dispatches (
    id         TEXT PRIMARY KEY NOT NULL,
    message_id TEXT NOT NULL REFERENCES courier_messages (id) ON DELETE CASCADE,
    status     TEXT NOT NULL,
    error      TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP
);
CREATE INDEX courier_message_dispatches_message_id_idx ON courier_message_dispatches (message_id, created_at);

CREATE TABLE signing_keys (
    id                    TEXT PRIMARY KEY NOT NULL,
    algorithm             TEXT NOT NULL,
    private_key_encrypted BLOB NOT NULL,
    public_jwk            BLOB NOT NULL,
    created_at            TIMESTAMP
);

CREATE TABLE rate_limit_counters (
    counter_key  TEXT NOT NULL,
    window_start TIMESTAMP NOT NULL,
    window_end   TIMESTAMP NOT NULL,
    hits         INTEGER NOT NULL,
    PRIMARY KEY (counter_key, window_start)
);
CREATE INDEX rate_limit_counters_window_end_idx ON rate_limit_counters (window_end);

-- +goose Down
DROP TABLE rate_limit_counters;
DROP TABLE signing_keys;
DROP TABLE courier_message_dispatches;
DROP TABLE courier_messages;
DROP TABLE flows;
DROP TABLE sessions;
DROP TABLE identity_credential_identifiers;
DROP TABLE identity_credentials;
DROP TABLE identity_addresses;
DROP TABLE identities;
