package sqlstore

import (
	"context"
	"time"

	"github.com/latchkey/latchkey/core"
	"github.com/latchkey/latchkey/store"
)

// The methods below shadow the embedded read-handle ops: every write, and
// every read that must see its own writes (ClaimMessages), runs in its own
// transaction on the write handle.

// CreateIdentity implements store.Identities in its own transaction.
func (s *Store) CreateIdentity(ctx context.Context, i *core.Identity) error {
	return s.inTx(ctx, func(o *ops) error { return o.CreateIdentity(ctx, i) })
}

// UpdateIdentity implements store.Identities in its own transaction.
func (s *Store) UpdateIdentity(ctx context.Context, i *core.Identity) error {
	return s.inTx(ctx, func(o *ops) error { return o.UpdateIdentity(ctx, i) })
}

// DeleteIdentity implements store.Identities in its own transaction.
func (s *Store) DeleteIdentity(ctx context.Context, id string) error {
	return s.inTx(ctx, func(o *ops) error { return o.DeleteIdentity(ctx, id) })
}

// CreateSession implements store.Sessions in its own transaction.
func (s *Store) CreateSession(ctx context.Context, sess *core.Session) error {
	return s.inTx(ctx, func(o *ops) error { return o.CreateSession(ctx, sess) })
}

// UpdateSessionMethodsIf implements store.Sessions in its own transaction.
func (s *Store) UpdateSessionMethodsIf(ctx context.Context, sess *core.Session, seen time.Time) (bool, error) {
	var ok bool
	err := s.inTx(ctx, func(o *ops) error {
		var err error
		ok, err = o.UpdateSessionMethodsIf(ctx, sess, seen)
		return err
	})
	return ok, err
}

// UpdateSession implements store.Sessions in its own transaction.
func (s *Store) UpdateSession(ctx context.Context, sess *core.Session) error {
	return s.inTx(ctx, func(o *ops) error { return o.UpdateSession(ctx, sess) })
}

// RevokeSessions implements store.Sessions in its own transaction.
func (s *Store) RevokeSessions(ctx context.Context, identityID, exceptID string) (n int, err error) {
	err = s.inTx(ctx, func(o *ops) error {
		n, err = o.RevokeSessions(ctx, identityID, exceptID)
		return err
	})
	return n, err
}

// DeleteSession implements store.Sessions in its own transaction.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	return s.inTx(ctx, func(o *ops) error { return o.DeleteSession(ctx, id) })
}

// DeleteIdentitySessions implements store.Sessions in its own transaction.
func (s *Store) DeleteIdentitySessions(ctx context.Context, identityID string) (n int, err error) {
	err = s.inTx(ctx, func(o *ops) error {
		n, err = o.DeleteIdentitySessions(ctx, identityID)
		return err
	})
	return n, err
}

// CreateFlow implements store.Flows in its own transaction.
func (s *Store) CreateFlow(ctx context.Context, f *core.Flow) error {
	return s.inTx(ctx, func(o *ops) error { return o.CreateFlow(ctx, f) })
}

// UpdateFlow implements store.Flows in its own transaction. f.Version is
// advanced only when the transaction commits.
func (s *Store) UpdateFlow(ctx context.Context, f *core.Flow) error {
	if f == nil {
		return s.ops.UpdateFlow(ctx, nil)
	}
	g := *f
	err := s.inTx(ctx, func(o *ops) error {
		g.Version = f.Version // a retried attempt starts from the caller's version
		return o.UpdateFlow(ctx, &g)
	})
	if err == nil {
		f.Version = g.Version
	}
	return err
}

// DeleteFlow implements store.Flows in its own transaction.
func (s *Store) DeleteFlow(ctx context.Context, id string) error {
	return s.inTx(ctx, func(o *ops) error { return o.DeleteFlow(ctx, id) })
}

// DeleteExpiredFlows implements store.Flows in its own transaction.
func (s *Store) DeleteExpiredFlows(ctx context.Context, t time.Time) (n int, err error) {
	err = s.inTx(ctx, func(o *ops) error {
		n, err = o.DeleteExpiredFlows(ctx, t)
		return err
	})
	return n, err
}

// CreateMessage implements store.Messages in its own transaction.
func (s *Store) CreateMessage(ctx context.Context, m *core.Message) error {
	return s.inTx(ctx, func(o *ops) error { return o.CreateMessage(ctx, m) })
}

// ClaimMessages implements store.Messages in its own transaction.
func (s *Store) ClaimMessages(ctx context.Context, now time.Time, lease time.Duration, limit int) (list []core.Message, err error) {
	err = s.inClaimTx(ctx, func(o *ops) error {
		list, err = o.ClaimMessages(ctx, now, lease, limit)
		return err
	})
	if err != nil {
		return nil, err
	}
	return list, nil
}

