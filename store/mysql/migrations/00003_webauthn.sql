-- WebAuthn credentials on MySQL and MariaDB: one table for passkeys and
-- security keys (mfa_only), shared by both faces. id is the credential id,
-- base64url without padding (a credential id is at most 1023 bytes, so at
-- most 1364 characters), ASCII with binary collation as the ids in 00001.

-- +goose Up
CREATE TABLE webauthn_credentials (
    id               VARCHAR(1400) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    identity_id      VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    user_handle      VARBINARY(64) NOT NULL,
    public_key       BLOB NOT NULL,
    attestation_type VARCHAR(64) NOT NULL,
    aaguid           VARBINARY(16) NULL,
    sign_count       BIGINT NOT NULL,
    clone_warning    BOOLEAN NOT NULL,
    transports       TEXT NOT NULL,
    backup_eligible  BOOLEAN NOT NULL,
    backup_state     BOOLEAN NOT NULL,
    user_verified    BOOLEAN NOT NULL,
    attachment       VARCHAR(32) NOT NULL,
    display_name     VARCHAR(1024) NOT NULL,
    mfa_only         BOOLEAN NOT NULL,
    created_at       DATETIME(6) NOT NULL,
    updated_at       DATETIME(6) NOT NULL,
    last_used_at     DATETIME(6) NULL,
    KEY webauthn_credentials_identity_id_idx (identity_id, created_at, id(64)),
    CONSTRAINT webauthn_credentials_identity_fk FOREIGN KEY (identity_id) REFERENCES identities (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- +goose Down
DROP TABLE webauthn_credentials;
