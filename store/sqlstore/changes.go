package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/store"
)

var _ store.SessionChangeLog = (*Store)(nil)

// logChange appends a row to the session change log in o's transaction and
// remembers it for the store's listener. It must be called only inside a
// transaction (every write runs in one).
func (o *ops) logChange(ctx context.Context, identityID, sessionID string) error {
	if o.changes == nil {
		return errors.New("session change log: write outside a transaction")
	}
	if _, err := o.exec(ctx, `INSERT INTO session_changes (identity_id, session_id, changed_at) VALUES (?, ?, ?)`,
		identityID, sessionID, o.d.timeArg(time.Now())); err != nil {
		return fmt.Errorf("append session change: %w", err)
	}
	*o.changes = append(*o.changes, store.SessionChange{IdentityID: identityID, SessionID: sessionID})
	return nil
}

// OnSessionChanges implements store.SessionChangeLog.
func (s *Store) OnSessionChanges(fn func([]store.SessionChange)) { s.onChange = fn }

// LastSessionChange implements store.SessionChangeLog.
func (s *Store) LastSessionChange(ctx context.Context) (int64, error) {
	var n int64
	if err := s.ops.queryRow(ctx, `SELECT COALESCE(MAX(id), 0) FROM session_changes`).Scan(&n); err != nil {
		return 0, fmt.Errorf("last session change: %w", err)
	}
	return n, nil
}

// SessionChangesAfter implements store.SessionChangeLog.
func (s *Store) SessionChangesAfter(ctx context.Context, after int64, limit int) ([]store.SessionChange, error) {
	if limit <= 0 {
		return nil, errors.New("session changes: the limit must be positive")
	}
	rows, err := s.ops.query(ctx, `SELECT id, identity_id, session_id FROM session_changes WHERE id > ? ORDER BY id LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("session changes: %w", err)
	}
	defer rows.Close()
	var out []store.SessionChange
	for rows.Next() {
		var c store.SessionChange
		if err := rows.Scan(&c.ID, &c.IdentityID, &c.SessionID); err != nil {
			return nil, fmt.Errorf("session changes: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("session changes: %w", err)
	}
	return out, nil
}

// DeleteSessionChangesBefore implements store.SessionChangeLog.
func (s *Store) DeleteSessionChangesBefore(ctx context.Context, t time.Time, limit int) (int, error) {
	return s.deleteBatch(ctx, "old session changes", "session_changes", "changed_at < ?", limit, s.d.timeArg(t))
}
