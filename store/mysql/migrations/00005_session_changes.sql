-- The session change log: every write that changes what a session check
-- answers (a session revoked, extended, stepped up, touched or deleted; an
-- identity, its addresses, credentials or WebAuthn credentials changed or
-- deleted) appends a row here in the same transaction. Each serving
-- process reads the rows after the last one it saw, once per
-- session.cache.sync_interval, and drops its cached session checks for
-- them (session/cache.go). identity_id or session_id may be empty (not
-- both): empty identity_id names one session, empty session_id every
-- session of the identity. The clean-up sweep removes old rows.

-- +goose Up
CREATE TABLE session_changes (
    id          BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    identity_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT '',
    session_id  VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT '',
    changed_at  DATETIME(6) NOT NULL,
    KEY session_changes_changed_at_idx (changed_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- +goose Down
DROP TABLE session_changes;
