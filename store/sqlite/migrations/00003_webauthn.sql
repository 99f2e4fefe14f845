-- WebAuthn credentials on SQLite: one table for passkeys and security keys
-- (mfa_only), shared by both faces. id is the credential id, base64url
-- without padding. Times are TEXT in the fixed-width UTC form, as in 00001.

-- +goose Up
CREATE TABLE webauthn_credentials (
    id               TEXT PRIMARY KEY NOT NULL,
    identity_id      TEXT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    user_handle      BLOB NOT NULL,
    public_key       BLOB NOT NULL,
    attestation_type TEXT NOT NULL DEFAULT '',
    aaguid           BLOB,
    sign_count       INTEGER NOT NULL DEFAULT 0,
    clone_warning    INTEGER NOT NULL DEFAULT 0,
    transports       TEXT NOT NULL DEFAULT '[]',
    backup_eligible  INTEGER NOT NULL DEFAULT 0,
    backup_state     INTEGER NOT NULL DEFAULT 0,
    user_verified    INTEGER NOT NULL DEFAULT 0,
    attachment       TEXT NOT NULL DEFAULT '',
    display_name     TEXT NOT NULL DEFAULT '',
    mfa_only         INTEGER NOT NULL DEFAULT 0,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL,
    last_used_at     TIMESTAMP
);
CREATE INDEX webauthn_credentials_identity_id_idx ON webauthn_credentials (identity_id, created_at, id);

-- +goose Down
DROP TABLE webauthn_credentials;
