// Package ratelimit limits how often something may happen per IP address,
// identifier or flow, and how many attempts a one-time code accepts.
//
// Every limiter implements [Limiter]: Allow(ctx, rule, key) counts one event
// for key under rule and says whether it is allowed, how many remain and when
// to retry. Three implementations share that interface:
//
//   - [DB] counts in fixed windows through the store's counters, so every
//     replica over the same database shares the limits (the default when
//     several replicas run and no Redis is configured);
//   - [Local] keeps token buckets (golang.org/x/time/rate) in process memory,
//     for a single process;
//   - [Redis] uses GCRA through github.com/go-redis/redis_rate, for many
//     replicas with a Redis.
//
// Keys never hold the identifier itself: the key a limiter stores is the
// rule's name and an HMAC-SHA-256 of the caller's key under a server secret,
// so neither the database nor Redis learns e-mail addresses or IP addresses.
//
// An attempt limit ("a code accepts at most 5 submissions") is a rule whose
// window covers the code's lifetime, keyed by the code's id:
//
//	var CodeAttempts = ratelimit.Rule{Name: "code_attempts", Limit: 5, Window: 15 * time.Minute}
package ratelimit
