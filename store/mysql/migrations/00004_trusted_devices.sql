-- Trusted devices of the Hanko face (hanko.mfa.device_trust_*): a device
-- that passed a second factor skips it until expires_at. token_hash is the
-- SHA-256 of the secret half of the device cookie; the cookie itself is
-- never stored.

-- +goose Up
CREATE TABLE trusted_devices (
    id          VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    identity_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    token_hash  VARBINARY(64) NOT NULL,
    expires_at  DATETIME(6) NOT NULL,
    created_at  DATETIME(6) NOT NULL,
    KEY trusted_devices_identity_id_idx (identity_id, created_at, id),
    CONSTRAINT trusted_devices_identity_fk FOREIGN KEY (identity_id) REFERENCES identities (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- +goose Down
DROP TABLE trusted_devices;
