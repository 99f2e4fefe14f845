-- WebAuthn credentials on PostgreSQL: one table for passkeys and security
-- keys (mfa_only), shared by both faces. id is the credential id, base64url
-- without padding. Ids use the C collation, as in 00001.

-- +goose Up
CREATE TABLE webauthn_credentials (
    id               TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    identity_id      TEXT COLLATE "C" NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    user_handle      BYTEA NOT NULL,
    public_key       BYTEA NOT NULL,
    attestation_type TEXT NOT NULL DEFAULT '',
    aaguid           BYTEA,
    sign_count       BIGINT NOT NULL DEFAULT 0,
    clone_warning    BOOLEAN NOT NULL DEFAULT FALSE,
    transports       TEXT NOT NULL DEFAULT '[]',
    backup_eligible  BOOLEAN NOT NULL DEFAULT FALSE,
    backup_state     BOOLEAN NOT NULL DEFAULT FALSE,
    user_verified    BOOLEAN NOT NULL DEFAULT FALSE,
    attachment       TEXT NOT NULL DEFAULT '',
    display_name     TEXT NOT NULL DEFAULT '',
    mfa_only         BOOLEAN NOT NULL DEFAULT FALSE,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    last_used_at     TIMESTAMPTZ
);
CREATE INDEX webauthn_credentials_identity_id_idx ON webauthn_credentials (identity_id, created_at, id);

-- +goose Down
DROP TABLE webauthn_credentials;
