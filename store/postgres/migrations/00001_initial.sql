-- Initial Latchkey schema for PostgreSQL. Ids and identifiers use the C
-- collation so that ordering is byte order, as on the other databases, and
-- prefix LIKE can use the b-tree indexes.

-- +goose Up
CREATE TABLE identities (
    id               TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    schema_id        TEXT NOT NULL,
    traits           JSON,
    state            TEXT NOT NULL,
    state_changed_at TIMESTAMPTZ,
    metadata_public  JSON,
    metadata_admin   JSON,
    metadata_unsafe  JSON,
    external_id      TEXT COLLATE "C" UNIQUE,
    organization_id  TEXT,
    locale           TEXT NOT NULL DEFAULT '',
    created_at       TIMESTAMPTZ,
    updated_at       TIMESTAMPTZ
);
CREATE INDEX identities_organization_id_idx ON identities (organization_id);

CREATE TABLE identity_addresses (
    id          TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    identity_id TEXT COLLATE "C" NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    via         TEXT NOT NULL,
    value       TEXT COLLATE "C" NOT NULL,
    verified    BOOLEAN NOT NULL DEFAULT FALSE,
    verified_at TIMESTAMPTZ,
    status      TEXT NOT NULL DEFAULT '',
    is_primary  BOOLEAN NOT NULL DEFAULT FALSE,
    verifiable  BOOLEAN NOT NULL DEFAULT FALSE,
    recovery    BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  TIMESTAMPTZ,
    updated_at  TIMESTAMPTZ,
    UNIQUE (via, value)
);
CREATE INDEX identity_addresses_identity_id_idx ON identity_addresses (identity_id);

CREATE TABLE identity_credentials (
    id          TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    identity_id TEXT COLLATE "C" NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    type        TEXT NOT NULL,
    config      JSON,
    version     INTEGER NOT NULL DEFAULT 0,
    created_at  TIMESTAMPTZ,
    updated_at  TIMESTAMPTZ,
    UNIQUE (identity_id, type)
);

CREATE TABLE identity_credential_identifiers (
    credential_type TEXT NOT NULL,
    identifier      TEXT COLLATE "C" NOT NULL,
    credential_id   TEXT COLLATE "C" NOT NULL REFERENCES identity_credentials (id) ON DELETE CASCADE,
    identity_id     TEXT COLLATE "C" NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    PRIMARY KEY (credential_type, identifier)
);
CREATE INDEX identity_credential_identifiers_identifier_idx ON identity_credential_identifiers (identifier);
CREATE INDEX identity_credential_identifiers_credential_id_idx ON identity_credential_identifiers (credential_id);
CREATE INDEX identity_credential_identifiers_identity_id_idx ON identity_credential_identifiers (identity_id);

CREATE TABLE sessions (
    id                TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    identity_id       TEXT COLLATE "C" NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    token_hash        BYTEA NOT NULL,
    logout_token_hash BYTEA,
    active            BOOLEAN NOT NULL DEFAULT FALSE,
    aal               TEXT NOT NULL DEFAULT '',
    methods           JSON NOT NULL DEFAULT '[]',
    devices           JSON NOT NULL DEFAULT '[]',
    issued_at         TIMESTAMPTZ,
    authenticated_at  TIMESTAMPTZ,
    expires_at        TIMESTAMPTZ,
    created_at        TIMESTAMPTZ,
    updated_at        TIMESTAMPTZ
);
CREATE UNIQUE INDEX sessions_token_hash_idx ON sessions (token_hash);
CREATE INDEX sessions_logout_token_hash_idx ON sessions (logout_token_hash);
CREATE INDEX sessions_identity_id_idx ON sessions (identity_id, created_at, id);
CREATE INDEX sessions_created_at_idx ON sessions (created_at, id);

CREATE TABLE flows (
    id          TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    kind        TEXT NOT NULL,
    face        TEXT NOT NULL DEFAULT '',
    type        TEXT NOT NULL DEFAULT '',
    state       TEXT NOT NULL DEFAULT '',
    stash       JSON,
    csrf_token  TEXT NOT NULL DEFAULT '',
    identity_id TEXT COLLATE "C",
    version     INTEGER NOT NULL,
    expires_at  TIMESTAMPTZ,
    created_at  TIMESTAMPTZ,
    updated_at  TIMESTAMPTZ
);
CREATE INDEX flows_expires_at_idx ON flows (expires_at);

CREATE TABLE courier_messages (
    id            TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    channel       TEXT NOT NULL,
    recipient     TEXT COLLATE "C" NOT NULL,
    subject       TEXT NOT NULL DEFAULT '',
    body          TEXT NOT NULL DEFAULT '',
    html_body     TEXT NOT NULL DEFAULT '',
    template_type TEXT NOT NULL DEFAULT '',
    template_data JSON,
    status        TEXT NOT NULL,
    send_count    INTEGER NOT NULL DEFAULT 0,
    next_attempt  TIMESTAMPTZ,
    created_at    TIMESTAMPTZ,
    updated_at    TIMESTAMPTZ
);
CREATE INDEX courier_messages_claim_idx ON courier_messages (status, next_attempt);
CREATE INDEX courier_messages_lease_idx ON courier_messages (status, updated_at);
CREATE INDEX courier_messages_created_at_idx ON courier_messages (created_at, id);
CREATE INDEX courier_messages_recipient_idx ON courier_messages (recipient);

CREATE TABLE courier_message_dispatches (
    id         TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    message_id TEXT COLLATE "C" NOT NULL REFERENCES courier_messages (id) ON DELETE CASCADE,
    status     TEXT NOT NULL,
    error      TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ
);
CREATE INDEX courier_message_dispatches_message_id_idx ON courier_message_dispatches (message_id, created_at);

CREATE TABLE signing_keys (
    id                    TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    algorithm             TEXT NOT NULL,
    private_key_encrypted BYTEA NOT NULL,
    public_jwk            BYTEA NOT NULL,
    created_at            TIMESTAMPTZ
);

CREATE TABLE rate_limit_counters (
    counter_key  TEXT COLLATE "C" NOT NULL,
    window_start TIMESTAMPTZ NOT NULL,
    window_end   TIMESTAMPTZ NOT NULL,
    hits         BIGINT NOT NULL,
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
