-- Initial Latchkey schema for MySQL and MariaDB. Ids are ASCII with binary
-- collation so they sort in byte order as on the other databases; login
-- identifiers, address values, external ids and counter keys are VARBINARY so
-- that uniqueness and prefix matching are exact (no case folding, no
-- trailing-space padding). JSON documents are LONGTEXT, kept byte for byte.

-- +goose Up
CREATE TABLE identities (
    id               VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    schema_id        VARCHAR(255) NOT NULL,
    traits           LONGTEXT NULL,
    state            VARCHAR(32) NOT NULL,
    state_changed_at DATETIME(6) NULL,
    metadata_public  LONGTEXT NULL,
    metadata_admin   LONGTEXT NULL,
    metadata_unsafe  LONGTEXT NULL,
    external_id      VARBINARY(512) NULL,
    organization_id  VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
    locale           VARCHAR(64) NOT NULL,
    created_at       DATETIME(6) NULL,
    updated_at       DATETIME(6) NULL,
    UNIQUE KEY identities_external_id_idx (external_id),
    KEY identities_organization_id_idx (organization_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE identity_addresses (
    id          VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    identity_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    via         VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    value       VARBINARY(1024) NOT NULL,
    verified    BOOLEAN NOT NULL,
    verified_at DATETIME(6) NULL,
    status      VARCHAR(32) NOT NULL,
    is_primary  BOOLEAN NOT NULL,
    verifiable  BOOLEAN NOT NULL,
    recovery    BOOLEAN NOT NULL,
    created_at  DATETIME(6) NULL,
    updated_at  DATETIME(6) NULL,
    UNIQUE KEY identity_addresses_via_value_idx (via, value),
    KEY identity_addresses_identity_id_idx (identity_id),
    CONSTRAINT identity_addresses_identity_fk FOREIGN KEY (identity_id) REFERENCES identities (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE identity_credentials (
    id          VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    identity_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    type        VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    config      LONGTEXT NULL,
    version     INT NOT NULL,
    created_at  DATETIME(6) NULL,
    updated_at  DATETIME(6) NULL,
    UNIQUE KEY identity_credentials_identity_type_idx (identity_id, type),
    CONSTRAINT identity_credentials_identity_fk FOREIGN KEY (identity_id) REFERENCES identities (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE identity_credential_identifiers (
    credential_type VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    identifier      VARBINARY(2048) NOT NULL,
    credential_id   VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    identity_id     VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    PRIMARY KEY (credential_type, identifier),
    KEY identity_credential_identifiers_identifier_idx (identifier),
    KEY identity_credential_identifiers_credential_id_idx (credential_id),
    KEY identity_credential_identifiers_identity_id_idx (identity_id),
    CONSTRAINT identity_credential_identifiers_credential_fk FOREIGN KEY (credential_id) REFERENCES identity_credentials (id) ON DELETE CASCADE,
    CONSTRAINT identity_credential_identifiers_identity_fk FOREIGN KEY (identity_id) REFERENCES identities (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE sessions (
    id                VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    identity_id       VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    token_hash        VARBINARY(64) NOT NULL,
    logout_token_hash VARBINARY(64) NULL,
    active            BOOLEAN NOT NULL,
    aal               VARCHAR(8) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    methods           LONGTEXT NOT NULL,
    devices           LONGTEXT NOT NULL,
    issued_at         DATETIME(6) NULL,
    authenticated_at  DATETIME(6) NULL,
    expires_at        DATETIME(6) NULL,
    created_at        DATETIME(6) NULL,
    updated_at        DATETIME(6) NULL,
    UNIQUE KEY sessions_token_hash_idx (token_hash),
    KEY sessions_logout_token_hash_idx (logout_token_hash),
    KEY sessions_identity_id_idx (identity_id, created_at, id),
    KEY sessions_created_at_idx (created_at, id),
    CONSTRAINT sessions_identity_fk FOREIGN KEY (identity_id) REFERENCES identities (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE flows (
    id          VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    kind        VARCHAR(32) NOT NULL,
    face        VARCHAR(32) NOT NULL,
    type        VARCHAR(32) NOT NULL,
    state       VARCHAR(255) NOT NULL,
    stash       LONGTEXT NULL,
    csrf_token  VARCHAR(255) NOT NULL,
    identity_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
    version     INT NOT NULL,
    expires_at  DATETIME(6) NULL,
    created_at  DATETIME(6) NULL,
    updated_at  DATETIME(6) NULL,
    KEY flows_expires_at_idx (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE courier_messages (
    id            VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    channel       VARCHAR(16) NOT NULL,
    recipient     VARCHAR(512) NOT NULL,
    subject       TEXT NOT NULL,
    body          LONGTEXT NOT NULL,
    html_body     LONGTEXT NOT NULL,
    template_type VARCHAR(128) NOT NULL,
    template_data LONGTEXT NULL,
    status        VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    send_count    INT NOT NULL,
    next_attempt  DATETIME(6) NULL,
    created_at    DATETIME(6) NULL,
    updated_at    DATETIME(6) NULL,
    KEY courier_messages_claim_idx (status, next_attempt),
    KEY courier_messages_lease_idx (status, updated_at),
    KEY courier_messages_created_at_idx (created_at, id),
    KEY courier_messages_recipient_idx (recipient)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE courier_message_dispatches (
    id         VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    message_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    status     VARCHAR(16) NOT NULL,
    error      TEXT NOT NULL,
    created_at DATETIME(6) NULL,
    KEY courier_message_dispatches_message_id_idx (message_id, created_at),
    CONSTRAINT courier_message_dispatches_message_fk FOREIGN KEY (message_id) REFERENCES courier_messages (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE signing_keys (
    id                    VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    algorithm             VARCHAR(16) NOT NULL,
    private_key_encrypted BLOB NOT NULL,
    public_jwk            BLOB NOT NULL,
    created_at            DATETIME(6) NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE rate_limit_counters (
    counter_key  VARBINARY(1024) NOT NULL,
    window_start DATETIME(6) NOT NULL,
    window_end   DATETIME(6) NOT NULL,
    hits         BIGINT NOT NULL,
    PRIMARY KEY (counter_key, window_start),
    KEY rate_limit_counters_window_end_idx (window_end)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

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
