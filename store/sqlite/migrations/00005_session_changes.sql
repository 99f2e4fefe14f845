-- The session change log: every write that changes what a session check
-- answers (a session revoked, extended, stepped up, touched or deleted; an
-- identity, its addresses, credentials or WebAuthn credentials changed or
-- deleted) appends a row here in the same transaction. Each serving
-- process reads the rows after the last one it saw, once per
-- session.cache.sync_interval, and drops its cached session checks for
-- them (session/cache.go). identity_id or session_id may be empty (not
-- both): empty identity_id names one session, empty session_id every
-- session of the identity. The clean-up sweep removes old rows.
-- AUTOINCREMENT: ids never go back, even after the newest rows are swept.

-- +goose Up
CREATE TABLE session_changes (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    identity_id TEXT NOT NULL DEFAULT '',
    session_id  TEXT NOT NULL DEFAULT '',
    changed_at  TIMESTAMP NOT NULL
);
CREATE INDEX session_changes_changed_at_idx ON session_changes (changed_at);

-- +goose Down
DROP TABLE session_changes;
