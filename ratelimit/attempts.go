package ratelimit

import (
	"context"
	"time"
)

// Attempts counts attempts under one rule: it adapts a Limiter and a Rule to
// the "attempt, then how long to wait" shape a credential method asks for
// (method/password's Limiter). Each call to Attempt counts one attempt.
type Attempts struct {
	Limiter Limiter
	Rule    Rule
}

// Attempt counts one attempt for key. It returns zero while the rule allows
// the attempt, otherwise how long until it would be allowed (at least one
// second, so a client never sees "retry after 0"). It returns the Limiter's
// error (wrapping ErrInvalidRule for a bad rule, or the backend's error)
// unchanged.
func (a Attempts) Attempt(ctx context.Context, key string) (time.Duration, error) {
	d, err := a.Limiter.Allow(ctx, a.Rule, key)
	if err != nil {
		return 0, err
	}
	if !d.Allowed {
		return max(d.RetryAfter, time.Second), nil
	}
	return 0, nil
}

// In returns a limiter like d (same clock, same key secret) that counts
// through c instead. Inside a flow step pass the step's transaction
// (flow.Context.Tx): the counts then commit or roll back with the step, and
// SQLite is not asked for a second writer while the step holds the first.
func (d *DB) In(c Counters) *DB {
	return &DB{counters: c, now: d.now, secret: d.secret}
}

// InTx returns l bound to c when l counts through the store (a *DB), and l
// itself otherwise (Local and Redis keep their counts outside the store).
// It is how a caller holding any Limiter counts inside a transaction.
func InTx(l Limiter, c Counters) Limiter {
	switch v := l.(type) {
	case *DB:
		return v.In(c)
	case TxBinder:
		return v.InTx(c)
	}
	return l
}

// TxBinder is a Limiter wrapping another (a metrics decorator, say) that
// passes InTx on to what it wraps, so wrapping a *DB does not make it count
// outside the caller's transaction (which on SQLite waits for the
// transaction's own write lock forever).
type TxBinder interface {
	Limiter
	// InTx returns the wrapper around InTx(wrapped, c).
	InTx(c Counters) Limiter
}
