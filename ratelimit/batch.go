package ratelimit

import (
	"context"
	"errors"
	"fmt"

	"github.com/latchkey/latchkey/store"
)

// RuleKey is one event: a rule and the key it counts under.
type RuleKey struct {
	Rule Rule
	Key  string
}

// Batcher is a Limiter whose backend counts several events in one round
// trip (DB: one statement). Policy uses it when its limiter has it; a
// limiter wrapping another (a metrics decorator) has it when what it wraps
// does.
type Batcher interface {
	Limiter
	// AllowAll counts one event for each of events, allowed or refused
	// (as DB's Allow: a refused event stays counted), and returns the
	// decisions in the order of events. The events' keys under their
	// rules must differ. Nothing is counted when it fails.
	AllowAll(ctx context.Context, events []RuleKey) ([]Decision, error)
	// UndoAll is Undo of each of events.
	UndoAll(ctx context.Context, events []RuleKey) error
	// SeenNow is Seen that also reports whether the event seen was counted
	// in the current window, where one more changes nothing Seen answers
	// until the window after next.
	SeenNow(ctx context.Context, rule Rule, key string) (seen, now bool, err error)
	// AllowAllSeeing is AllowAll of events (at least one) and SeenNow of
	// (rule, key), which events must not hold, in one round trip (DB: one
	// statement on SQLite and PostgreSQL).
	AllowAllSeeing(ctx context.Context, events []RuleKey, rule Rule, key string) (ds []Decision, seen, now bool, err error)
}

// AllowAll implements Batcher: one upsert of every counter.
func (d *DB) AllowAll(ctx context.Context, events []RuleKey) ([]Decision, error) {
	hits, err := d.windows(events)
	if err != nil {
		return nil, err
	}
	now := d.now()
	counts, err := d.counters.HitAll(ctx, hits, now)
	if err != nil {
		return nil, fmt.Errorf("rate limit: %w", err)
	}
	out := make([]Decision, len(events))
	for i, e := range events {
		_, end := store.CounterWindowOf(now, e.Rule.Window)
		out[i] = decide(e.Rule, counts[i], end, now)
	}
	return out, nil
}

// Transactor is a Limiter that runs several calls in one transaction of its
// store (a DB over a store.Store), so that they commit once.
type Transactor interface {
	Limiter
	// InOneTx calls fn with the limiter bound to one transaction, or with
	// itself when it counts through one already (a store.Tx).
	InOneTx(ctx context.Context, fn func(l Limiter) error) error
}

// InOneTx implements Transactor.
func (d *DB) InOneTx(ctx context.Context, fn func(l Limiter) error) error {
	if u, ok := d.counters.(interface {
		Update(ctx context.Context, fn func(tx store.Tx) error) error
	}); ok {
		return u.Update(ctx, func(tx store.Tx) error { return fn(d.In(tx)) })
	}
	return fn(d)
}

// AllowAllSeeing implements Batcher: one upsert of every counter that also
// reads the current and the previous window of the counter seen.
func (d *DB) AllowAllSeeing(ctx context.Context, events []RuleKey, rule Rule, key string) ([]Decision, bool, bool, error) {
	ds, seen, now, _, err := d.allowAllSeeing(ctx, events, rule, key, nil)
	return ds, seen, now, err
}

// ErrNoClaim is returned by a Claimer that cannot hit claims in the
// caller's transaction; nothing was counted, and the caller counts and
// claims the usual way.
var ErrNoClaim = errors.New("rate limit: claims are hit only in the caller's transaction")

// Claimer is a Batcher that also hits store counters given as they are
// (one-time claims, such as a TOTP code's time step) in AllowAllSeeing's
// round trip, inside the caller's transaction, so that they commit or roll
// back with the attempt. A limiter wrapping another has it when what it
// wraps does (else its AllowAllSeeingClaiming returns ErrNoClaim).
type Claimer interface {
	Batcher
	// AllowAllSeeingClaiming is AllowAllSeeing that also hits each of
	// claims (keys used as they are, windows placed by CounterWindow.Span)
	// and returns their new counts in the order given. It returns
	// ErrNoClaim, having counted nothing, when the limiter does not count
	// through a transaction.
	AllowAllSeeingClaiming(ctx context.Context, events []RuleKey, rule Rule, key string, claims []store.CounterWindow) (ds []Decision, seen, now bool, claimed []int64, err error)
}

// AllowAllSeeingClaiming implements Claimer: the claims are hit in the
// upsert of the events' counters (DB.AllowAllSeeing). A DB counting
// through the store itself (not a transaction: In) returns ErrNoClaim.
func (d *DB) AllowAllSeeingClaiming(ctx context.Context, events []RuleKey, rule Rule, key string, claims []store.CounterWindow) ([]Decision, bool, bool, []int64, error) {
	if _, ok := d.counters.(interface {
		Update(ctx context.Context, fn func(tx store.Tx) error) error
	}); ok {
		return nil, false, false, nil, ErrNoClaim
	}
	return d.allowAllSeeing(ctx, events, rule, key, claims)
}

// allowAllSeeing is AllowAllSeeing that also hits claims.
func (d *DB) allowAllSeeing(ctx context.Context, events []RuleKey, rule Rule, key string, claims []store.CounterWindow) ([]Decision, bool, bool, []int64, error) {
	hits, err := d.windows(events)
	if err != nil {
		return nil, false, false, nil, err
	}
	if err := rule.check(); err != nil {
		return nil, false, false, nil, err
	}
	now := d.now()
	seen := store.CounterWindow{Key: hashKey(d.secret, rule, key), Window: rule.Window}
	counts, cur, prev, err := d.counters.HitAllSeeing(ctx, append(hits, claims...), seen, now)
	if err != nil {
		return nil, false, false, nil, fmt.Errorf("rate limit: %w", err)
	}
	out := make([]Decision, len(events))
	for i, e := range events {
		_, end := store.CounterWindowOf(now, e.Rule.Window)
		out[i] = decide(e.Rule, counts[i], end, now)
	}
	var claimed []int64
	if len(claims) > 0 {
		claimed = counts[len(events):]
	}
	return out, cur > 0 || prev > 0, cur > 0, claimed, nil
}

// windows checks the events' rules and returns their counters.
func (d *DB) windows(events []RuleKey) ([]store.CounterWindow, error) {
	hits := make([]store.CounterWindow, len(events))
	for i, e := range events {
		if err := e.Rule.check(); err != nil {
			return nil, err
		}
		hits[i] = store.CounterWindow{Key: hashKey(d.secret, e.Rule, e.Key), Window: e.Rule.Window}
	}
	return hits, nil
}

// UndoAll implements Batcher: one update of every counter.
func (d *DB) UndoAll(ctx context.Context, events []RuleKey) error {
	hits, err := d.windows(events)
	if err != nil {
		return err
	}
	if err := d.counters.UnhitAll(ctx, hits, d.now()); err != nil {
		return fmt.Errorf("undo rate limit: %w", err)
	}
	return nil
}

// SeenNow implements Batcher: one read of the current and the previous
// window.
func (d *DB) SeenNow(ctx context.Context, rule Rule, key string) (bool, bool, error) {
	if err := rule.check(); err != nil {
		return false, false, err
	}
	cur, prev, err := d.counters.RecentHits(ctx, hashKey(d.secret, rule, key), rule.Window, d.now())
	if err != nil {
		return false, false, fmt.Errorf("rate limit %s: %w", rule.Name, err)
	}
	return cur > 0 || prev > 0, cur > 0, nil
}
