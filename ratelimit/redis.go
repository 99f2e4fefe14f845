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
	res, err := r.lim.Allow(ctx, hashKey(r.secret, rule, key), redis_rate.Limit{
		Rate: rule.Limit, Burst: rule.Limit, Period: rule.Window,
	})
	if err != nil {
		return Decision{}, fmt.Errorf("rate limit %s: redis: %w", rule.Name, err)
	}
	d := Decision{Allowed: res.Allowed > 0, Remaining: res.Remaining}
	if !d.Allowed && res.RetryAfter > 0 {
		d.RetryAfter = res.RetryAfter
	}
	return d, nil
}

// Reset implements Limiter.
func (r *Redis) Reset(ctx context.Context, rule Rule, key string) error {
	if err := r.lim.Reset(ctx, hashKey(r.secret, rule, key)); err != nil {
		return fmt.Errorf("reset rate limit %s: redis: %w", rule.Name, err)
	}
	return nil
}
