package store

import (
	"context"
	"time"
)

// SessionChange is one row of the session change log: a committed write
// that changed what a session check answers. Every backend appends one, in
// the writing transaction, for each UpdateSession, RevokeSessions (that
// revoked any), DeleteSession, DeleteIdentitySessions (that deleted any),
// UpdateIdentity, DeleteIdentity and WebAuthn credential create, update or
// delete. Sessions that only expire (and DeleteSessionsExpiredBefore) are
// not logged: a session check compares expires_at itself.
type SessionChange struct {
	ID         int64  // ascending in insertion order; gaps are possible
	IdentityID string // every session of this identity; empty: only SessionID
	SessionID  string // this session; empty: every session of IdentityID
}

// SessionChangeLog reads the session change log; the session check cache
// of each serving process polls it (session.Cache). Every backend
// implements it beside Store (the conformance suite checks).
type SessionChangeLog interface {
	// LastSessionChange returns the highest change id, 0 when the log is
	// empty.
	LastSessionChange(ctx context.Context) (int64, error)
	// SessionChangesAfter returns at most limit changes with an id greater
	// than after, in ascending id order.
	SessionChangesAfter(ctx context.Context, after int64, limit int) ([]SessionChange, error)
	// OnSessionChanges makes the store call fn, after each transaction
	// that appended changes has committed, with those changes (their ID is
	// zero): the writing process learns of its own writes at once. Call it
	// before the store is used; fn must not block.
	OnSessionChanges(fn func([]SessionChange))
	// DeleteSessionChangesBefore removes at most limit changes appended
	// before t (a Maintenance sweep, see there).
	DeleteSessionChangesBefore(ctx context.Context, t time.Time, limit int) (int, error)
}