// UpdateMessage implements store.Messages in its own transaction.
func (s *Store) UpdateMessage(ctx context.Context, m *core.Message) error {
	return s.inTx(ctx, func(o *ops) error { return o.UpdateMessage(ctx, m) })
}

// AddDispatch implements store.Messages in its own transaction.
func (s *Store) AddDispatch(ctx context.Context, d *core.Dispatch) error {
	return s.inTx(ctx, func(o *ops) error { return o.AddDispatch(ctx, d) })
}

// CreateKey implements store.Keys in its own transaction.
func (s *Store) CreateKey(ctx context.Context, k *core.SigningKey) error {
	return s.inTx(ctx, func(o *ops) error { return o.CreateKey(ctx, k) })
}

// DeleteKey implements store.Keys in its own transaction.
func (s *Store) DeleteKey(ctx context.Context, id string) error {
	return s.inTx(ctx, func(o *ops) error { return o.DeleteKey(ctx, id) })
}

// Hit implements store.Counters in its own transaction.
func (s *Store) Hit(ctx context.Context, key string, window time.Duration, now time.Time) (n int64, resetAt time.Time, err error) {
	err = s.inTx(ctx, func(o *ops) error {
		n, resetAt, err = o.Hit(ctx, key, window, now)
		return err
	})
	return n, resetAt, err
}

// CountHits implements store.Counters in its own transaction.
func (s *Store) CountHits(ctx context.Context, key string, window time.Duration, now time.Time) (n int64, resetAt time.Time, err error) {
	err = s.inTx(ctx, func(o *ops) error {
		n, resetAt, err = o.CountHits(ctx, key, window, now)
		return err
	})
	return n, resetAt, err
}

// HitAll implements store.Counters in its own transaction.
func (s *Store) HitAll(ctx context.Context, hits []store.CounterWindow, now time.Time) (counts []int64, err error) {
	err = s.inTx(ctx, func(o *ops) error {
		counts, err = o.HitAll(ctx, hits, now)
		return err
	})
	return counts, err
}

// HitAllSeeing implements store.Counters in its own transaction.
func (s *Store) HitAllSeeing(ctx context.Context, hits []store.CounterWindow, seen store.CounterWindow, now time.Time) (counts []int64, cur, prev int64, err error) {
	err = s.inTx(ctx, func(o *ops) error {
		counts, cur, prev, err = o.HitAllSeeing(ctx, hits, seen, now)
		return err
	})
	return counts, cur, prev, err
}

// UnhitAll implements store.Counters in its own transaction.
func (s *Store) UnhitAll(ctx context.Context, hits []store.CounterWindow, now time.Time) error {
	return s.inTx(ctx, func(o *ops) error { return o.UnhitAll(ctx, hits, now) })
}

// Unhit implements store.Counters in its own transaction.
func (s *Store) Unhit(ctx context.Context, key string, window time.Duration, now time.Time) error {
	return s.inTx(ctx, func(o *ops) error { return o.Unhit(ctx, key, window, now) })
}

// ResetCounter implements store.Counters in its own transaction.
func (s *Store) ResetCounter(ctx context.Context, key string) error {
	return s.inTx(ctx, func(o *ops) error { return o.ResetCounter(ctx, key) })
}

// DeleteExpiredCounters implements store.Counters in its own transaction.
func (s *Store) DeleteExpiredCounters(ctx context.Context, t time.Time) (n int, err error) {
	err = s.inTx(ctx, func(o *ops) error {
		n, err = o.DeleteExpiredCounters(ctx, t)
		return err
	})
	return n, err
}

// CreateWebAuthnCredential implements store.WebAuthnCredentials in its own
// transaction.
func (s *Store) CreateWebAuthnCredential(ctx context.Context, c *core.WebAuthnCredential) error {
	return s.inTx(ctx, func(o *ops) error { return o.CreateWebAuthnCredential(ctx, c) })
}

// UpdateWebAuthnCredential implements store.WebAuthnCredentials in its own
// transaction.
func (s *Store) UpdateWebAuthnCredential(ctx context.Context, c *core.WebAuthnCredential) error {
	return s.inTx(ctx, func(o *ops) error { return o.UpdateWebAuthnCredential(ctx, c) })
}

// DeleteWebAuthnCredential implements store.WebAuthnCredentials in its own
// transaction.
func (s *Store) DeleteWebAuthnCredential(ctx context.Context, identityID, id string) error {
	return s.inTx(ctx, func(o *ops) error { return o.DeleteWebAuthnCredential(ctx, identityID, id) })
}

// CreateTrustedDevice implements store.TrustedDevices in its own
// transaction (the insert and the clean-up of the identity's devices).
func (s *Store) CreateTrustedDevice(ctx context.Context, d *store.TrustedDevice, keep int) error {
	return s.inTx(ctx, func(o *ops) error { return o.CreateTrustedDevice(ctx, d, keep) })
}
