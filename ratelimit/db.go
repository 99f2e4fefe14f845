package ratelimit

import (
	"context"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/store"
)

// Counters is what DB needs of the store; store.Store and store.Tx satisfy
// it.
type Counters interface {
	// Hit atomically adds one to the counter key in the fixed window of
	// length window containing now and returns the new count and the end of
	// the window.
	Hit(ctx context.Context, key string, window time.Duration, now time.Time) (int64, time.Time, error)
	// CountHits returns the count of key in the fixed window of length
	// window containing now, without changing it.
	CountHits(ctx context.Context, key string, window time.Duration, now time.Time) (int64, time.Time, error)
	// Unhit takes one back from the count of key in the fixed window of
	// length window containing now, never below zero.
	Unhit(ctx context.Context, key string, window time.Duration, now time.Time) error
	// ResetCounter takes every window of key back to zero hits (it may
	// keep their rows, at zero, until DeleteExpiredCounters removes them).
	ResetCounter(ctx context.Context, key string) error
	// HitAll is Hit of several counters at once, returning the new counts
	// in the order given.
	HitAll(ctx context.Context, hits []store.CounterWindow, now time.Time) ([]int64, error)
	// UnhitAll is Unhit of several counters at once.
	UnhitAll(ctx context.Context, hits []store.CounterWindow, now time.Time) error
	// HitAllSeeing is HitAll that also returns the counts of seen in the
	// fixed window containing now and in the one before it (RecentHits),
	// read with the hits.
	HitAllSeeing(ctx context.Context, hits []store.CounterWindow, seen store.CounterWindow, now time.Time) (counts []int64, current, previous int64, err error)
	// RecentHits returns the counts of key in the fixed window containing
	// now and in the one before it.
	RecentHits(ctx context.Context, key string, window time.Duration, now time.Time) (current, previous int64, err error)
}

// DB is a fixed-window limiter over the store's counters, shared by every
// replica on the same database. An event is allowed while the count in the
// current window is at most the rule's limit.
//
// Counting through a store.Store commits at once; counting through the
// store.Tx of a flow step (flow.Context.Tx) commits or rolls back with the
// step. Inside a step always count through its Tx: using the outer store
// there would deadlock on SQLite.
type DB struct {
	counters Counters
	now      func() time.Time
	secret   []byte
}

// NewDB returns a limiter over c. now is the clock (time.Now when nil);
// secret keys the hash of stored keys and should come from the server's
// secrets (nil gives an unkeyed hash).
func NewDB(c Counters, now func() time.Time, secret []byte) *DB {
	if now == nil {
		now = time.Now
	}
	return &DB{counters: c, now: now, secret: secret}
}

// Allow implements Limiter.
func (d *DB) Allow(ctx context.Context, rule Rule, key string) (Decision, error) {
	if err := rule.check(); err != nil {
		return Decision{}, err
	}
	now := d.now()
	count, resetAt, err := d.counters.Hit(ctx, hashKey(d.secret, rule, key), rule.Window, now)
	if err != nil {
		return Decision{}, fmt.Errorf("rate limit %s: %w", rule.Name, err)
	}
	return decide(rule, count, resetAt, now), nil
}

// decide is the decision for the count'th event of a window ending at
// resetAt.
func decide(rule Rule, count int64, resetAt, now time.Time) Decision {
	if count <= int64(rule.Limit) {
		return Decision{Allowed: true, Remaining: rule.Limit - int(count)}
	}
	retry := resetAt.Sub(now)
	if retry < 0 {
		retry = 0
	}
	return Decision{Allowed: false, Remaining: 0, RetryAfter: retry}
}

// Undo implements Limiter: it takes one back from the current window.
func (d *DB) Undo(ctx context.Context, rule Rule, key string) error {
	if err := rule.check(); err != nil {
		return err
	}
	if err := d.counters.Unhit(ctx, hashKey(d.secret, rule, key), rule.Window, d.now()); err != nil {
		return fmt.Errorf("rate limit %s: %w", rule.Name, err)
	}
	return nil
}

// Seen implements Limiter: it looks at the current window and the one
// before it (one read), so an event is seen for at least one whole window.
func (d *DB) Seen(ctx context.Context, rule Rule, key string) (bool, error) {
	seen, _, err := d.SeenNow(ctx, rule, key)
	return seen, err
}

// Reset implements Limiter.
func (d *DB) Reset(ctx context.Context, rule Rule, key string) error {
	if err := d.counters.ResetCounter(ctx, hashKey(d.secret, rule, key)); err != nil {
		return fmt.Errorf("reset rate limit %s: %w", rule.Name, err)
	}
	return nil
}
