package ratelimit

import (
	"context"
	"fmt"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// Redis is a limiter shared by replicas through Redis, using the GCRA
// algorithm of github.com/go-redis/redis_rate: the rule's limit is the burst
// and the rate refills it evenly over the window. Time is Redis' own clock,
// so it cannot be injected.
type Redis struct {
	lim    *redis_rate.Limiter
	secret []byte
}

// NewRedis returns a limiter over rdb; secret keys the hash of stored keys.
func NewRedis(rdb redis.UniversalClient, secret []byte) *Redis {
	return &Redis{lim: redis_rate.NewLimiter(rdb), secret: secret}
}

// Allow implements Limiter.
func (r *Redis) Allow(ctx context.Context, rule Rule, key string) (Decision, error) {
	if err := rule.check(); err != nil {
		return Decision{}, err
	}
	res, err := r.lim.Allow(ctx, hashKey(r.secret, rule, key), r.limit(rule))
	if err != nil {
		return Decision{}, fmt.Errorf("rate limit %s: redis: %w", rule.Name, err)
	}
	d := Decision{Allowed: res.Allowed > 0, Remaining: res.Remaining}
	if !d.Allowed && res.RetryAfter > 0 {
		d.RetryAfter = res.RetryAfter
	}
	return d, nil
}

// Undo implements Limiter: a negative cost moves the key's theoretical
// arrival time back by one event; when that empties the key it is removed.
func (r *Redis) Undo(ctx context.Context, rule Rule, key string) error {
	if err := rule.check(); err != nil {
		return err
	}
	k := hashKey(r.secret, rule, key)
	res, err := r.lim.AllowN(ctx, k, r.limit(rule), -1)
	if err != nil {
		return fmt.Errorf("undo rate limit %s: redis: %w", rule.Name, err)
	}
	if res.ResetAfter <= 0 {
		// The script leaves a key it would set to the past; drop it.
		if err := r.lim.Reset(ctx, k); err != nil {
			return fmt.Errorf("undo rate limit %s: redis: %w", rule.Name, err)
		}
	}
	return nil
}

// Seen implements Limiter: a zero-cost call reads the key's state.
func (r *Redis) Seen(ctx context.Context, rule Rule, key string) (bool, error) {
	if err := rule.check(); err != nil {
		return false, err
	}
	res, err := r.lim.AllowN(ctx, hashKey(r.secret, rule, key), r.limit(rule), 0)
	if err != nil {
		return false, fmt.Errorf("rate limit %s: redis: %w", rule.Name, err)
	}
	return res.Remaining < rule.Limit, nil
}

func (r *Redis) limit(rule Rule) redis_rate.Limit {
	return redis_rate.Limit{Rate: rule.Limit, Burst: rule.Limit, Period: rule.Window}
}

// Reset implements Limiter.
func (r *Redis) Reset(ctx context.Context, rule Rule, key string) error {
	if err := r.lim.Reset(ctx, hashKey(r.secret, rule, key)); err != nil {
		return fmt.Errorf("reset rate limit %s: redis: %w", rule.Name, err)
	}
	return nil
}
