-- Indexes for the clean-up sweeps (`latchkey cleanup`, serve's sweeper):
-- sessions by expiry; finished courier messages and web-hook deliveries are
-- found through the existing (status, updated_at) lease indexes.

-- +goose Up
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);

-- +goose Down
DROP INDEX sessions_expires_at_idx;
