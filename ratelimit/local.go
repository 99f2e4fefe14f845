package ratelimit

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// sweepEvery is how many calls pass between sweeps of idle buckets.
const sweepEvery = 1024

// Local is an in-process limiter for a single process: a token bucket per
// key (golang.org/x/time/rate) holding the rule's limit and refilling it
// evenly over the window. Unlike DB it smooths bursts across window
// boundaries. Buckets idle for a whole window (hence full again) are
// dropped, so memory follows the active keys.
type Local struct {
	mu      sync.Mutex
	now     func() time.Time
	secret  []byte
	buckets map[string]*bucket
	calls   int
}

type bucket struct {
	lim    *rate.Limiter
	window time.Duration
	last   time.Time
}

// NewLocal returns an in-process limiter. now is the clock (time.Now when
// nil); secret keys the hash of the keys held in memory (nil is fine).
func NewLocal(now func() time.Time, secret []byte) *Local {
	if now == nil {
		now = time.Now
	}
	return &Local{now: now, secret: secret, buckets: make(map[string]*bucket)}
}

// Allow implements Limiter; it never fails except for an invalid rule.
func (l *Local) Allow(_ context.Context, rule Rule, key string) (Decision, error) {
	if err := rule.check(); err != nil {
		return Decision{}, err
	}
	now := l.now()
	k := hashKey(l.secret, rule, key)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	b, ok := l.buckets[k]
	if !ok || b.window != rule.Window || b.lim.Burst() != rule.Limit {
		every := rate.Limit(float64(rule.Limit) / rule.Window.Seconds())
		b = &bucket{lim: rate.NewLimiter(every, rule.Limit), window: rule.Window}
		l.buckets[k] = b
	}
	b.last = now
	r := b.lim.ReserveN(now, 1)
	if !r.OK() {
		return Decision{Allowed: false}, nil
	}
	if delay := r.DelayFrom(now); delay > 0 {
		r.CancelAt(now)
		return Decision{Allowed: false, RetryAfter: delay}, nil
	}
	remaining := int(b.lim.TokensAt(now))
	if remaining < 0 {
		remaining = 0
	}
	return Decision{Allowed: true, Remaining: remaining}, nil
}

// Undo implements Limiter: the key's bucket gets one token back (never more
// than the rule's limit). It never fails except for an invalid rule.
func (l *Local) Undo(_ context.Context, rule Rule, key string) error {
	if err := rule.check(); err != nil {
		return err
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if b, ok := l.buckets[hashKey(l.secret, rule, key)]; ok && b.window == rule.Window && b.lim.Burst() == rule.Limit {
		// A negative reservation returns a token; the bucket caps its
		// tokens at the burst when it next advances.
		b.lim.ReserveN(now, -1)
	}
	return nil
}

// Seen implements Limiter: a key is seen while its bucket is not full. It
// never fails except for an invalid rule.
func (l *Local) Seen(_ context.Context, rule Rule, key string) (bool, error) {
	if err := rule.check(); err != nil {
		return false, err
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[hashKey(l.secret, rule, key)]
	if !ok || b.window != rule.Window || b.lim.Burst() != rule.Limit {
		return false, nil
	}
	return b.lim.TokensAt(now) < float64(rule.Limit), nil
}

// Reset implements Limiter; it never fails.
func (l *Local) Reset(_ context.Context, rule Rule, key string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.buckets, hashKey(l.secret, rule, key))
	return nil
}

// sweep drops buckets idle for at least their window; l.mu is held.
func (l *Local) sweep(now time.Time) {
	l.calls++
	if l.calls%sweepEvery != 0 {
		return
	}
	for k, b := range l.buckets {
		if now.Sub(b.last) >= b.window {
			delete(l.buckets, k)
		}
	}
}

// size returns how many buckets are held (for tests).
func (l *Local) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
