package ratelimit

import (
	"context"
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
	hits, err := d.windows(events)
	if err != nil {
		return nil, false, false, err
	}
	if err := rule.check(); err != nil {
		return nil, false, false, err
	}
	now := d.now()
	seen := store.CounterWindow{Key: hashKey(d.secret, rule, key), Window: rule.Window}
	counts, cur, prev, err := d.counters.HitAllSeeing(ctx, hits, seen, now)
	if err != nil {
		return nil, false, false, fmt.Errorf("rate limit: %w", err)
	}
	out := make([]Decision, len(events))
	for i, e := range events {
		_, end := store.CounterWindowOf(now, e.Rule.Window)
		out[i] = decide(e.Rule, counts[i], end, now)
	}
	return out, cur > 0 || prev > 0, cur > 0, nil
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
