-- The Hanko face's records on MySQL and MariaDB: the audit log, webhooks
-- created through the admin API and the webhook delivery queue. Ids are
-- ASCII with binary collation, as in 00001.

-- +goose Up
CREATE TABLE audit_logs (
    id            VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    type          VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    error         TEXT NOT NULL,
    request_id    VARCHAR(255) NOT NULL,
    source_ip     VARCHAR(64) NOT NULL,
    user_agent    TEXT NOT NULL,
    actor_user_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    actor_email   VARCHAR(512) NOT NULL,
    created_at    DATETIME(6) NOT NULL,
    updated_at    DATETIME(6) NOT NULL,
    KEY audit_logs_created_at_idx (created_at, id),
    KEY audit_logs_actor_user_id_idx (actor_user_id, created_at),
    KEY audit_logs_actor_email_idx (actor_email, created_at),
    KEY audit_logs_type_idx (type, created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE webhooks (
    id         VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    callback   TEXT NOT NULL,
    events     TEXT NOT NULL,
    enabled    BOOLEAN NOT NULL,
    failures   INT NOT NULL,
    expires_at DATETIME(6) NULL,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    KEY webhooks_created_at_idx (created_at, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE webhook_deliveries (
    id           VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    webhook_id   VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
    callback     TEXT NOT NULL,
    event        VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    data         LONGTEXT NULL,
    status       VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    attempts     INT NOT NULL,
    last_error   TEXT NOT NULL,
    next_attempt DATETIME(6) NULL,
    created_at   DATETIME(6) NOT NULL,
    updated_at   DATETIME(6) NOT NULL,
    KEY webhook_deliveries_claim_idx (status, next_attempt),
    KEY webhook_deliveries_lease_idx (status, updated_at),
    KEY webhook_deliveries_created_at_idx (created_at, id),
    KEY webhook_deliveries_webhook_id_idx (webhook_id),
    CONSTRAINT webhook_deliveries_webhook_fk FOREIGN KEY (webhook_id) REFERENCES webhooks (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- +goose Down
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
DROP TABLE audit_logs;
