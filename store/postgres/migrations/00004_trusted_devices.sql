-- Trusted devices of the Hanko face (hanko.mfa.device_trust_*): a device
-- that passed a second factor skips it until expires_at. token_hash is the
-- SHA-256 of the secret half of the device cookie; the cookie itself is
-- never stored.

-- +goose Up
CREATE TABLE trusted_devices (
    id          TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    identity_id TEXT COLLATE "C" NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    token_hash  BYTEA NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX trusted_devices_identity_id_idx ON trusted_devices (identity_id, created_at, id);

-- +goose Down
DROP TABLE trusted_devices;
